import { describe, expect, it } from 'vitest';
import { documentedClaims } from '../bench/idle.ts';
import { accessLogLine, billedBytes, EVENT_OVERHEAD_BYTES, platformLines } from '../bench/log-bytes.ts';
import type { BenchSection } from '../bench/section.ts';
import { targets } from '../bench/targets.ts';
import { ACCESS_LOG_FIELDS } from '../lib/access-log.ts';
import { DEFAULT_PLATFORM_LOGS } from '../lib/function-logging.ts';

const section = (id: string, results: unknown): BenchSection => ({
  id,
  title: id,
  parameters: {},
  results,
  markdown: '',
});

describe('the cost model of CloudWatch Logs', () => {
  it('renders the access log line with every field RelayApi logs, and the route template as its key', () => {
    const line = JSON.parse(accessLogLine({ method: 'GET', path: '/v2/queues/emails/jobs', status: 204 }));

    expect(Object.keys(line)).toEqual(Object.keys(ACCESS_LOG_FIELDS));
    expect(line).toMatchObject({ routeKey: 'GET /v2/queues/{queue}/jobs', status: '204' });
  });

  it('prices no system log line for a successful invocation at the level the functions are deployed with', () => {
    expect(DEFAULT_PLATFORM_LOGS).toBe('warn');
    expect(platformLines(512)).toEqual({ lines: 0, bytes: 0 });
  });

  it('prices start, runtime-done and report as JSON events when the system logs are at info', () => {
    const lines = platformLines(512, 'info');

    expect(lines.lines).toBe(3);
    expect(billedBytes(lines)).toBe(lines.bytes + 3 * EVENT_OVERHEAD_BYTES);
  });
});

describe('the idle long poll model', () => {
  it('claims at 0, 1, 3, 5 … 19 s and at the end of a 20 s wait', () => {
    expect(documentedClaims(20)).toBe(12);
  });

  it('claims at 0 and 1 s and at the end of a 2 s wait', () => {
    expect(documentedClaims(2)).toBe(3);
  });
});

describe('targets', () => {
  it('judges a figure against its target, and says which were not measured', () => {
    const economy = section('economy', [
      { kind: 'single', label: '(a)', wruPerJob: 7.4, lostRaceWruPerJob: 0.5, usdPerMillion: { total: 8.9 } },
      { kind: 'batched', label: '(b)', wruPerJob: 8, lostRaceWruPerJob: 0, usdPerMillion: { total: 6 } },
    ]);

    const rows = targets([economy]).results as { what: string; value: number | null; met: boolean | null }[];
    const row = (what: string) => rows.find((r) => r.what.startsWith(what));

    expect(row('WRU per pull job')).toMatchObject({ value: 6.9, met: true });
    expect(row('all-in $ per million pull jobs, one call')).toMatchObject({ value: 8.9, met: true });
    expect(row('all-in $ per million pull jobs, batched')).toMatchObject({ value: 6, met: false });
    expect(row('pull drain jobs/s against the baseline')).toMatchObject({ value: null, met: null });
  });

  it('judges the cold start by its largest bundle and its slowest handler', () => {
    const coldStart = section('cold-start', [
      { handler: 'relay', ownKiB: 150, bundled: { totalMs: 60 } },
      { handler: 'jobs', ownKiB: 199, bundled: { totalMs: 95 } },
      { handler: 'fallback', ownKiB: 120, bundled: { totalMs: 40 } },
    ]);

    const rows = targets([coldStart]).results as {
      what: string;
      value: number | null;
      met: boolean | null;
    }[];
    const row = (what: string) => rows.find((r) => r.what.startsWith(what));

    expect(row('every handler bundle')).toMatchObject({ value: 199, met: true });
    expect(row('import + first request')).toMatchObject({ value: 95, met: false });
  });
});
