/**
 * What the dashboard derives from the API's answers, apart from the browser: the queues page's
 * trends, which payload values it hides, and which actions it offers for a job.
 */
import { describe, expect, it } from 'vitest';
import { completedPerMinute, longestWait } from '../functions/dashboard/app/trends.ts';
import { cancellable, retryable, withoutSecrets } from '../functions/dashboard/app/views.ts';
import type { Job, JobStatus } from '../functions/sdk/client.ts';

const NOW = Date.parse('2030-01-01T12:00:00Z');
const at = (msBeforeNow: number) => new Date(NOW - msBeforeNow).toISOString();

/** A job with only the fields the page reads set. */
const job = (fields: Partial<Job>): Job =>
  ({ status: 'pending', run_at: null, created_at: null, updated_at: null, ...fields }) as Job;

describe('completedPerMinute', () => {
  it('counts completions in each of the last 15 minutes, oldest first', () => {
    const done = [at(10_000), at(50_000), at(61_000), at(14 * 60_000 + 1)].map((t) => job({ updated_at: t }));

    const minutes = completedPerMinute(done, NOW);

    expect(minutes).toHaveLength(15);
    expect(minutes[14]).toBe(2);
    expect(minutes[13]).toBe(1);
    expect(minutes[0]).toBe(1);
  });

  it('leaves out completions older than 15 minutes', () => {
    expect(completedPerMinute([job({ updated_at: at(15 * 60_000 + 1) })], NOW)).toEqual(
      new Array(15).fill(0),
    );
  });
});

describe('longestWait', () => {
  it('is how long the longest-waiting due job has waited, from its run_at', () => {
    const pending = [job({ run_at: at(5_000) }), job({ run_at: at(42_000) }), job({ run_at: at(1_000) })];

    expect(longestWait(pending, NOW)).toBe(42_000);
  });

  it('does not count jobs that are not due yet', () => {
    expect(longestWait([job({ run_at: new Date(NOW + 60_000).toISOString() })], NOW)).toBe(0);
  });
});

describe('withoutSecrets', () => {
  it('shows the names of a payload’s env, never their values', () => {
    const payload = { command: 'deploy', env: { API_KEY: 'secret', REGION: 'eu' } };

    expect(withoutSecrets(payload)).toEqual({
      command: 'deploy',
      env: { API_KEY: '(hidden)', REGION: '(hidden)' },
    });
    expect(JSON.stringify(withoutSecrets(payload))).not.toContain('secret');
  });

  it('leaves a payload without env as it is', () => {
    expect(withoutSecrets({ to: 'a@example.com' })).toEqual({ to: 'a@example.com' });
    expect(withoutSecrets([1, 2])).toEqual([1, 2]);
    expect(withoutSecrets('text')).toBe('text');
  });
});

describe('the actions a job page offers', () => {
  it.each<[JobStatus, boolean, boolean]>([
    ['pending', true, false],
    ['scheduled', true, false],
    ['running', true, false],
    ['failed', true, true],
    ['dead', false, true],
    ['cancelled', false, true],
    ['completed', false, false],
  ])('for a %s job: cancel %s, retry %s', (status, cancel, retry) => {
    expect(cancellable(job({ status }))).toBe(cancel);
    expect(retryable(job({ status }))).toBe(retry);
  });
});
