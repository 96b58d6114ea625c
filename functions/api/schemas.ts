/**
 * Wire shapes: what each API accepts (zod schemas) and what it returns (views).
 *
 * relay-rs shapes follow its serde models exactly: unknown fields are ignored, `payload` is
 * required, every output field is present with `null` for none. Relay's native shape is strict:
 * unknown fields are rejected rather than silently dropped.
 */
import * as z from 'zod';
import { utf8Bytes } from '../jobs/keys.ts';
import {
  BACKOFF_STRATEGIES,
  type Backoff,
  type ChildJobSpec,
  DEFAULT_BACKOFF,
  DEFAULTS,
  JITTERS,
  JOB_TYPES,
  type Job,
  LIMITS,
  type NewJob,
  normalizeMaxRetries,
  viewStatus,
} from '../jobs/model.ts';
import { commandSpecSchema } from '../runner/command.ts';
import { int32, priority } from './queue-schemas.ts';

// ---------------------------------------------------------------------------------------------
// Pieces
// ---------------------------------------------------------------------------------------------

declare global {
  interface String {
    /**
     * False when the string holds a lone surrogate. ES2024: Node 20 has it, the ES2023 library this
     * project compiles against does not declare it.
     */
    isWellFormed(): boolean;
  }
}

/**
 * A queue or job name, wherever it comes from: bodies, path and query parameters.
 *
 * A lone surrogate (`"\ud800"`) has no UTF-8 encoding, so it cannot reach DynamoDB intact: stored,
 * the name would collide with `"\ufffd"`, and its job could never be claimed.
 */
export const name = (what: string) =>
  z
    .string({ error: `${what} must be a string` })
    .min(1, `${what} must not be empty`)
    .refine((s) => s.isWellFormed(), `${what} must be well-formed Unicode, without lone surrogates`)
    .refine((s) => utf8Bytes(s) <= LIMITS.nameBytes, `${what} must be at most ${LIMITS.nameBytes} bytes`);

/** Present but any JSON: serde's required `payload: P`. */
const requiredJson = (what: string) =>
  z.custom<unknown>((v) => v !== undefined, { error: `missing field \`${what}\`` });

const rfc3339 = z.iso.datetime({ offset: true, error: 'must be an RFC 3339 date-time' });

/** A `run_at` as the store takes it: epoch milliseconds, and the text when finer than that. */
type RunAt = Pick<NewJob, 'run_at' | 'run_at_text'>;

/** An RFC 3339 date-time whose fraction of a second goes past milliseconds (up to nanoseconds). */
const SUB_MILLISECOND = /^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})\.(\d{3}\d*[1-9]\d*)(Z|[+-]\d{2}:\d{2})$/i;

/**
 * The `run_at` a client wrote, which `Date` read as `ms` (it drops digits past the millisecond).
 * A time finer than a millisecond (Go and Rust clients send microseconds) keeps its text, in UTC
 * with the digits sent, which the views echo as relay-rs does; its `run_at` is rounded up, so
 * ordering and due checks use a number and a job is never claimed before its time.
 */
function runAtOf(text: string, ms: number): RunAt {
  const fraction = SUB_MILLISECOND.exec(text.trim())?.[2];
  if (fraction === undefined || fraction.length > 9) return { run_at: ms };
  // An offset is whole minutes, so the fraction of a second is the same in UTC.
  return { run_at: ms + 1, run_at_text: `${new Date(ms).toISOString().slice(0, 19)}.${fraction}Z` };
}

/** 9999-12-31T23:59:59.999Z. */
const MAX_DATE_MS = 253_402_300_799_999;

/**
 * relay-rs v1's lenient `run_at` (it used the `anydate` parser): any date or date-time string
 * `Date` can read, or a unix timestamp in seconds written as a string.
 */
const anyDate = z.string().transform((value, ctx): RunAt => {
  const trimmed = value.trim();
  const unix = /^\d+(\.\d+)?$/.test(trimmed);
  const ms = unix ? Number(trimmed) * 1000 : Date.parse(trimmed);
  if (Number.isNaN(ms)) {
    ctx.addIssue({ code: 'custom', message: `could not parse \`${value}\` as a date` });
    return z.NEVER;
  }
  const runAt = unix ? { run_at: ms } : runAtOf(trimmed, ms);
  // A date JavaScript can show and DynamoDB can store as an exact number: year 9999 at the latest.
  if (ms < 0 || (runAt.run_at ?? ms) > MAX_DATE_MS) {
    ctx.addIssue({ code: 'custom', message: `\`${value}\` is not a date between 1970 and 9999` });
    return z.NEVER;
  }
  return runAt;
});

/** A strict RFC 3339 `run_at` (relay v2, native). */
const rfc3339RunAt = (value: string): RunAt => runAtOf(value, Date.parse(value));

/** payload + state must fit the store's item budget. */
function sizeCheck(job: { payload: unknown; state?: unknown }, ctx: z.RefinementCtx) {
  const bytes = utf8Bytes(JSON.stringify(job.payload) ?? '') + utf8Bytes(JSON.stringify(job.state ?? null));
  if (bytes > LIMITS.payloadStateBytes) {
    ctx.addIssue({
      code: 'custom',
      params: { status: 413 },
      message: `payload and state are ${bytes} bytes; the limit is ${LIMITS.payloadStateBytes}`,
    });
  }
}

/**
 * relay-rs timeouts are any `i32` of whole seconds; negative ones are read as 0, as relay's v1
 * layer does. Pull jobs may hold long leases: only managed jobs have the 12 h cap (`shellJob`).
 */
const relayTimeout = int32.transform((t) => Math.max(0, t));

/** A heartbeat's new state: any JSON (none clears it), within the payload-and-state budget. */
export const heartbeatState = z
  .unknown()
  .superRefine((state, ctx) => sizeCheck({ payload: undefined, state }, ctx));

// ---------------------------------------------------------------------------------------------
// relay-rs v1 (and seed) job
// ---------------------------------------------------------------------------------------------

/**
 * A relay-rs job as the store takes it: the versions differ only in retries and `run_at`.
 * `priority` is Relay's own field: relay-rs clients never send it (so their jobs keep relay-rs's
 * order), and a mixed fleet's producers may.
 */
const relayJob = (
  j: {
    queue: string;
    id: string;
    payload: unknown;
    state?: unknown;
    timeout: number;
    priority?: number | null;
  },
  maxRetries: number | null,
  runAt: RunAt | null | undefined,
): NewJob => ({
  queue: j.queue,
  id: j.id,
  payload: j.payload,
  state: j.state ?? undefined,
  timeout: j.timeout,
  max_retries: maxRetries,
  priority: j.priority ?? undefined,
  ...runAt,
});

export const relayV1Job = z
  .object({
    id: name('id'),
    queue: name('queue'),
    timeout: relayTimeout,
    max_retries: int32.optional(),
    payload: requiredJson('payload'),
    state: z.unknown().optional(),
    priority: priority.nullish(),
    run_at: anyDate.nullish(),
  })
  .superRefine(sizeCheck)
  // relay-rs: max_retries defaults to 0, and a negative one means retry forever.
  .transform((j) => relayJob(j, normalizeMaxRetries(j.max_retries ?? 0, 0), j.run_at));

export const relayV1Batch = z
  .array(relayV1Job)
  .max(LIMITS.maxBatch, `at most ${LIMITS.maxBatch} jobs per batch`);

// ---------------------------------------------------------------------------------------------
// relay v2 job
// ---------------------------------------------------------------------------------------------

export const relayV2Job = z
  .object({
    queue: name('queue'),
    id: name('id'),
    timeout: z
      .number()
      .int()
      .min(0, 'Integer is too small to store in target integer type')
      .max(LIMITS.maxTimeoutSeconds),
    max_retries: z
      .number()
      .int()
      .min(0, 'Integer is too small to store in target integer type')
      .max(32_767)
      .nullish(),
    payload: requiredJson('payload'),
    state: z.unknown().optional(),
    priority: priority.nullish(),
    run_at: rfc3339.nullish(),
  })
  .superRefine(sizeCheck)
  .transform((j) => relayJob(j, j.max_retries ?? null, j.run_at ? rfc3339RunAt(j.run_at) : undefined));

export const relayV2Batch = z
  .array(relayV2Job)
  .max(LIMITS.maxBatch, `at most ${LIMITS.maxBatch} jobs per batch`);

/**
 * The jobs that replace a run: one DynamoDB transaction (at most 100 writes) ends the run and
 * writes them all, so a requeue carries at most 99 jobs.
 */
export const relayV2Requeue = z.array(relayV2Job).max(99, 'at most 99 jobs can replace a run');

export const enqueueMode = z.object({
  // relay: anything but "ignore" or "replace" means unique.
  mode: z
    .string()
    .optional()
    .transform((m) => (m === 'ignore' || m === 'replace' ? m : 'unique')),
});

// ---------------------------------------------------------------------------------------------
// Relay native job
// ---------------------------------------------------------------------------------------------

const backoffObject = z
  .strictObject({
    strategy: z.enum(BACKOFF_STRATEGIES).default(DEFAULT_BACKOFF.strategy),
    base_seconds: z.number().positive().max(86_400).default(DEFAULT_BACKOFF.base_seconds),
    max_seconds: z
      .number()
      .positive()
      .max(7 * 86_400)
      .default(DEFAULT_BACKOFF.max_seconds),
    jitter: z.enum(JITTERS).default(DEFAULT_BACKOFF.jitter),
  })
  .refine((b) => b.max_seconds >= b.base_seconds, 'backoff.max_seconds must be at least base_seconds');

/** A backoff object, or just a strategy name with the defaults (`"backoff": "exponential"`). */
export const backoff = z.union([
  z.enum(BACKOFF_STRATEGIES).transform((strategy): Backoff => ({ ...DEFAULT_BACKOFF, strategy })),
  backoffObject,
]);

const jobTimeout = z
  .number()
  .int()
  .min(LIMITS.minTimeoutSeconds, `timeout must be at least ${LIMITS.minTimeoutSeconds} second`)
  .max(LIMITS.maxTimeoutSeconds, `timeout must be at most ${LIMITS.maxTimeoutSeconds} seconds`);

/**
 * A managed job must be one Relay can run, checked at submit, not at run time: its payload a
 * command, and its lease no longer than an executor runs (12 h). Pull jobs may lease for longer.
 */
function shellJob(job: { type?: string; payload: unknown; timeout?: number }, ctx: z.RefinementCtx) {
  if (job.type !== 'SHELL') return;
  const parsed = commandSpecSchema.safeParse(job.payload);
  for (const issue of parsed.success ? [] : parsed.error.issues) {
    ctx.addIssue({ code: 'custom', path: ['payload', ...issue.path], message: issue.message });
  }
  if (job.timeout !== undefined && job.timeout > LIMITS.maxManagedTimeoutSeconds) {
    ctx.addIssue({
      code: 'custom',
      path: ['timeout'],
      message:
        `timeout of a managed (SHELL) job must be at most ${LIMITS.maxManagedTimeoutSeconds} seconds ` +
        '(12 h), the longest run its executor allows; pull jobs may lease for longer',
    });
  }
}

/** A job to enqueue when a managed run ends (`on_success`, `on_failure`); it may chain further. */
export const childJob: z.ZodType<ChildJobSpec> = z
  .strictObject({
    queue: name('queue').optional(),
    type: z.enum(JOB_TYPES).optional(),
    payload: requiredJson('payload'),
    timeout: jobTimeout.optional(),
    max_retries: z.number().int().nullable().optional(),
    backoff: backoff.optional(),
    priority: priority.optional(),
    get on_success() {
      return childJob.optional();
    },
    get on_failure() {
      return childJob.optional();
    },
  })
  .superRefine(shellJob) as z.ZodType<ChildJobSpec>;

export const nativeJob = z
  .strictObject({
    queue: name('queue').default('default'),
    id: name('id').optional(),
    payload: requiredJson('payload'),
    state: z.unknown().optional(),
    timeout: jobTimeout.default(DEFAULTS.timeoutSeconds),
    max_retries: z.number().int().nullable().default(DEFAULTS.maxRetries),
    priority: priority.default(DEFAULTS.priority),
    run_at: rfc3339.optional(),
    delay: z
      .number()
      .min(0)
      .max(365 * 86_400, 'delay must be at most a year')
      .optional(),
    // Part of a DynamoDB key, like a name: a lone surrogate would be stored as U+FFFD.
    idempotency_key: z
      .string()
      .min(1)
      .max(256)
      .refine((k) => k.isWellFormed(), 'idempotency_key must be well-formed Unicode, without lone surrogates')
      .optional(),
    backoff: backoff.optional(),
    /** `SHELL`: Relay runs `payload` as a command. Omitted: a pull job for workers. */
    type: z.enum(JOB_TYPES).optional(),
    on_success: childJob.optional(),
    on_failure: childJob.optional(),
  })
  .refine((j) => j.run_at === undefined || j.delay === undefined, 'give either run_at or delay, not both')
  .superRefine(sizeCheck)
  .superRefine(shellJob);

export type NativeJobInput = z.output<typeof nativeJob>;

/** Turns a validated native job into a store job, generating the id and resolving `delay`. */
export function fromNative(input: NativeJobInput, now: number, newId: () => string): NewJob {
  return {
    queue: input.queue,
    id: input.id ?? newId(),
    payload: input.payload,
    state: input.state,
    timeout: input.timeout,
    max_retries: normalizeMaxRetries(input.max_retries, DEFAULTS.maxRetries),
    priority: input.priority,
    ...(input.run_at
      ? rfc3339RunAt(input.run_at)
      : { run_at: input.delay !== undefined ? now + input.delay * 1000 : undefined }),
    idempotency_key: input.idempotency_key,
    backoff: input.backoff,
    type: input.type,
    on_success: input.on_success,
    on_failure: input.on_failure,
  };
}

// ---------------------------------------------------------------------------------------------
// Query strings
// ---------------------------------------------------------------------------------------------

export const digits = (what: string) =>
  z.string().regex(/^\d+$/, `${what} must be a non-negative integer`).transform(Number);

/**
 * How many jobs a claim asks for, served as "up to": relay-rs has no cap, and its pollers ask for
 * as many jobs as they have idle workers (the CPU count by default), so more than `LIMITS.maxClaim`
 * is answered with at most that many and the poller asks again for the rest.
 */
const upTo = (n: number) => Math.min(n, LIMITS.maxClaim);

/** relay-rs v1: default 1; 0 asks for nothing (204). */
export const claimQueryV1 = z.object({
  num_jobs: digits('num_jobs').transform(upTo).optional(),
});

/** relay v2: default 1; must be at least 1. */
export const claimQueryV2 = z.object({
  num_jobs: digits('num_jobs')
    .pipe(z.number().min(1, 'num_jobs must be at least 1'))
    .transform(upTo)
    .optional(),
});

/** Seed routes name the job with `queue` and `job_id` query parameters. */
export const seedJobQuery = z.object({ queue: name('queue'), job_id: name('job_id') });
export const seedNextQuery = z.object({ queue: name('queue') }).extend(claimQueryV1.shape);

export const logsQuery = z.object({
  // Run ids are UUIDs; a log item's sort key holds one, and DynamoDB caps sort keys at 1 KB.
  run_id: z.string().max(128).optional(),
  after: z.string().optional(),
  limit: digits('limit').pipe(z.number().min(1).max(1000)).default(200),
});

export const pageQuery = z.object({
  limit: digits('limit').pipe(z.number().min(1).max(100)).default(20),
  cursor: z.string().optional(),
});

export const failBody = z.strictObject({
  error: z.string().max(64 * 1024),
  run_id: z.string().optional(),
  retry: z.boolean().default(true),
});

export const requeueAllBody = z.strictObject({ limit: z.number().int().min(1).optional() });

// ---------------------------------------------------------------------------------------------
// Views
// ---------------------------------------------------------------------------------------------

export const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());

/** A job's `run_at` as every view shows it: as its client wrote it when finer than a millisecond. */
const shownRunAt = (job: Pick<Job, 'run_at' | 'run_at_text'>) => job.run_at_text ?? iso(job.run_at);

/** What a view shows in place of a command's environment variable values. */
export const REDACTED = '<redacted>';

const isRecord = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

/**
 * A job's payload as every view shows it. A managed job's `env` values are write-only (they are
 * how secrets reach a command): views name the variables, never their values.
 */
export function shownPayload(job: Pick<Job, 'type' | 'payload'>): unknown {
  const { payload } = job;
  if (job.type !== 'SHELL' || !isRecord(payload) || !isRecord(payload.env)) return payload;
  return { ...payload, env: Object.fromEntries(Object.keys(payload.env).map((name) => [name, REDACTED])) };
}

/** relay-rs v1's `Job`: unlimited retries read as -1. */
export const relayV1View = (job: Job) => ({
  id: job.id,
  queue: job.queue,
  timeout: job.timeout,
  max_retries: job.max_retries ?? -1,
  payload: shownPayload(job),
  state: job.state,
  run_at: shownRunAt(job),
  updated_at: iso(job.updated_at),
});

/** relay v2's `Existing` job. */
export const relayV2View = (job: Job) => ({
  queue: job.queue,
  id: job.id,
  timeout: job.timeout,
  max_retries: job.max_retries,
  retries_remaining: job.retries_remaining,
  payload: shownPayload(job),
  state: job.state,
  run_id: job.status === 'running' ? job.run_id : null,
  run_at: shownRunAt(job),
  updated_at: iso(job.updated_at),
  created_at: iso(job.created_at),
});

/** Relay's native job view. */
export const nativeView = (job: Job, now: number) => ({
  queue: job.queue,
  id: job.id,
  status: viewStatus(job, now),
  payload: shownPayload(job),
  state: job.state,
  priority: job.priority,
  timeout: job.timeout,
  max_retries: job.max_retries,
  retries_remaining: job.retries_remaining,
  attempts: job.attempts,
  run_id: job.status === 'running' ? job.run_id : null,
  lease_expires_at: job.status === 'running' ? iso(job.lease_expires_at) : null,
  last_error: job.last_error,
  dead_reason: job.dead_reason,
  idempotency_key: job.idempotency_key,
  backoff: job.backoff,
  type: job.type,
  parent: job.parent,
  children: job.children,
  result: job.result,
  run_at: shownRunAt(job),
  created_at: iso(job.created_at),
  updated_at: iso(job.updated_at),
});
