/**
 * Run history over real HTTP: `GET /v1/queues/{q}/jobs/{id}/runs`, and the worker identity a
 * claimer sends with `X-Relay-Worker` on the claim routes.
 */
import { describe, expect, it } from 'vitest';
import { apiPerTest, jsonOf } from './support/api.ts';

interface RunView {
  run_id: string;
  attempt: number;
  outcome: string;
  claimed_at: string | null;
  started_at: string | null;
  ended_at: string;
  duration_ms: number | null;
  exit_code: number | null;
  error: string | null;
  worker: string | null;
}

const t = apiPerTest();

const enqueue = (id: string, extra: Record<string, unknown> = {}) =>
  t.api.send('POST', '/v1/jobs', { queue: 'q', id, payload: {}, ...extra });

/** Claims the next job of `q` on relay's v2 route, with `headers`; its run id. */
async function claim(headers: Record<string, string> = {}): Promise<string> {
  const res = await t.api.fetch('/v2/queues/q/jobs', { headers });
  expect(res.status).toBe(200);
  const [claimed] = (await jsonOf(res)) as { run_id: string }[];
  return claimed?.run_id as string;
}

const runsOf = (id: string, query = '') => t.api.fetch(`/v1/queues/q/jobs/${id}/runs${query}`);

describe('GET /v1/queues/{queue}/jobs/{id}/runs', () => {
  it('lists a retried job runs oldest first: failed, failed, completed', async () => {
    await enqueue('a', {
      max_retries: 3,
      backoff: { strategy: 'fixed', base_seconds: 1, max_seconds: 1, jitter: 'none' },
    });
    const runIds: string[] = [];
    for (const error of ['one', 'two']) {
      const runId = await claim();
      runIds.push(runId);
      const res = await t.api.send('POST', '/v1/queues/q/jobs/a/fail', { error, run_id: runId });
      expect(res.status).toBe(202);
      t.clock.advance(1_000);
    }
    const last = await claim();
    runIds.push(last);
    expect((await t.api.fetch(`/v2/queues/q/jobs/a/run-id/${last}`, { method: 'DELETE' })).status).toBe(200);

    const res = await runsOf('a');
    expect(res.status).toBe(200);
    const { runs } = (await jsonOf(res)) as { runs: RunView[] };
    expect(runs.map((r) => [r.run_id, r.attempt, r.outcome, r.error])).toEqual([
      [runIds[0], 1, 'failed', 'one'],
      [runIds[1], 2, 'failed', 'two'],
      [runIds[2], 3, 'completed', null],
    ]);
    expect(runs[0]?.ended_at).toBe(new Date(t.clock.now - 2_000).toISOString());
  });

  it('shows the worker identity sent with X-Relay-Worker', async () => {
    await enqueue('a');
    await claim({ 'x-relay-worker': 'host-1/pid-9' });
    expect((await t.api.fetch('/v1/queues/q/jobs/a/cancel', { method: 'POST' })).status).toBe(200);
    const { runs } = (await jsonOf(runsOf('a'))) as { runs: RunView[] };
    expect(runs).toEqual([expect.objectContaining({ outcome: 'cancelled', worker: 'host-1/pid-9' })]);
  });

  it('keeps the worker identity sent to the seed route /next', async () => {
    await enqueue('a');
    const res = await t.api.fetch('/next?queue=q', { headers: { 'x-relay-worker': 'seed-worker' } });
    expect(res.status).toBe(200);
    await t.api.fetch('/v1/queues/q/jobs/a/cancel', { method: 'POST' });
    const { runs } = (await jsonOf(runsOf('a'))) as { runs: RunView[] };
    expect(runs[0]?.worker).toBe('seed-worker');
  });

  it('answers 400 for a worker identity that is not printable ASCII', async () => {
    await enqueue('a');
    const res = await t.api.fetch('/v2/queues/q/jobs', { headers: { 'x-relay-worker': 'x'.repeat(300) } });
    expect(res.status).toBe(400);
  });

  it('answers an empty list for a job that never ran', async () => {
    await enqueue('a');
    expect(await jsonOf(runsOf('a'))).toEqual({ runs: [] });
  });

  it('answers 404 for an unknown job', async () => {
    const res = await runsOf('nope');
    expect(res.status).toBe(404);
    expect(((await jsonOf(res)) as { error: { code: string } }).error.code).toBe('job_not_found');
  });

  it('answers 400 for a query parameter it does not know', async () => {
    await enqueue('a');
    expect((await runsOf('a', '?limit=5')).status).toBe(400);
  });
});
