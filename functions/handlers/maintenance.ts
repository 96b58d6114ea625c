/** Lambda entry: the maintenance sweep, run on a schedule (a 1 s timer locally). */
import { contextFromEnv } from '../api/context.ts';
import { log } from '../core/log.ts';

export async function handler(): Promise<{ requeued: number; dead: number; refreshed: number }> {
  const result = await contextFromEnv().store.sweep();
  if (result.requeued || result.dead) log('info', 'sweep ended expired runs', { ...result });
  return result;
}
