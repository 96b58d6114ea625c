/**
 * Jobs as tests write them, in queue `q`: request bodies of the relay route families, and managed
 * jobs for the store. `extra` overrides or adds fields.
 */
import type { NewJob } from '../../functions/jobs/model.ts';

/** A relay-rs job as its clients send it to the v1 routes and the seed routes. */
export const relayV1Job = (id: string, extra: Record<string, unknown> = {}) => ({
  id,
  queue: 'q',
  timeout: 30,
  payload: { n: id },
  ...extra,
});

/** A relay v2 `New` job. */
export const relayV2Job = (id: string, extra: Record<string, unknown> = {}) => ({
  queue: 'q',
  id,
  timeout: 30,
  max_retries: 3,
  payload: { n: id },
  ...extra,
});

/** A pull job for the store, with 3 retries and a 30 s lease. */
export const pullJob = (id: string, extra: Partial<NewJob> = {}): NewJob => ({
  queue: 'q',
  id,
  payload: { n: id },
  timeout: 30,
  max_retries: 3,
  ...extra,
});

/** A managed (SHELL) job whose command is `true`, with 3 retries and a 30 s lease. */
export const shellJob = (id: string, extra: Partial<NewJob> = {}): NewJob => ({
  queue: 'q',
  id,
  payload: { command: 'true' },
  timeout: 30,
  max_retries: 3,
  type: 'SHELL',
  ...extra,
});
