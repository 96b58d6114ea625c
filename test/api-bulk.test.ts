/**
 * Bulk actions and the filters of `GET /v1/jobs` over real HTTP: dry runs, the cap and cursor, the
 * managed boundary (the jobs route never retries a managed job; its managed twin does), 400 for an
 * unknown or malformed list parameter and 422 for a bad bulk filter.
 */
import { describe, expect, it } from 'vitest';
import type { Job } from '../functions/jobs/model.ts';
import { RelayClient } from '../functions/sdk/client.ts';
import { apiPerTest, jsonOf } from './support/api.ts';
import { pullJob, shellJob } from './support/jobs.ts';

const t = apiPerTest({ dispatch: 'sqs' });

interface Report {
  action: string;
  dry_run: boolean;
  matched: number;
  changed: number;
  skipped_changed: number;
  skipped_managed?: number;
  skipped_pull?: number;
  sample_ids: string[];
  next_cursor: string | null;
  more: boolean;
}

const bulk = async (body: unknown, route = '/v1/queues/q/jobs/bulk') => {
  const res = await t.api.send('POST', route, body);
  return { status: res.status, body: (await jsonOf(res)) as Report & { error: { message: string } } };
};

const ids = async (query: string) => {
  const res = await t.api.fetch(`/v1/jobs${query}`);
  expect(res.status).toBe(200);
  return ((await jsonOf(res)) as { jobs: { id: string }[] }).jobs.map((j) => j.id);
};

/** A dead job, `error` its last error, created one second after the previous one. */
async function deadJob(id: string, error = 'boom', managed = false): Promise<void> {
  t.clock.advance(1_000);
  const store = t.api.store;
  if (managed) {
    await store.enqueue(shellJob(id, { max_retries: 0 }));
    const run = (await store.claimById('q', id)) as Job;
    await store.failRun('q', id, String(run.run_id), { error });
  } else {
    await store.enqueue(pullJob(id, { max_retries: 0 }));
    const [run] = await store.claim('q', 1);
    expect(run?.id).toBe(id);
    await store.fail('q', id, { error });
  }
}

describe('GET /v1/jobs filters', () => {
  it('selects by status, error text and creation window', async () => {
    await deadJob('a', 'timeout reading');
    await deadJob('b', 'out of memory');
    await deadJob('c', 'timeout writing');
    t.clock.advance(1_000);
    await t.api.store.enqueue(pullJob('p'));
    const at = (ms: number) => new Date(ms).toISOString();
    const created = (id: string) => t.api.store.get('q', id).then((j) => (j as Job).created_at);

    expect(await ids('?queue=q&status=dead')).toEqual(['c', 'b', 'a']);
    expect(await ids('?queue=q&error_contains=timeout')).toEqual(['c', 'a']);
    expect(await ids(`?queue=q&created_before=${at(await created('c'))}`)).toEqual(['b', 'a']);
    expect(await ids(`?queue=q&created_after=${at(await created('c'))}`)).toEqual(['p', 'c']);
  });

  it('answers 400 naming every unknown parameter', async () => {
    const res = await t.api.fetch('/v1/jobs?queue=q&colour=red&state=dead');
    expect(res.status).toBe(400);
    const { error } = (await jsonOf(res)) as { error: { message: string } };
    expect(error.message).toContain('colour');
    expect(error.message).toContain('state');
  });
});

describe('POST /v1/queues/{queue}/jobs/bulk', () => {
  it('on a dry run counts and names the jobs it would change, and changes none', async () => {
    await deadJob('a', 'timeout');
    await deadJob('b', 'oom');

    const { status, body } = await bulk({
      action: 'retry',
      filter: { error_contains: 'timeout' },
      dry_run: true,
    });

    expect(status).toBe(200);
    expect(body).toMatchObject({ action: 'retry', dry_run: true, matched: 1, changed: 0, sample_ids: ['a'] });
    expect(body.more).toBe(false);
    expect((await t.api.store.get('q', 'a'))?.status).toBe('dead');
  });

  it('changes at most `limit` jobs, says there are more, and the cursor reaches them', async () => {
    for (const id of ['a', 'b', 'c', 'd', 'e']) await deadJob(id);

    const first = await bulk({ action: 'delete', filter: { status: 'dead' }, limit: 2 });
    expect(first.body).toMatchObject({ matched: 2, changed: 2, more: true });
    expect(await ids('?queue=q')).toHaveLength(3);

    let cursor = first.body.next_cursor;
    let calls = 1;
    while (cursor) {
      const next = await bulk({ action: 'delete', filter: { status: 'dead' }, limit: 2, cursor });
      expect(next.body.changed).toBeLessThanOrEqual(2);
      cursor = next.body.next_cursor;
      calls++;
    }
    expect(calls).toBe(3);
    expect(await ids('?queue=q')).toEqual([]);
  });

  it('never retries a managed job, and counts it as skipped_managed', async () => {
    await deadJob('pull');
    await deadJob('shell', 'boom', true);

    const { body } = await bulk({ action: 'retry', filter: { status: 'dead' } });

    expect(body).toMatchObject({ matched: 1, changed: 1, skipped_managed: 1 });
    expect((await t.api.store.get('q', 'pull'))?.status).toBe('pending');
    expect((await t.api.store.get('q', 'shell'))?.status).toBe('dead');
  });

  it('cancels and deletes managed jobs: neither runs a command', async () => {
    await deadJob('shell', 'boom', true);

    const { body } = await bulk({ action: 'delete', filter: { status: 'dead' } });

    expect(body).toMatchObject({ matched: 1, changed: 1, skipped_managed: 0 });
    expect(await t.api.store.get('q', 'shell')).toBeUndefined();
  });

  it('answers 422 for a status the action does not apply to', async () => {
    const { status, body } = await bulk({ action: 'retry', filter: { status: 'running' } });
    expect(status).toBe(422);
    expect(body.error.message).toContain('filter.status');
  });
});

describe('POST /v1/managed/queues/{queue}/jobs/bulk', () => {
  it('retries the managed jobs only, and counts the pull ones as skipped_pull', async () => {
    await deadJob('pull');
    await deadJob('shell', 'boom', true);

    const { body } = await bulk(
      { action: 'retry', filter: { status: 'dead' } },
      '/v1/managed/queues/q/jobs/bulk',
    );

    expect(body).toMatchObject({ matched: 1, changed: 1, skipped_pull: 1 });
    expect((await t.api.store.get('q', 'shell'))?.status).toBe('pending');
    expect((await t.api.store.get('q', 'pull'))?.status).toBe('dead');
  });

  it('refuses to cancel or delete with 422: those belong to the jobs route', async () => {
    const { status } = await bulk({ action: 'cancel' }, '/v1/managed/queues/q/jobs/bulk');
    expect(status).toBe(422);
  });
});

describe('RelayClient.bulk', () => {
  it('retries the pull jobs of a page, then its managed jobs on the managed route', async () => {
    await deadJob('pull');
    await deadJob('shell', 'boom', true);
    const client = new RelayClient({ endpoint: t.api.url, retries: 0 });

    const result = await client.bulk('q', 'retry', { filter: { status: 'dead' } });

    expect(result).toMatchObject({ matched: 2, changed: 2, skipped_changed: 0, more: false });
    expect(result).not.toHaveProperty('skipped_managed');
    expect((await t.api.store.get('q', 'pull'))?.status).toBe('pending');
    expect((await t.api.store.get('q', 'shell'))?.status).toBe('pending');
  });
});
