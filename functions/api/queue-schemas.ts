/**
 * Wire shapes of queue control (pause, resume, settings) and of priorities, which every route
 * that takes a job accepts as a number or as one of the named levels.
 */
import * as z from 'zod';
import { defaultBurst, MAX_BURST, MAX_RATE_PER_SECOND } from '../jobs/limits.ts';
import { MAX_AGING_SECONDS } from '../jobs/queues.ts';
import { MAX_RUNNING } from '../jobs/running.ts';
import type { QueueState } from '../jobs/store.ts';

/**
 * The named priority levels (job-queue's `critical|high|medium|low`), as the numbers they stand
 * for. `medium` is 0, the default, so a job without a priority is a `medium` one; one level is one
 * unit of priority, which is what a queue's aging rate is counted in.
 */
export const PRIORITY_LEVELS = { critical: 2, high: 1, medium: 0, low: -1 } as const;

/** A relay-rs `i32`. */
export const int32 = z.number().int().min(-2_147_483_648).max(2_147_483_647);

/** A priority: an `i32`, or a named level, which is stored and shown as its number. */
export const priority = z.union([
  int32,
  z
    .enum(Object.keys(PRIORITY_LEVELS) as [keyof typeof PRIORITY_LEVELS])
    .transform((level) => PRIORITY_LEVELS[level]),
]);

/** `PUT /v1/queues/{queue}/settings`: the aging rate in seconds per level, or `null` to turn aging off. */
export const queueSettingsBody = z.strictObject({
  aging_seconds_per_level: z
    .number()
    .positive('aging_seconds_per_level must be positive (null turns aging off)')
    .max(MAX_AGING_SECONDS, `aging_seconds_per_level must be at most ${MAX_AGING_SECONDS}`)
    .nullable(),
});

/**
 * `PUT /v1/queues/{queue}/limits`: runs started per second across every claimer and dispatcher,
 * the burst after a quiet spell, and runs running at once. A field left out keeps its value;
 * `null` clears it.
 */
export const queueLimitsBody = z
  .strictObject({
    rate_per_second: z
      .number()
      .positive('rate_per_second must be positive (null clears the limit)')
      .max(MAX_RATE_PER_SECOND, `rate_per_second must be at most ${MAX_RATE_PER_SECOND}`)
      .nullable()
      .optional(),
    burst: z
      .number()
      .int('burst must be a whole number of runs')
      .min(1, 'burst must be at least 1 (null restores the default, one second of the rate)')
      .max(MAX_BURST, `burst must be at most ${MAX_BURST}`)
      .nullable()
      .optional(),
    max_running: z
      .number()
      .int('max_running must be a whole number of runs')
      .min(1, 'max_running must be at least 1 (null clears the limit)')
      .max(MAX_RUNNING, `max_running must be at most ${MAX_RUNNING}`)
      .nullable()
      .optional(),
  })
  .refine((body) => Object.keys(body).length > 0, 'give rate_per_second, burst or max_running');

/** A queue's limits as the API shows them: the burst in force, `null` when there is no rate. */
export const limitsView = (state: Pick<QueueState, 'rate_per_second' | 'burst' | 'max_running'>) => ({
  rate_per_second: state.rate_per_second ?? null,
  burst: state.rate_per_second ? (state.burst ?? defaultBurst(state.rate_per_second)) : null,
  max_running: state.max_running ?? null,
});

/** A queue as the native API shows it: its layout and settings, times as RFC 3339. */
export const queueView = (state: QueueState) => ({
  name: state.queue,
  ordering: state.ordering,
  shards: state.shards,
  paused: state.paused,
  paused_at: state.paused_at === undefined ? null : new Date(state.paused_at).toISOString(),
  aging_seconds_per_level: state.aging_seconds_per_level ?? null,
  ...limitsView(state),
});
