/**
 * Schedules on `relay dev`, as users run it: its maintenance timer (every second) fires a due
 * schedule, and a managed job fired is hinted, dispatched and run like any other.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../functions/local/dynamodb-local.ts';
import { type Job, RelayClient } from '../functions/sdk/client.ts';
import { type DevProcess, startDev } from './support/cli.ts';

let dev: DevProcess;
let client: RelayClient;

beforeAll(async () => {
  dev = await startDev(['--port', String(await freePort())]);
  client = new RelayClient({ endpoint: dev.url });
});

afterAll(async () => {
  dev.child.kill('SIGINT');
  await dev.exited;
});

describe('relay dev', () => {
  it('fires a managed schedule every second and runs each job it enqueues', async () => {
    const job = { queue: 'ticks', type: 'SHELL' as const, payload: { command: 'true' } };
    await client.createSchedule('tick', { cron: '* * * * * *', job, overlap: 'skip' });

    let completed: Job[] = [];
    await expect
      .poll(
        async () => {
          completed = (await client.list({ queue: 'ticks', status: 'completed' })).jobs;
          return completed.length;
        },
        { timeout: 30_000, interval: 250 },
      )
      .toBeGreaterThanOrEqual(2);
    await client.pauseSchedule('tick');

    for (const done of completed) {
      expect(done.id).toMatch(/^tick@\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.000Z$/);
      expect(done.result).toMatchObject({ exit_code: 0 });
    }
    expect(new Set(completed.map((done) => done.id)).size).toBe(completed.length);
  });
});
