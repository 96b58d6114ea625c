/**
 * Naming a job on the command line: `<queue> <id>`, `<queue>/<id>`, or a bare `<id>`.
 *
 * A bare id is looked up in every queue through the API (the queue list, then the job in each
 * queue): it names the job when exactly one queue has a job with that id. When several do, the
 * command stops with a usage error naming them, since guessing could retry or cancel the wrong
 * job; when none does, with a not-found error. The default queue gets no preference: a job that
 * is also in another queue is just as ambiguous there.
 */
import type { Command } from 'commander';
import { type Job, RelayApiError, type RelayClient } from '../sdk/client.ts';
import { NotFoundError, UsageError } from './exit.ts';

/** A job's identity. */
export interface JobRef {
  readonly queue: string;
  readonly id: string;
}

/** How many queues are asked at once while looking up a bare id. */
const LOOKUPS_AT_ONCE = 8;

/** The two positional arguments of a command that names a job. */
export const jobArguments = (command: Command): Command =>
  command
    .argument('<job>', 'the job: <queue>/<id>, <queue> <id>, or an <id> that one queue alone has')
    .argument('[id]', 'the job id, when <job> is its queue');

/**
 * The job the arguments name. `<queue>/<id>` splits at the first slash, so a queue whose name holds
 * a slash, or a bare id that holds one, must be given as two arguments.
 */
export function parseJobRef(first: string, second: string | undefined): JobRef | { readonly id: string } {
  if (second !== undefined) return { queue: first, id: second };
  const slash = first.indexOf('/');
  if (slash > 0 && slash < first.length - 1)
    return { queue: first.slice(0, slash), id: first.slice(slash + 1) };
  return { id: first };
}

/** The job the arguments name; a bare id is looked up in every queue (see the module comment). */
export async function resolveJobRef(
  client: RelayClient,
  first: string,
  second: string | undefined,
): Promise<JobRef> {
  const ref = parseJobRef(first, second);
  return 'queue' in ref ? ref : (await findJob(client, ref.id)).ref;
}

/** The one job with this id in any queue, as it is now. */
export async function findJob(client: RelayClient, id: string): Promise<{ ref: JobRef; job: Job }> {
  const { queues } = await client.queues();
  const found: Job[] = [];
  for (let i = 0; i < queues.length; i += LOOKUPS_AT_ONCE) {
    const batch = queues.slice(i, i + LOOKUPS_AT_ONCE).map((q) => jobIn(client, q.name, id));
    for (const job of await Promise.all(batch)) if (job) found.push(job);
  }
  const [job, ...others] = found;
  if (!job) throw new NotFoundError(`no job with id \`${id}\` in any queue (${queues.length} searched)`);
  if (others.length) {
    const names = found.map((j) => j.queue);
    throw new UsageError(
      `job id \`${id}\` is in ${names.length} queues (${names.join(', ')}): give <queue>/<id>, e.g. ${names[0]}/${id}`,
    );
  }
  return { ref: { queue: job.queue, id }, job };
}

/** The job, or undefined when its queue has no job with that id. */
async function jobIn(client: RelayClient, queue: string, id: string): Promise<Job | undefined> {
  try {
    return await client.status(queue, id);
  } catch (error) {
    if (error instanceof RelayApiError && error.status === 404) return undefined;
    throw error;
  }
}
