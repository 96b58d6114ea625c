/**
 * Run logs: the entries a run's runner appends, bounded per run, and the reads of them.
 *
 * Entries live under the job's partition (`log#<run_id>#<seq>`), so one query reads a run's output
 * in order; a meta item per run (`logrun#<run_id>`) counts the bytes stored against the bound.
 */
import type { StoreConfig } from '../core/config.ts';
import { logCounted, logMetaAsSeen, logRoom, newLogSeqs, unconditional } from './conditions.ts';
import type { StoreContext } from './context.ts';
import type { Stored } from './dynamo.ts';
import { InvalidArgumentError, StoreBusyError } from './errors.ts';
import { and, type Change } from './expressions.ts';
import { keyOf, pastRetention, seconds } from './item.ts';
import {
  type ItemKey,
  jobKey,
  LOG_RUN_PREFIX,
  logKey,
  logRunEnd,
  logRunKey,
  MAX_LOG_SEQ,
  utf8Bytes,
} from './keys.ts';
import { LIMITS, type LogEntry, type LogEntryInput, type LogStream } from './model.ts';
import type { Page } from './reads.ts';

export interface AppendLogsResult {
  /** Entries of this call that are stored (a retried append counts them again). */
  readonly stored: number;
  /** The run's log reached its bound; further appends are dropped, so a runner may stop sending. */
  readonly truncated: boolean;
}

/** A stored log entry. */
interface LogEntryItem extends ItemKey {
  readonly run_id: string;
  readonly attempt: number;
  readonly seq: number;
  readonly stream: LogStream;
  readonly text: string;
  readonly at: number;
  readonly expires_at: number;
  readonly truncated?: true;
}

/** A run's log meta item: what its entries hold, and where its log was cut. */
interface LogRunItem extends ItemKey {
  readonly queue: string;
  readonly id: string;
  readonly run_id: string;
  readonly attempt: number;
  /** Bytes of text stored. */
  readonly bytes: number;
  /** The `seq` high-water mark: one past the last entry counted. */
  readonly next_seq: number;
  /** First append: orders a job's runs. */
  readonly started_at: number;
  readonly expires_at: number;
  /** The `seq` of the marker that stands for everything dropped. */
  readonly truncated_at?: number;
  /** Bytes dropped from the front (`keepLogTail`). */
  readonly dropped_bytes?: number;
}

/** Entry puts need no condition: each is a fact keyed by the caller's `seq`. */
const factsBySeq = unconditional(
  "log entries are facts keyed by the caller's seq: a retried append rewrites the same entries",
);

/**
 * Log items expire `retention + the 12 h timeout cap` after they are written: no read of the job
 * is needed, and a run's logs outlive a job that ends within that time.
 */
const logExpiry = (config: StoreConfig, now: number): number =>
  seconds(now) + config.retentionSeconds + LIMITS.maxManagedTimeoutSeconds;

/**
 * Stores a run's output entries. What a run may store is bounded by `LIMITS.runLogBytes` of text,
 * counted on its meta item with a conditional add. A batch below the counted `seq` high-water mark
 * is a retry and is not counted again; appends of one run are therefore expected in `seq` order,
 * as one runner sends them. The first entry that does not fit is replaced by a `truncated` marker
 * and everything after it is dropped.
 */
export async function appendLogs(
  ctx: StoreContext,
  queue: string,
  id: string,
  runId: string,
  attempt: number,
  entries: readonly LogEntryInput[],
): Promise<AppendLogsResult> {
  entries.forEach((entry, i) => {
    const previous = entries[i - 1];
    const valid = Number.isInteger(entry.seq) && entry.seq >= 0 && entry.seq <= MAX_LOG_SEQ;
    if (!valid || (previous && previous.seq >= entry.seq)) {
      throw new InvalidArgumentError(
        'entries',
        `log entry seq must be ascending integers in [0, ${MAX_LOG_SEQ}]`,
      );
    }
  });
  if (!entries.length) return { stored: 0, truncated: false };
  const now = ctx.clock();
  const expiresAt = logExpiry(ctx.config, now);
  const run = { queue, id, runId, attempt, expiresAt };
  const { keep, truncatedAt, cut } = await countLogs(ctx, run, entries, now);
  const items = keep.map((entry) => entryItem(run, entry));
  if (truncatedAt !== undefined) {
    const marker = {
      seq: truncatedAt,
      stream: 'stderr' as const,
      text: `[relay] output truncated: this run's log reached ${LIMITS.runLogBytes / 1024} KiB`,
      at: now,
    };
    items.push(entryItem(run, marker, true));
  }
  await ctx.db.batchPut(items, factsBySeq);
  return { stored: keep.length, truncated: cut };
}

/**
 * Makes a run's stored log its last `LIMITS.runLogBytes`: the run printed more than the bound, so
 * what was stored while it ran (its head) is replaced by a marker saying how much was dropped
 * from the front, and the tail. Called once the run's output is complete; entries keep their
 * `seq`, so a follower's cursor still moves forward. The new entries are written before the old
 * ones are deleted: a reader in between sees both, never neither.
 */
export async function keepLogTail(
  ctx: StoreContext,
  queue: string,
  id: string,
  runId: string,
  attempt: number,
  tail: { readonly droppedBytes: number; readonly entries: readonly LogEntryInput[] },
): Promise<void> {
  const first = tail.entries[0];
  if (!first) return;
  const run = { queue, id, runId, attempt, expiresAt: logExpiry(ctx.config, ctx.clock()) };
  const stored = await ctx.db.queryAll<ItemKey>({
    partition: jobKey(queue, id).pk,
    range: { between: [logKey(queue, id, runId, 0).sk, logRunEnd(runId)] },
    attributes: ['pk', 'sk'],
  });
  const marker: LogEntryInput = {
    // Just before the tail: every entry before it was the head, dropped below.
    seq: Math.max(0, first.seq - 1),
    stream: 'stderr',
    text: `[relay] output truncated: ${tail.droppedBytes} bytes dropped from the front; this log keeps the run's last ${LIMITS.runLogBytes / 1024} KiB\n`,
    at: first.at,
  };
  const entries = first.seq > 0 ? [marker, ...tail.entries] : tail.entries;
  const items = entries.map((entry) => entryItem(run, entry, entry === marker));
  await ctx.db.batchPut(items, factsBySeq);
  const kept = new Set(items.map((item) => item.sk));
  const head = stored.filter((item) => !kept.has(item.sk)).map(keyOf);
  await ctx.db.batchDelete(
    head,
    unconditional('the head of a cut log, already replaced by its tail, which was written first'),
  );
  const bytes = tail.entries.reduce((n, e) => n + utf8Bytes(e.text), 0);
  // A run that never appended has no count to correct: the refusal leaves nothing to do.
  await ctx.db.update<LogRunItem>(logRunKey(queue, id, runId), logCounted, {
    set: { bytes, dropped_bytes: tail.droppedBytes, truncated_at: marker.seq },
  });
}

interface RunRef {
  readonly queue: string;
  readonly id: string;
  readonly runId: string;
  readonly attempt: number;
  readonly expiresAt: number;
}

function entryItem(run: RunRef, entry: LogEntryInput, truncated = false): LogEntryItem {
  return {
    ...logKey(run.queue, run.id, run.runId, entry.seq),
    run_id: run.runId,
    attempt: run.attempt,
    seq: entry.seq,
    stream: entry.stream,
    text: entry.text,
    at: entry.at,
    expires_at: run.expiresAt,
    ...(truncated ? { truncated: true as const } : {}),
  };
}

/**
 * Counts an append against the run's bound and decides what of it is stored: `keep`, plus a
 * marker at `truncatedAt` when this append is where the log was cut; `cut` says the run's log is
 * cut (here or before). A retried append re-stores what its first attempt kept. Concurrent appends
 * of one run retry on the meta item's condition.
 */
async function countLogs(
  ctx: StoreContext,
  run: RunRef,
  entries: readonly LogEntryInput[],
  now: number,
): Promise<{ keep: readonly LogEntryInput[]; truncatedAt?: number; cut: boolean }> {
  const key = logRunKey(run.queue, run.id, run.runId);
  const first = (entries[0] as LogEntryInput).seq;
  const last = (entries[entries.length - 1] as LogEntryInput).seq;
  const textBytes = (list: readonly LogEntryInput[]) => list.reduce((n, e) => n + utf8Bytes(e.text), 0);
  const counted = (bytes: number, cutAt?: number): Change<LogRunItem> => ({
    set: {
      queue: run.queue,
      id: run.id,
      run_id: run.runId,
      attempt: run.attempt,
      next_seq: last + 1,
      expires_at: run.expiresAt,
      truncated_at: cutAt,
    },
    keep: { started_at: now },
    add: { bytes },
  });
  const total = textBytes(entries);
  let seen: LogRunItem | undefined;
  if (total <= LIMITS.runLogBytes) {
    // Usually the whole append fits: count it without reading the meta item first.
    const written = await ctx.db.update(key, and(newLogSeqs(first), logRoom(total)), counted(total));
    if (written.ok) return { keep: entries, cut: false };
    seen = written.old;
  } else {
    seen = await ctx.db.get<LogRunItem>(key);
  }
  for (let round = 0; round < 8; round++) {
    const cutAt = seen?.truncated_at;
    if (seen && seen.next_seq > first) {
      // A retry of a counted append: store again what it kept, and its marker if it made the cut.
      const kept = entries.filter((e) => cutAt === undefined || e.seq < cutAt);
      const marker = cutAt !== undefined && cutAt >= first && cutAt <= last ? cutAt : undefined;
      return { keep: kept, truncatedAt: marker, cut: cutAt !== undefined };
    }
    if (cutAt !== undefined) return { keep: [], cut: true }; // cut by an earlier append: drop
    let room = LIMITS.runLogBytes - (seen?.bytes ?? 0);
    const keep: LogEntryInput[] = [];
    for (const entry of entries) {
      room -= utf8Bytes(entry.text);
      if (room < 0) break;
      keep.push(entry);
    }
    const cut = keep.length < entries.length ? (entries[keep.length] as LogEntryInput).seq : undefined;
    const written = await ctx.db.update(key, logMetaAsSeen(seen), counted(textBytes(keep), cut));
    if (written.ok) return { keep, truncatedAt: cut, cut: cut !== undefined };
    seen = written.old; // another append of this run counted first
  }
  throw new StoreBusyError(1);
}

/**
 * A job's log entries in order: one run's, or every run's oldest run first (by its first append).
 * `after` is the cursor of an earlier page; the returned cursor is where the next page (or the
 * next poll of `--follow`) starts, and stays at `after` when there is nothing new.
 */
export async function readLogs(
  ctx: StoreContext,
  queue: string,
  id: string,
  opts: { runId?: string; after?: string; limit: number },
): Promise<Page<LogEntry>> {
  const pk = jobKey(queue, id).pk;
  const from = opts.after === undefined ? undefined : parseLogCursor(opts.after);
  let runs = opts.runId === undefined ? await logRuns(ctx, pk) : [opts.runId];
  const resumeAt = from ? runs.indexOf(from.runId) : -1;
  if (resumeAt > 0) runs = runs.slice(resumeAt);
  const items: LogEntry[] = [];
  let cursor = opts.after ?? null;
  for (const runId of runs) {
    const firstSeq = from?.runId === runId ? from.seq + 1 : 0;
    if (firstSeq > MAX_LOG_SEQ) continue;
    let startKey: Stored | undefined;
    do {
      const page = await ctx.db.query<LogEntryItem>({
        partition: pk,
        range: { between: [logKey(queue, id, runId, firstSeq).sk, logRunEnd(runId)] },
        startKey,
        limit: opts.limit - items.length,
      });
      for (const item of page.items) {
        if (!pastRetention(item, ctx.clock())) items.push(toLogEntry(item));
        cursor = logCursor(runId, item.seq);
      }
      startKey = page.lastKey;
    } while (startKey && items.length < opts.limit);
    if (items.length >= opts.limit) break;
  }
  return { items, cursor };
}

/** Run ids that stored logs for a job, oldest first (by first append, then attempt). */
async function logRuns(ctx: StoreContext, pk: string): Promise<string[]> {
  const metas = await ctx.db.queryAll<LogRunItem>({ partition: pk, range: { prefix: LOG_RUN_PREFIX } });
  return metas
    .filter((m) => !pastRetention(m, ctx.clock()))
    .sort((a, b) => a.started_at - b.started_at || a.attempt - b.attempt)
    .map((m) => m.run_id);
}

function toLogEntry(item: LogEntryItem): LogEntry {
  return {
    run_id: item.run_id,
    attempt: item.attempt,
    seq: item.seq,
    stream: item.stream,
    text: item.text,
    at: item.at,
    ...(item.truncated ? { truncated: true as const } : {}),
  };
}

/** A log cursor: the run and `seq` of the last entry read. Run ids hold no `#`. */
const logCursor = (runId: string, seq: number): string => `${runId}#${seq}`;

/**
 * The run and `seq` a log cursor names. It must be one `logCursor` could have written: a run id,
 * `#`, and a `seq` in decimal digits no larger than a log key holds.
 */
export function parseLogCursor(cursor: string): { runId: string; seq: number } {
  const at = cursor.lastIndexOf('#');
  const digits = cursor.slice(at + 1);
  const seq = Number(digits);
  if (at <= 0 || !/^\d{1,10}$/.test(digits) || seq > MAX_LOG_SEQ) {
    throw new InvalidArgumentError('after', `invalid log cursor: ${cursor}`);
  }
  return { runId: cursor.slice(0, at), seq };
}
