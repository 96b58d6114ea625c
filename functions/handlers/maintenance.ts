/**
 * Lambda entry: the maintenance sweep, run on a schedule (a 1 s timer locally). It ends runs whose
 * lease has passed (stopping their Fargate task, if any), re-sends the dispatch hint of managed
 * jobs whose message was lost, and marks the jobs of dead-lettered hints dead.
 */
import { describeError, log } from '../core/log.ts';
import { markDeadLettered } from '../dispatch/dead-letters.ts';
import type { TaskStopper } from '../dispatch/executors.ts';
import type { DispatchQueue } from '../dispatch/queue.ts';
import { redispatchLost } from '../dispatch/repair.ts';
import type { JobStore, SweepResult } from '../jobs/store.ts';
import { dispatchFromEnv, stopperFromEnv, storeFromEnv } from './services.ts';

export interface MaintenanceDeps {
  readonly store: JobStore;
  readonly dispatch?: DispatchQueue;
  readonly stopTask?: TaskStopper;
  readonly now?: () => number;
}

export type MaintenanceResult = SweepResult & { redispatched: number; deadLettered: number; stopped: number };

export async function maintain(deps: MaintenanceDeps): Promise<MaintenanceResult> {
  const { store, dispatch, stopTask } = deps;
  const result = await store.sweep();
  // A run whose lease expired may be hung with its command still going: stop its task.
  let stopped = 0;
  for (const task of result.orphanedTasks) {
    if (!stopTask) break;
    try {
      await stopTask(task, 'the run’s lease expired');
      stopped++;
    } catch (error) {
      log('warn', 'could not stop the task of an expired run', { task, ...describeError(error) });
    }
  }
  // Runs the sweep just put back are owed a hint at once (their dispatch key says so).
  const now = (deps.now ?? Date.now)();
  const redispatched = dispatch ? await redispatchLost(store, dispatch, now) : 0;
  const deadLettered = dispatch
    ? (await markDeadLettered(store, dispatch.client, dispatch.deadLetterUrl)).marked
    : 0;
  if (result.requeued || result.dead || redispatched || deadLettered || stopped) {
    log('info', 'sweep', { ...result, redispatched, deadLettered, stopped });
  }
  return { ...result, redispatched, deadLettered, stopped };
}

export async function handler(): Promise<MaintenanceResult> {
  return maintain({ store: storeFromEnv(), dispatch: dispatchFromEnv(), stopTask: stopperFromEnv() });
}
