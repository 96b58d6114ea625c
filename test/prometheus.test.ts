/**
 * The local server's `GET /metrics`: the job store's metric records as Prometheus counters,
 * histograms and gauges, one twin per CloudWatch EMF metric, and jobs by queue and status counted
 * at scrape time, behind the same Host, Origin and token checks as the API.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { GROUPS } from '../functions/api/routes.ts';
import { JobMetric } from '../functions/core/metric-names.ts';
import type { JobStore } from '../functions/jobs/store.ts';
import {
  type GroupHandler,
  type GroupHandlers,
  type HttpAdapter,
  startHttpAdapter,
} from '../functions/local/http-adapter.ts';
import { metricsPage } from '../functions/local/metrics-page.ts';
import { JOBS_GAUGE, PROMETHEUS_NAMES, PrometheusMetrics } from '../functions/local/prometheus.ts';
import { pullJob as job } from './support/jobs.ts';
import { freshStore, TestClock, type TestStore } from './support/store.ts';

let clock: TestClock;
let prometheus: PrometheusMetrics;
let fresh: TestStore;
let store: JobStore;

beforeEach(async () => {
  clock = new TestClock(Math.floor(Date.now() / 1000) * 1000);
  prometheus = new PrometheusMetrics();
  fresh = await freshStore({ clock: clock.read, metrics: prometheus });
  store = fresh.store;
  prometheus.countJobs(store);
});

afterEach(async () => {
  await fresh.dispose();
});

/** The value of one series in the exposition, e.g. `relay_jobs_enqueued_total{queue="q"}`. */
async function sample(series: string): Promise<number | undefined> {
  const { body } = await prometheus.scrape();
  const line = body.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

describe('PrometheusMetrics', () => {
  it('exposes a twin of every CloudWatch EMF metric, whose help names the EMF metric', async () => {
    const { body } = await prometheus.scrape();

    for (const emf of Object.values(JobMetric)) {
      const { name, kind } = PROMETHEUS_NAMES[emf];
      expect(body).toContain(`# TYPE ${name} ${kind}`);
      expect(body).toMatch(new RegExp(`^# HELP ${name} .*EMF name ${emf}\\b`, 'm'));
    }
  });

  it('counts enqueues, claims and completions per queue as the store records them', async () => {
    await store.enqueue(job('a', { queue: 'emails' }));
    await store.enqueue(job('b', { queue: 'emails' }));
    const [run] = await store.claim('emails', 1);
    clock.advance(1_500);
    await store.complete('emails', run?.id ?? '', run?.run_id ?? '');

    expect(await sample('relay_jobs_enqueued_total{queue="emails"}')).toBe(2);
    expect(await sample('relay_jobs_claimed_total{queue="emails"}')).toBe(1);
    expect(await sample('relay_jobs_completed_total{queue="emails"}')).toBe(1);
    expect(await sample('relay_run_duration_seconds_count{queue="emails"}')).toBe(1);
    expect(await sample('relay_run_duration_seconds_sum{queue="emails"}')).toBe(1.5);
  });

  it('observes durations in seconds, as Prometheus names them', async () => {
    prometheus.record('q', { QueueWait: 250, DispatchLag: 2_000 });

    expect(await sample('relay_queue_wait_seconds_sum{queue="q"}')).toBe(0.25);
    expect(await sample('relay_queue_wait_seconds_bucket{le="0.25",queue="q"}')).toBe(1);
    expect(await sample('relay_queue_wait_seconds_bucket{le="0.1",queue="q"}')).toBe(0);
    expect(await sample('relay_dispatch_lag_seconds_sum{queue="q"}')).toBe(2);
  });

  it('takes every sample of a record merged from several transitions, as EMF does', async () => {
    prometheus.record('q', { Claimed: [1, 1, 1], QueueWait: [100, 250, 4_000], ClaimConflicts: [2] });

    expect(await sample('relay_jobs_claimed_total{queue="q"}')).toBe(3);
    expect(await sample('relay_queue_wait_seconds_count{queue="q"}')).toBe(3);
    expect(await sample('relay_queue_wait_seconds_sum{queue="q"}')).toBe(4.35);
    expect(await sample('relay_claim_conflicts_total{queue="q"}')).toBe(2);
  });

  it("keeps the sweep's DeadJobs a gauge: its latest value, not a sum", async () => {
    prometheus.record('q', { DeadJobs: 3 });
    prometheus.record('q', { DeadJobs: 1 });

    expect(await sample('relay_dead_jobs{queue="q"}')).toBe(1);
  });

  it("gives the sweep's OldestPendingAge in seconds, a gauge like the other backlog figures", async () => {
    prometheus.record('q', { OldestPendingAge: 4_500, PendingJobs: 7, RunningJobs: 2 });

    expect(await sample('relay_oldest_pending_age_seconds{queue="q"}')).toBe(4.5);
    expect(await sample('relay_pending_jobs{queue="q"}')).toBe(7);
    expect(await sample('relay_running_jobs{queue="q"}')).toBe(2);
  });

  it('counts jobs by queue and status from the store at scrape time', async () => {
    await store.enqueue(job('a', { queue: 'emails' }));
    await store.enqueue(job('b', { queue: 'emails' }));
    await store.enqueue(job('c', { queue: 'reports', run_at: clock.now + 60_000 }));
    await store.claim('emails', 1);

    expect(await sample(`${JOBS_GAUGE}{queue="emails",status="pending"}`)).toBe(1);
    expect(await sample(`${JOBS_GAUGE}{queue="emails",status="running"}`)).toBe(1);
    expect(await sample(`${JOBS_GAUGE}{queue="reports",status="scheduled"}`)).toBe(1);
    expect(await sample(`${JOBS_GAUGE}{queue="reports",status="dead"}`)).toBe(0);
  });
});

describe('GET /metrics on the local server', () => {
  let adapter: HttpAdapter;
  /** What the route table's handlers saw: `/metrics` must never reach them. */
  const routed: string[] = [];

  async function serve(options: { token?: string; metrics?: PrometheusMetrics } = {}) {
    const handler: GroupHandler = async (event) => {
      routed.push(event.rawPath);
      return { statusCode: 404, body: 'not found' };
    };
    const handlers = Object.fromEntries([...GROUPS, 'fallback'].map((g) => [g, handler])) as GroupHandlers;
    adapter = await startHttpAdapter({
      handlers,
      port: 0,
      token: options.token,
      allowedHosts: [],
      pages: { '/metrics': metricsPage(options.metrics ?? prometheus) },
    });
  }

  afterEach(async () => {
    routed.length = 0;
    await adapter.close();
  });

  it('answers with the Prometheus text exposition', async () => {
    await serve();
    await store.enqueue(job('a'));

    const response = await fetch(`${adapter.url}/metrics`);

    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
    expect(await response.text()).toContain('relay_jobs_enqueued_total{queue="q"} 1');
    expect(routed).toEqual([]);
  });

  it('asks for the token as every route does, when the server has one', async () => {
    await serve({ token: 'secret' });

    const without = await fetch(`${adapter.url}/metrics`);
    const withToken = await fetch(`${adapter.url}/metrics`, { headers: { authorization: 'Bearer secret' } });

    expect(without.status).toBe(401);
    expect(withToken.status).toBe(200);
  });

  it("refuses a browser's cross-origin request, as every route does", async () => {
    await serve();

    const response = await fetch(`${adapter.url}/metrics`, { headers: { origin: 'https://evil.example' } });

    expect(response.status).toBe(403);
  });

  it('leaves other methods on /metrics to the route table', async () => {
    await serve();

    expect((await fetch(`${adapter.url}/metrics`, { method: 'POST' })).status).toBe(404);
    expect(routed).toEqual(['/metrics']);
  });

  it('answers 503 when the jobs cannot be counted, rather than a partial scrape', async () => {
    const failing = new PrometheusMetrics();
    failing.countJobs({
      listQueues: async () => [{ queue: 'q' }],
      stats: async () => {
        throw new Error('DynamoDB is unreachable');
      },
    });
    await serve({ metrics: failing });

    const response = await fetch(`${adapter.url}/metrics`);

    expect(response.status).toBe(503);
    expect(response.headers.get('retry-after')).toBe('1');
  });
});
