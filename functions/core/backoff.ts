/**
 * Backoff, the one module for it: how long a failed job waits before its retry (its own policy),
 * and how long Relay's clients wait before retrying a call (`retryDelayMs`).
 */

/** A job's retry policy (`Backoff` in functions/jobs/model.ts has this shape). */
export interface BackoffPolicy {
  readonly strategy: 'exponential' | 'fixed';
  readonly base_seconds: number;
  readonly max_seconds: number;
  readonly jitter: 'full' | 'equal' | 'decorrelated' | 'none';
}

/**
 * Seconds to wait before retry number `retry` (1 for the first retry) of a failed run.
 *
 * Jitter follows the AWS Architecture Blog's "Exponential Backoff And Jitter": `full` draws from
 * [0, d], `equal` from [d/2, d], `decorrelated` from [base, 3 × previous] capped at max.
 * https://aws.amazon.com/blogs/architecture/exponential-backoff-and-jitter/
 */
export function backoffSeconds(
  backoff: BackoffPolicy,
  retry: number,
  previousSeconds: number | null,
  random: () => number = Math.random,
): number {
  const { base_seconds: base, max_seconds: max } = backoff;
  if (backoff.jitter === 'decorrelated') {
    const upper = Math.max(base, (previousSeconds ?? base) * 3);
    return Math.min(max, base + random() * (upper - base));
  }
  const exponent = backoff.strategy === 'exponential' ? Math.max(0, retry - 1) : 0;
  // 2 ** 1024 is Infinity; cap the exponent so the arithmetic stays finite.
  const ceiling = Math.min(max, base * 2 ** Math.min(exponent, 60));
  switch (backoff.jitter) {
    case 'full':
      return random() * ceiling;
    case 'equal':
      return ceiling / 2 + (random() * ceiling) / 2;
    case 'none':
      return ceiling;
  }
}

/**
 * Milliseconds to wait before retrying a call the `attempt`-th time (0 for the first retry):
 * exponential from `baseMs`, capped at `maxMs`, with `full` jitter (anywhere below the ceiling: what
 * spreads many callers best) or `equal` jitter (the upper half: a floor for a poller's pause).
 */
export function retryDelayMs(
  attempt: number,
  policy: { readonly baseMs: number; readonly maxMs: number; readonly jitter?: 'full' | 'equal' },
  random: () => number = Math.random,
): number {
  const ceiling = Math.min(policy.maxMs, policy.baseMs * 2 ** Math.min(Math.max(0, attempt), 30));
  return policy.jitter === 'equal' ? ceiling / 2 + (random() * ceiling) / 2 : random() * ceiling;
}
