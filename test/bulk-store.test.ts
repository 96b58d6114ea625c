/**
 * Bulk actions over DynamoDB Local: each action with each filter changes exactly the jobs it
 * selects, a dry run changes nothing, the cap holds and the rest is reachable by cursor, a job
 * changed between the listing and the write is skipped (never overwritten), and retry leaves
 * managed jobs to the managed route.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { documentClient } from '../functions/core/clients.ts';
import type { BulkAction, BulkRequest } from '../functions/jobs/bulk.ts';
import type { JobFilter } from '../functions/jobs/filters.ts';
import type { Job } from '../functions/jobs/model.ts';
import { JobStore } from '../functions/jobs/store.ts';
import { onClient } from './support/faults.ts';
import { pullJob, shellJob } from './support/jobs.ts';
import { freshStore, TestClock, type TestStore } from './support/store.ts';

let clock: TestClock;
let fresh: TestStore;
let store: JobStore;
let t0: number;

beforeEach(async () => {
  clock = new TestClock();
  t0 = clock.now;
  fresh = await freshStore({ clock: clock.read });
  store = fresh.store;
});

afterEach(async () => {
  await fresh.dispose();
});

const request = (action: BulkAction, filter: JobFilter, extra: Partial<BulkRequest> = {}): BulkRequest => ({
  action,
  queue: 'q',
  filter,
  kind: 'pull',
  dryRun: false,
  limit: 100,
  ...extra,
});

/** Enqueues `id` one second after the previous job, so `created_at` orders them. */
async function enqueueNext(id: string, extra = {}): Promise<void> {
  clock.advance(1_000);
  await store.enqueue(pullJob(id, extra));
}

/** Claims `id` (the only claimable job of `q` when called) and returns its run id. */
async function claimOnly(id: string): Promise<string> {
  const [claimed] = await store.claim('q', 1);
  expect(claimed?.id).toBe(id);
  return claimed?.run_id as string;
}

async function ended(id: string, how: 'dead' | 'failed' | 'completed', error = ''): Promise<void> {
  // A failed job waits an hour for its retry, so it is never claimed in place of the next one.
  const backoff = { strategy: 'fixed', base_seconds: 3_600, max_seconds: 3_600, jitter: 'none' } as const;
  await enqueueNext(id, { max_retries: how === 'dead' ? 0 : 3, backoff });
  const runId = await claimOnly(id);
  if (how === 'completed') await store.complete('q', id, runId);
  else await store.fail('q', id, { error, runId });
}

/**
 * One job of each kind of history, created a second apart (t0+1s … t0+7s):
 * dead-timeout, dead-oom, failed-timeout, cancelled, running, completed, pending.
 */
async function world(): Promise<void> {
  await ended('dead-timeout', 'dead', 'timeout talking to the db');
  await ended('dead-oom', 'dead', 'out of memory');
  await ended('failed-timeout', 'failed', 'timeout again');
  await enqueueNext('cancelled');
  await store.cancel('q', 'cancelled');
  await enqueueNext('running');
  await claimOnly('running');
  await ended('completed', 'completed');
  await enqueueNext('pending');
}

const ALL = ['dead-timeout', 'dead-oom', 'failed-timeout', 'cancelled', 'running', 'completed', 'pending'];

async function snapshot(): Promise<Map<string, Job | undefined>> {
  return new Map(await Promise.all(ALL.map(async (id) => [id, await store.get('q', id)] as const)));
}

/** Whether `job` shows the action done: retried jobs wait, cancelled are cancelled, deleted are gone. */
const done = (action: BulkAction, job: Job | undefined) =>
  action === 'delete'
    ? job === undefined
    : action === 'cancel'
      ? job?.status === 'cancelled'
      : job?.status === 'pending';

const FILTERS: Record<string, (t: number) => JobFilter> = {
  status: () => ({}),
  'error contains': () => ({ errorContains: 'timeout' }),
  'created before': (t) => ({ createdBefore: t + 3_500 }),
  'created after': (t) => ({ createdAfter: t + 4_000 }),
};

const CASES: [BulkAction, string, JobFilter, string[]][] = [
  ['retry', 'status', { status: 'dead' }, ['dead-timeout', 'dead-oom']],
  ['cancel', 'status', { status: 'running' }, ['running']],
  ['delete', 'status', { status: 'completed' }, ['completed']],
  ['retry', 'error contains', {}, ['dead-timeout', 'failed-timeout']],
  ['cancel', 'error contains', {}, ['failed-timeout']],
  ['delete', 'error contains', {}, ['dead-timeout', 'failed-timeout']],
  ['retry', 'created before', {}, ['dead-timeout', 'dead-oom', 'failed-timeout']],
  ['cancel', 'created before', {}, ['failed-timeout']],
  ['delete', 'created before', {}, ['dead-timeout', 'dead-oom', 'failed-timeout']],
  ['retry', 'created after', {}, ['cancelled']],
  ['cancel', 'created after', {}, ['running', 'pending']],
  ['delete', 'created after', {}, ['cancelled', 'completed', 'pending']],
];

describe('bulk', () => {
  it.each(CASES)('%s by %s changes exactly the jobs selected', async (action, by, status, expected) => {
    await world();
    const before = await snapshot();
    const filter = { ...(FILTERS[by]?.(t0) ?? {}), ...status };

    const report = await store.bulk(request(action, filter));

    expect(report).toMatchObject({ matched: expected.length, changed: expected.length, skippedChanged: 0 });
    expect([...report.sampleIds].sort()).toEqual([...expected].sort());
    const after = await snapshot();
    for (const id of ALL) {
      if (expected.includes(id)) expect(done(action, after.get(id)), id).toBe(true);
      else expect(after.get(id), id).toEqual(before.get(id));
    }
  });

  it('changes nothing on a dry run, and reports what it would change', async () => {
    await world();
    const before = await snapshot();

    const report = await store.bulk(request('delete', { errorContains: 'timeout' }, { dryRun: true }));

    expect(report).toMatchObject({ matched: 2, changed: 0, skippedChanged: 0, cursor: null });
    expect(report.sampleIds).toEqual(['failed-timeout', 'dead-timeout']);
    expect(await snapshot()).toEqual(before);
  });

  it('changes at most `limit` jobs per call, and the cursor reaches the rest', async () => {
    for (let i = 0; i < 25; i++) await ended(`d${i}`, 'dead', 'boom');

    const first = await store.bulk(request('retry', { status: 'dead' }, { limit: 10 }));
    expect(first).toMatchObject({ matched: 10, changed: 10 });
    expect(first.cursor).not.toBeNull();
    expect((await store.deadLetters('q', 100)).items).toHaveLength(15);

    let cursor = first.cursor ?? undefined;
    let total = first.changed;
    while (cursor) {
      const next = await store.bulk(request('retry', { status: 'dead' }, { limit: 10, cursor }));
      expect(next.changed).toBeLessThanOrEqual(10);
      total += next.changed;
      cursor = next.cursor ?? undefined;
    }
    expect(total).toBe(25);
    expect((await store.deadLetters('q', 100)).items).toHaveLength(0);
  });

  it.each([
    ['delete', 'retried'],
    ['cancel', 'claimed'],
  ] as const)('%s skips a job %s between its listing and its write', async (action, change) => {
    await ended('a', 'failed', 'boom');
    await ended('b', 'dead', 'boom');
    await ended('c', 'failed', 'boom');
    // The bulk's own client: once its listing is read, another process changes job `a`.
    const db = documentClient(fresh.config.dynamodbEndpoint);
    let changed = false;
    onClient(db, async (call, next) => {
      const out = await next();
      if (call.operation === 'BatchGetItem' && !changed) {
        changed = true;
        if (change === 'retried') await store.retry('q', 'a', 'pull');
        else {
          clock.advance(3_600_000); // past its backoff
          await claimOnly('a');
        }
      }
      return out;
    });
    const bulkStore = new JobStore(db, fresh.config, clock.read);
    const filter: JobFilter = action === 'delete' ? {} : { status: 'failed' };

    const report = await bulkStore.bulk(request(action, filter));

    expect(changed).toBe(true);
    expect(report).toMatchObject({ skippedChanged: 1, changed: report.matched - 1 });
    const a = await store.get('q', 'a');
    expect(a?.status).toBe(change === 'retried' ? 'pending' : 'running');
  });

  it('retries no managed job for the pull kind, and counts it', async () => {
    await ended('pull-dead', 'dead', 'boom');
    clock.advance(1_000);
    await store.enqueue(shellJob('shell-dead', { max_retries: 0 }));
    const [run] = await store.claim('q', 1).then(async () => [await store.claimById('q', 'shell-dead')]);
    await store.failRun('q', 'shell-dead', run?.run_id as string, { error: 'boom' });

    const pull = await store.bulk(request('retry', { status: 'dead' }));
    expect(pull).toMatchObject({ matched: 1, changed: 1, skippedKind: 1 });
    expect((await store.get('q', 'shell-dead'))?.status).toBe('dead');

    const managed = await store.bulk(request('retry', { status: 'dead' }, { kind: 'managed' }));
    expect(managed).toMatchObject({ matched: 1, changed: 1, skippedKind: 0 });
    expect((await store.get('q', 'shell-dead'))?.status).toBe('pending');
  });
});
