/**
 * Lambda entry: the maintenance sweep, run on a schedule (a 1 s timer locally). It ends runs whose
 * lease has passed and re-sends the dispatch hint of managed jobs whose message was lost.
 */
import { log } from '../core/log.ts';
import { markDeadLettered } from '../dispatch/dead-letters.ts';
import { DISPATCH_GRACE_MS, redispatchLost } from '../dispatch/repair.ts';
import type { SweepResult } from '../jobs/store.ts';
import { dispatchFromEnv, storeFromEnv } from './services.ts';

export async function handler(): Promise<SweepResult & { redispatched: number; deadLettered: number }> {
  const store = storeFromEnv();
  const result = await store.sweep();
  const dispatch = dispatchFromEnv();
  // A run the sweep just put back has no dispatch message in flight: re-send without the grace
  // (a duplicate hint for another waiting job is harmless; its claim condition drops it).
  const grace = result.requeued ? 0 : DISPATCH_GRACE_MS;
  const redispatched = dispatch ? await redispatchLost(store, dispatch, Date.now(), grace) : 0;
  const deadLettered = dispatch
    ? (await markDeadLettered(store, dispatch.client, dispatch.deadLetterUrl)).marked
    : 0;
  if (result.requeued || result.dead || redispatched || deadLettered) {
    log('info', 'sweep', { ...result, redispatched, deadLettered });
  }
  return { ...result, redispatched, deadLettered };
}
