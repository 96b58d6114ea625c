import type { Backoff } from './model.ts';

/**
 * Seconds to wait before retry number `retry` (1 for the first retry) of a failed run.
 *
 * Jitter follows the AWS Architecture Blog's "Exponential Backoff And Jitter": `full` draws from
 * [0, d], `equal` from [d/2, d], `decorrelated` from [base, 3 × previous] capped at max.
 * https://aws.amazon.com/blogs/architecture/exponential-backoff-and-jitter/
 */
export function backoffSeconds(
  backoff: Backoff,
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
