/**
 * A runner's Fargate task stopped: end its run at once instead of waiting for the lease.
 *
 * ECS reports every task state change to EventBridge; the stack routes the STOPPED events of the
 * runner's tasks here. A task can stop without its runner ending the run (out of memory, a failed
 * image pull, a Spot reclaim, the container killed), and then the run would hold its lease for a
 * whole timeout. The event carries the task's command override, which is the job reference
 * (`--job <queue> <id> <run_id>`), so the run is failed fenced by its run id: if the runner
 * already ended it, or the run was cancelled or re-claimed, the write's condition fails and the
 * event changes nothing. https://docs.aws.amazon.com/AmazonECS/latest/developerguide/ecs_task_events.html
 */
import * as z from 'zod';
import { log } from '../core/log.ts';
import { RUNNER_STARTED_BY } from '../core/runner-task.ts';
import { JobNotFoundError, LeaseLostError } from '../jobs/errors.ts';
import { JobService } from '../jobs/service.ts';
import type { JobStore } from '../jobs/store.ts';
import type { DispatchQueue } from './queue.ts';

export { RUNNER_STARTED_BY };

/** The fields of an ECS Task State Change event's `detail` that matter here; the rest pass. */
export const taskStateChangeSchema = z.object({
  taskArn: z.string(),
  lastStatus: z.string(),
  startedBy: z.string().optional(),
  stopCode: z.string().optional(),
  stoppedReason: z.string().optional(),
  containers: z
    .array(
      z.object({ name: z.string(), exitCode: z.number().int().optional(), reason: z.string().optional() }),
    )
    .default([]),
  overrides: z
    .object({
      containerOverrides: z
        .array(z.object({ name: z.string(), command: z.array(z.string()).optional() }))
        .default([]),
    })
    .default({ containerOverrides: [] }),
});
export type TaskStateChange = z.infer<typeof taskStateChangeSchema>;

export type TaskStoppedResult =
  /** Not a stopped runner task with a job reference. */
  | { readonly kind: 'ignored' }
  /** The run had already ended, or is no longer this task's. */
  | { readonly kind: 'stale' }
  /** The run failed because its task stopped; the job is `failed` (retry pending) or `dead`. */
  | { readonly kind: 'failed'; readonly status: string };

export interface TaskEventDeps {
  readonly store: JobStore;
  readonly dispatch?: DispatchQueue;
}

export async function taskStopped(detail: TaskStateChange, deps: TaskEventDeps): Promise<TaskStoppedResult> {
  if (detail.lastStatus !== 'STOPPED' || detail.startedBy !== RUNNER_STARTED_BY) return { kind: 'ignored' };
  const ref = jobReference(detail);
  if (!ref) return { kind: 'ignored' };
  const container = detail.containers.find((c) => c.name === ref.container);
  const exitCode = container?.exitCode ?? null;
  const why = [detail.stoppedReason, container?.reason].filter(Boolean).join('; ') || 'no reason given';
  const error = `the Fargate task stopped (${detail.stopCode ?? 'unknown'}): ${why}${
    exitCode === null ? '' : `; exit code ${exitCode}`
  }`;
  try {
    const stored = await deps.store.failRun(ref.queue, ref.id, ref.runId, { error, exit_code: exitCode });
    await new JobService(deps.store, deps.dispatch).afterRunEnd(stored);
    log('warn', 'run failed: its Fargate task stopped', {
      queue: ref.queue,
      job_id: ref.id,
      run_id: ref.runId,
      attempt: stored.job.attempts,
      task: detail.taskArn,
      status: stored.job.status,
      error_message: error,
    });
    return { kind: 'failed', status: stored.job.status };
  } catch (failure) {
    // The runner ended the run itself (the usual case), or it was cancelled or taken over.
    if (failure instanceof LeaseLostError || failure instanceof JobNotFoundError) return { kind: 'stale' };
    throw failure;
  }
}

/** The job reference in the runner container's command override, and that container's name. */
function jobReference(detail: TaskStateChange) {
  for (const override of detail.overrides.containerOverrides) {
    const [flag, queue, id, runId, ...extra] = override.command ?? [];
    if (flag === '--job' && queue && id && runId && !extra.length) {
      return { container: override.name, queue, id, runId };
    }
  }
  return undefined;
}
