/**
 * The one backoff module: a job's retry delay under its policy, and the delay before a client
 * retries a call.
 */
import { describe, expect, it } from 'vitest';
import { backoffSeconds, retryDelayMs } from '../functions/core/backoff.ts';

const policy = { strategy: 'exponential', base_seconds: 2, max_seconds: 60, jitter: 'none' } as const;

describe('backoffSeconds', () => {
  it('doubles from the base with each retry and stops at the maximum', () => {
    expect([1, 2, 3, 4, 5, 6, 7].map((retry) => backoffSeconds(policy, retry, null))).toEqual([
      2, 4, 8, 16, 32, 60, 60,
    ]);
  });

  it('waits the base every time for a fixed strategy', () => {
    expect(backoffSeconds({ ...policy, strategy: 'fixed' }, 5, null)).toBe(2);
  });

  it('draws full jitter below the delay and equal jitter from its upper half', () => {
    expect(backoffSeconds({ ...policy, jitter: 'full' }, 3, null, () => 0.25)).toBe(2);
    expect(backoffSeconds({ ...policy, jitter: 'equal' }, 3, null, () => 0)).toBe(4);
  });

  it('draws decorrelated jitter between the base and three times the previous delay, capped', () => {
    expect(backoffSeconds({ ...policy, jitter: 'decorrelated' }, 2, 10, () => 1)).toBe(30);
    expect(backoffSeconds({ ...policy, jitter: 'decorrelated' }, 9, 50, () => 1)).toBe(60);
  });

  it('stays finite for a retry number past what doubling can hold', () => {
    expect(backoffSeconds(policy, 5_000, null)).toBe(60);
  });
});

describe('retryDelayMs', () => {
  it('draws full jitter below an exponential ceiling, capped', () => {
    expect(retryDelayMs(0, { baseMs: 100, maxMs: 1_000 }, () => 0.999)).toBeCloseTo(99.9);
    expect(retryDelayMs(3, { baseMs: 100, maxMs: 1_000 }, () => 0.5)).toBe(400);
    expect(retryDelayMs(10, { baseMs: 100, maxMs: 1_000 }, () => 1)).toBe(1_000);
  });

  it('never waits less than half the ceiling with equal jitter', () => {
    expect(retryDelayMs(2, { baseMs: 100, maxMs: 1_000, jitter: 'equal' }, () => 0)).toBe(200);
  });
});
