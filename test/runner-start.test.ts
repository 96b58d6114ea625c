/**
 * The runner's lease renewal before a managed command starts: written only when start-up used
 * much of the lease the claim took, so a run that starts right after its claim costs no extra write.
 */
import { afterEach, beforeEach, expect, it } from 'vitest';
import type { JobStore } from '../functions/jobs/store.ts';
import { runJob } from '../functions/runner/job.ts';
import type { CommandOutcome } from '../functions/runner/run.ts';
import { shellJob } from './support/jobs.ts';
import { freshStore, TestClock, type TestStore } from './support/store.ts';

let fresh: TestStore;
let store: JobStore;

beforeEach(async () => {
  fresh = await freshStore();
  store = fresh.store;
});

afterEach(async () => {
  await fresh.dispose();
});

const exited: CommandOutcome = {
  exitCode: 0,
  signal: null,
  durationMs: 1,
  timedOut: false,
  aborted: false,
  error: null,
  truncated: false,
  droppedBytes: 0,
  tail: [],
};

/** Runs the claimed job with a command that records the job's lease as the command starts. */
async function leaseAtStart(id: string, runId: string): Promise<number | null | undefined> {
  let lease: number | null | undefined;
  const result = await runJob(
    { queue: 'q', id, runId },
    {
      store,
      run: async () => {
        lease = (await store.get('q', id))?.lease_expires_at;
        return exited;
      },
    },
  );
  expect(result).toMatchObject({ kind: 'ended', stored: { job: { status: 'completed' } } });
  return lease;
}

it('writes no renewal for a run that starts right after its claim', async () => {
  await store.enqueue(shellJob('a', { timeout: 30 }));
  const claimed = await store.claimById('q', 'a');
  expect(await leaseAtStart('a', claimed?.run_id ?? '')).toBe(claimed?.lease_expires_at);
});

it('renews the lease before the command when start-up used much of it', async () => {
  // Enqueued and claimed 2 s ago: 1 s of its 3 s lease is left, less than two heartbeat periods (2 × 1 s).
  const claimer = fresh.another(new TestClock(Date.now() - 2_000).read);
  await claimer.enqueue(shellJob('b', { timeout: 3 }));
  const claimed = await claimer.claimById('q', 'b');
  const lease = await leaseAtStart('b', claimed?.run_id ?? '');
  expect(lease).toBeGreaterThan((claimed?.lease_expires_at ?? 0) + 1_000);
});
