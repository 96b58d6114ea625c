/**
 * Every condition a write of the store carries, each named after the rule it enforces, and what
 * a failed one means in domain terms.
 *
 * The gateway (`dynamo.ts`) takes no write without a `Guard`: one of these conditions, or an
 * explicit `unconditional('why')`. docs/design.md ("Who may make which transition") names, for
 * each transition, the condition below that makes it safe to run concurrently.
 */
import { InvalidTransitionError, JobNotFoundError, LeaseLostError } from './errors.ts';
import { and, type Condition, condition, or } from './expressions.ts';
import { type JobItem, type JobRef, pastRetention } from './item.ts';
import { type JobKind, LIMITS, LIVE, NOT_RUNNING, type StoredStatus, WAITING } from './model.ts';

/** A write that needs no condition, and why: the reason is part of the call, for the reader. */
export interface Unconditional {
  readonly unconditional: string;
}

/** What a write requires of the item it changes. */
export type Guard = Condition | Unconditional;

export const unconditional = (why: string): Unconditional => ({ unconditional: why });

export const isUnconditional = (guard: Guard): guard is Unconditional => 'unconditional' in guard;

// ---------------------------------------------------------------------------------------------
// Ids and keys
// ---------------------------------------------------------------------------------------------

/** Item exists (and so has a status); paired with status checks so a missing item reads as not found. */
export const exists = condition('attribute_exists(#pk)', ['pk']);

/** No item under the key: the first writer of a queue's layout wins, and everyone else reads it. */
export const queueUnregistered = condition('attribute_not_exists(#pk)', ['pk']);

/** The queue is registered and not paused: a pause must find the layout it pauses, and takes effect once. */
export const queueNotPaused = and(
  condition('attribute_exists(#pk)', ['pk']),
  or(
    condition('attribute_not_exists(#paused)', ['paused']),
    condition('#paused = :no', ['paused'], { ':no': false }),
  ),
);

/** The queue is paused: a resume takes effect once, and never creates a queue item without a layout. */
export const queuePaused = condition('#paused = :yes', ['paused'], { ':yes': true });

/** The queue is registered: a settings write never creates a queue item without a layout. */
export const queueRegistered = condition('attribute_exists(#pk)', ['pk']);

/** The queue still has the shards its grower read: of concurrent growers, one doubles them. */
export const queueShardsAre = (shards: number): Condition =>
  condition('#shards = :shards', ['shards'], { ':shards': shards });

/** No item, or one whose id is free again: terminal jobs and items past retention free the id. */
export const idFree = (nowSeconds: number): Condition =>
  or(
    condition('attribute_not_exists(#pk)', ['pk']),
    condition('#status IN (:completed, :dead, :cancelled)', ['status'], {
      ':completed': 'completed',
      ':dead': 'dead',
      ':cancelled': 'cancelled',
    }),
    condition('#expires_at <= :now_s', ['expires_at'], { ':now_s': nowSeconds }),
  );

/** The idempotency key was never used, or its lifetime is over (TTL deletes lazily, so check it here). */
export const keyFree = (nowSeconds: number): Condition =>
  or(
    condition('attribute_not_exists(#pk)', ['pk']),
    condition('#expires_at <= :now_s', ['expires_at'], { ':now_s': nowSeconds }),
  );

/**
 * The child a run's outcome enqueues does not exist yet. Its id is derived from the run, so this
 * holds only for the first end of that run; with the parent's `currentRun` fence in the same
 * transaction it makes on_success / on_failure exactly-once.
 */
export const childNotCreated = condition('attribute_not_exists(#pk)', ['pk']);

// ---------------------------------------------------------------------------------------------
// Kinds
// ---------------------------------------------------------------------------------------------

/** A managed job: Relay starts it on a dispatch message (`claimById`), never a pull claimer. */
export const managed = condition('#type = :shell', ['type'], { ':shell': 'SHELL' });

/**
 * A pull job. Pull claims only read `shardPk` partitions, where managed jobs never wait; the claim
 * write still says so, so no index entry (lagging, or of a replaced job) can hand one to a worker.
 */
export const pullJob = condition('attribute_not_exists(#type)', ['type']);

/**
 * The job is of the kind the caller may act on. Workers (relay-rs routes, native fail) act only on
 * pull jobs, so a principal allowed to work pull jobs can neither end a managed run nor, by failing
 * it, make its command run again; a managed run is heartbeated and ended by its own runner.
 */
export const ofKind = (kind: JobKind): Condition => (kind === 'pull' ? pullJob : managed);

/**
 * `replace` may overwrite a pull job, or an id that is free (none, ended, past retention): never a
 * live managed job, whose command a producer of pull jobs must not be able to change or drop.
 */
export const replaceable = (nowSeconds: number): Condition => or(pullJob, idFree(nowSeconds));

// ---------------------------------------------------------------------------------------------
// Statuses
// ---------------------------------------------------------------------------------------------

export const statusIn = (statuses: readonly StoredStatus[]): Condition =>
  condition(
    `#status IN (${statuses.map((s) => `:is_${s}`).join(', ')})`,
    ['status'],
    Object.fromEntries(statuses.map((s) => [`:is_${s}`, s])),
  );

/** The job is live (waiting or running): what an operator may cancel. */
export const live = and(exists, statusIn(LIVE));

/**
 * A waiting pull job: what relay-rs's DELETE deletes (a running one is completed instead). Never a
 * managed job: the relay-rs routes are the workers' and act on pull jobs only.
 */
export const waitingPullJob = and(statusIn(WAITING), pullJob);

/**
 * The job is not running: a bulk delete never takes a job from under its worker, whose run would
 * then end in errors; a running job is cancelled first.
 */
export const notRunning = and(exists, statusIn(NOT_RUNNING));

/** The job is dead: only a dead job leaves the dead-letter listing by deletion. */
export const dead = and(exists, statusIn(['dead']));

/**
 * The job was not written since it was read (`updated_at` moves on every transition): a decision
 * made from the read — its status, its kind, the message it died of — still holds when this lands.
 */
export const unchangedSince = (updatedAt: number): Condition =>
  condition('#updated_at = :seen_updated', ['updated_at'], { ':seen_updated': updatedAt });

// ---------------------------------------------------------------------------------------------
// Waiting jobs and claims
// ---------------------------------------------------------------------------------------------

/**
 * The job is still the waiting entry the claimer read from the `ready` index: the order key holds
 * priority, `run_at` and enqueue sequence, so a job rescheduled or replaced since then fails this.
 */
export const stillWaitingAs = (readySk: string, timeoutMs: number): Condition =>
  condition('#ready_sk = :seen_ready_sk AND #timeout_ms = :seen_timeout_ms', ['ready_sk', 'timeout_ms'], {
    ':seen_ready_sk': readySk,
    ':seen_timeout_ms': timeoutMs,
  });

/**
 * The job still waits under the `ready` key a unique batch wrote: a rollback deletes only its own
 * write, never a job a worker already claimed (or anyone rewrote) meanwhile.
 */
export const stillOurs = (readySk: string): Condition =>
  condition('#ready_sk = :ours', ['ready_sk'], { ':ours': readySk });

/**
 * A managed job that is waiting and due. A dispatch message may start it, and the lost-dispatch
 * repair may re-send one for it. `run_at` guards against early, stale or duplicate messages: a job
 * that failed since the message was sent waits for its backoff.
 */
export const dispatchable = (now: number): Condition =>
  and(statusIn(WAITING), condition('#run_at <= :due_at', ['run_at'], { ':due_at': now }), managed);

/** The lease length is the one read before the write: the new `lease_sk` encodes a deadline built from it. */
export const timeoutAsRead = (timeoutMs: number): Condition =>
  condition('#timeout_ms = :seen_timeout_ms', ['timeout_ms'], { ':seen_timeout_ms': timeoutMs });

// ---------------------------------------------------------------------------------------------
// Runs
// ---------------------------------------------------------------------------------------------

/** The job is running (any run): the fence of relay-rs's v1 routes, which carry no run id. */
export const inFlight = condition('#status = :running', ['status'], { ':running': 'running' });

/** The job is running this exact run: the fence that keeps a stale worker out. */
export const currentRun = (runId: string): Condition =>
  and(inFlight, condition('#run_id = :run_id', ['run_id'], { ':run_id': runId }));

/** `currentRun` when the caller names its run, `inFlight` when it does not (relay-rs v1). */
export const runFence = (runId: string | undefined): Condition =>
  runId === undefined ? inFlight : currentRun(runId);

/** The run's lease deadline has passed (heartbeats move it, so this is checked on the item itself). */
export const leaseExpired = (now: number): Condition =>
  condition('#lease_expires_at <= :now', ['lease_expires_at'], { ':now': now });

/** The lease deadline is the one read: the sweep moves the lease entry to it, not to an older one. */
export const leaseAsRead = (leaseExpiresAt: number): Condition =>
  condition('#lease_expires_at = :seen_lease', ['lease_expires_at'], { ':seen_lease': leaseExpiresAt });

/**
 * A new state of `stateBytes` fits beside the stored payload within `LIMITS.payloadStateBytes`, the
 * budget enqueue enforces; without it a large state would fail as an oversized DynamoDB item.
 */
export const fitsBeside = (stateBytes: number): Condition =>
  condition('size(#payload) <= :room', ['payload'], { ':room': LIMITS.payloadStateBytes - stateBytes });

// ---------------------------------------------------------------------------------------------
// Run logs (one meta item per run counts the bytes its entries hold)
// ---------------------------------------------------------------------------------------------

/** The appended entries start at or past every `seq` counted so far: a retried append is not counted twice. */
export const newLogSeqs = (firstSeq: number): Condition =>
  or(
    condition('attribute_not_exists(#next_seq)', ['next_seq']),
    condition('#next_seq <= :first_seq', ['next_seq'], { ':first_seq': firstSeq }),
  );

/** The run's log was not cut yet and still has room for `bytes` more (the 256 KiB bound). */
export const logRoom = (bytes: number): Condition =>
  and(
    condition('attribute_not_exists(#truncated_at)', ['truncated_at']),
    or(
      condition('attribute_not_exists(#bytes)', ['bytes']),
      condition('#bytes <= :room', ['bytes'], { ':room': LIMITS.runLogBytes - bytes }),
    ),
  );

/** The meta item is exactly what was read: the plan (what fits, where to cut) was made from it. */
export const logMetaAsSeen = (seen: { readonly next_seq: number; readonly bytes: number } | undefined) =>
  seen === undefined
    ? condition('attribute_not_exists(#pk)', ['pk'])
    : and(
        condition('#next_seq = :seen_next_seq', ['next_seq'], { ':seen_next_seq': seen.next_seq }),
        condition('#bytes = :seen_bytes', ['bytes'], { ':seen_bytes': seen.bytes }),
        condition('attribute_not_exists(#truncated_at)', ['truncated_at']),
      );

/** The run's log meta item exists: its log was counted, so keeping its tail has a count to correct. */
export const logCounted = condition('attribute_exists(#pk)', ['pk']);

// ---------------------------------------------------------------------------------------------
// Schedules
// ---------------------------------------------------------------------------------------------

/** No schedule has this name: creating one never overwrites another. */
export const scheduleNameFree = condition('attribute_not_exists(#pk)', ['pk']);

/**
 * The schedule still waits for this fire time. Every pass that read it due races to fire it; the
 * first transaction moves `next_fire_at` on, so the others fail here and enqueue nothing. A pause,
 * resume or replace moves (or removes) it too, so a pass that read the old definition fails as well.
 */
export const stillDueAt = (fireAt: number): Condition =>
  condition('#next_fire_at = :fire_at', ['next_fire_at'], { ':fire_at': fireAt });

/**
 * A schedule a route for pull jobs may replace: none yet, or one whose job is a pull job. A
 * managed schedule starts commands: a principal that may not start them may not redefine it.
 */
export const pullScheduleOrNone = or(
  condition('attribute_not_exists(#pk)', ['pk']),
  condition('#kind = :pull_kind', ['kind'], { ':pull_kind': 'pull' }),
);

/**
 * The job of a schedule's previous fire is no longer live (`overlap: skip`): checked on that job's
 * item in the fire's transaction. It is `idFree`: an id is free exactly when its job is not live.
 */
export const previousFireEnded = (nowSeconds: number): Condition => idFree(nowSeconds);

// ---------------------------------------------------------------------------------------------
// What a failed condition means
// ---------------------------------------------------------------------------------------------

/**
 * A failed run fence (`inFlight`, `currentRun`), from the item it saw: no running job (or none at
 * all) is not found; a job running another run means the caller's lease was lost.
 */
export function runFenceFailure(
  old: JobItem | undefined,
  job: JobRef,
  runId: string | undefined,
  now: number,
): JobNotFoundError | LeaseLostError {
  if (old?.status !== 'running' || pastRetention(old, now)) return new JobNotFoundError(job.queue, job.id);
  if (runId !== undefined && old.run_id !== runId) return new LeaseLostError(job.queue, job.id, runId);
  return new JobNotFoundError(job.queue, job.id);
}

/** A failed operator transition (`live`, `dead`, a status set), from the item it saw. */
export function transitionFailure(
  old: JobItem | undefined,
  job: JobRef,
  action: string,
  now: number,
): JobNotFoundError | InvalidTransitionError {
  if (!old || pastRetention(old, now)) return new JobNotFoundError(job.queue, job.id);
  return new InvalidTransitionError(action, old.status);
}

// ---------------------------------------------------------------------------------------------
// Rate limits (limits.ts)
// ---------------------------------------------------------------------------------------------

/**
 * The token bucket is full at `now`: its theoretical arrival time (`tat`) is not in the future, or
 * it was never written. Taking n tokens from a full bucket starts `tat` afresh at `now + n·I`:
 * idle time past a full bucket earns nothing, which is what caps a burst.
 */
export const bucketFull = (now: number): Condition =>
  or(condition('attribute_not_exists(#tat)', ['tat']), condition('#tat <= :now', ['tat'], { ':now': now }));

/**
 * The bucket is not full, and holds at least the tokens asked for: `tat + n·I − now ≤ capacity`,
 * written as `tat ≤ latest` with `latest = now + capacity − n·I`. This is the limit itself: a
 * refusal with `tat > latest` means the queue is over its rate.
 */
export const bucketHasRoom = (now: number, latest: number): Condition =>
  and(
    condition('#tat > :now', ['tat'], { ':now': now }),
    condition('#tat <= :latest', ['tat'], { ':latest': latest }),
  );

// ---------------------------------------------------------------------------------------------
// Concurrency limits (running.ts)
// ---------------------------------------------------------------------------------------------

/** The run slot was never held, or was given up: a claim may take it. */
export const slotUnheld = condition('attribute_not_exists(#run_id)', ['run_id']);

/**
 * The slot is still held by the ended run the claimer found in it: of two claimers taking over
 * the same stale slot, one wins.
 */
export const slotHeldBy = (runId: string): Condition =>
  condition('#run_id = :slot_run', ['run_id'], { ':slot_run': runId });

/**
 * The run a slot names is over: its job is gone, runs another run, or is not running. Checked in
 * the same transaction that takes the slot over, so a slot is never taken from a live run.
 */
export const runOver = (runId: string): Condition =>
  or(
    condition('attribute_not_exists(#pk)', ['pk']),
    condition('#run_id <> :held_run', ['run_id'], { ':held_run': runId }),
    condition('#status <> :running', ['status'], { ':running': 'running' }),
  );
