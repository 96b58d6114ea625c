import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { contextFor } from '../functions/api/context.ts';
import { createApiHandler } from '../functions/api/handler.ts';
import { relayOperations } from '../functions/api/relay-operations.ts';
import { withMetricBatch } from '../functions/core/metric-batch.ts';
import {
  emfMetrics,
  type JobMetrics,
  type MetricContext,
  type MetricValues,
} from '../functions/core/metrics.ts';
import { JobMetricsRecorder } from '../functions/jobs/job-metrics.ts';
import { pullJob as job } from './support/jobs.ts';
import { freshStore, type TestStore } from './support/store.ts';

interface Recorded {
  readonly queue: string;
  readonly values: MetricValues;
  readonly context?: MetricContext;
}

/** Keeps every record the sink got, as it got it. */
function recording(): JobMetrics & { records: Recorded[] } {
  const records: Recorded[] = [];
  return {
    records,
    record(queue, values, context) {
      records.push(context === undefined ? { queue, values } : { queue, values, context });
    },
  };
}

const ref = (id: string, queue = 'q') => ({ queue, id });

describe('withMetricBatch', () => {
  it('writes the records of one call when it ends, one per queue, each metric as its values in order', async () => {
    const sink = recording();
    const metrics = new JobMetricsRecorder(sink);

    await withMetricBatch(async () => {
      metrics.cancelled(ref('a'));
      metrics.cancelled(ref('b', 'other'));
      metrics.died(ref('c'));
      expect(sink.records).toEqual([]);
    });

    expect(sink.records).toEqual([
      { queue: 'q', values: { Cancelled: [1], Dead: [1] } },
      { queue: 'other', values: { Cancelled: 1 }, context: { job_id: 'b' } },
    ]);
  });

  it('keeps a lone record as it was, correlation keys included', async () => {
    const sink = recording();

    await withMetricBatch(async () => new JobMetricsRecorder(sink).cancelled(ref('a')));

    expect(sink.records).toEqual([{ queue: 'q', values: { Cancelled: 1 }, context: { job_id: 'a' } }]);
  });

  it('writes at most 100 values of a metric per record, as EMF allows', async () => {
    const sink = recording();
    const metrics = new JobMetricsRecorder(sink);

    await withMetricBatch(async () => {
      for (let i = 0; i < 150; i++) metrics.cancelled(ref(`j${i}`));
    });

    expect(sink.records.map((r) => (r.values.Cancelled as number[]).length)).toEqual([100, 50]);
  });

  it('writes the records of a call that throws', async () => {
    const sink = recording();

    const call = withMetricBatch(async () => {
      new JobMetricsRecorder(sink).cancelled(ref('a'));
      throw new Error('operation failed');
    });

    await expect(call).rejects.toThrow('operation failed');
    expect(sink.records).toHaveLength(1);
  });

  it('keeps the records of concurrent calls apart', async () => {
    const sink = recording();
    const metrics = new JobMetricsRecorder(sink);
    const call = (id: string) =>
      withMetricBatch(async () => {
        metrics.cancelled(ref(id));
        await new Promise((resolve) => setImmediate(resolve));
        metrics.cancelled(ref(id));
      });

    await Promise.all([call('a'), call('b')]);

    expect(sink.records).toEqual([
      { queue: 'q', values: { Cancelled: [1, 1] } },
      { queue: 'q', values: { Cancelled: [1, 1] } },
    ]);
  });

  it('answers the call when the sink throws at its end', async () => {
    const broken: JobMetrics = {
      record() {
        throw new Error('sink down');
      },
    };

    const answer = await withMetricBatch(async () => {
      new JobMetricsRecorder(broken).cancelled(ref('a'));
      return 'answered';
    });

    expect(answer).toBe('answered');
  });

  it('writes records made outside any call at once', () => {
    const sink = recording();

    new JobMetricsRecorder(sink).cancelled(ref('a'));

    expect(sink.records).toHaveLength(1);
  });
});

describe('API handlers and EMF', () => {
  let fresh: TestStore;
  let lines: string[];

  beforeEach(async () => {
    lines = [];
    fresh = await freshStore({ metrics: emfMetrics((line) => lines.push(line)) });
  });

  afterEach(async () => {
    await fresh.dispose();
  });

  /** A v2 claim of `count` jobs of queue `q`, as API Gateway hands it to the function. */
  const claimEvent = (count: number) =>
    ({
      version: '2.0',
      routeKey: '$default',
      rawPath: '/v2/queues/q/jobs',
      rawQueryString: `num_jobs=${count}`,
      queryStringParameters: { num_jobs: String(count) },
      headers: {},
      isBase64Encoded: false,
      requestContext: { http: { method: 'GET', path: '/v2/queues/q/jobs' } },
    }) as unknown as APIGatewayProxyEventV2;

  it('writes one EMF line for a claim of several jobs, with every claim and its wait as samples', async () => {
    for (const id of ['a', 'b', 'c']) await fresh.store.enqueue(job(id));
    lines.length = 0;
    const handler = createApiHandler('relay', relayOperations, () => contextFor(fresh.store));

    const result = await handler(claimEvent(3), {} as never);

    expect(JSON.parse(String(result.body))).toHaveLength(3);
    expect(lines).toHaveLength(1);
    const line = JSON.parse(lines[0] ?? '');
    expect(line).toMatchObject({ queue: 'q', Claimed: [1, 1, 1] });
    expect(line.QueueWait).toHaveLength(3);
    expect(line._aws.CloudWatchMetrics[0].Metrics).toEqual([
      { Name: 'Claimed' },
      { Name: 'QueueWait', Unit: 'Milliseconds' },
    ]);
  });
});
