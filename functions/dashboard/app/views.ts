/** What the pages derive from the API's answers, kept pure so it is tested apart from the browser. */
import { BULK_ACTION_STATUSES } from '../../core/statuses.ts';
import type { Job } from '../../sdk/client.ts';

/** Values of a managed job's `env` are secrets: the page shows their names only. */
export function withoutSecrets(payload: unknown): unknown {
  if (payload === null || typeof payload !== 'object' || Array.isArray(payload)) return payload;
  const env = (payload as { env?: unknown }).env;
  if (env === null || typeof env !== 'object') return payload;
  const hidden = Object.fromEntries(Object.keys(env).map((name) => [name, '(hidden)']));
  return { ...payload, env: hidden };
}

/** Whether a job can be cancelled, and retried: the statuses the API's own actions change a job from. */
export const cancellable = (job: Job) =>
  (BULK_ACTION_STATUSES.cancel as readonly string[]).includes(job.status);
export const retryable = (job: Job) => (BULK_ACTION_STATUSES.retry as readonly string[]).includes(job.status);
