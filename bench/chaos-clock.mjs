/**
 * A skewed clock for one process of the reliability suite: `node --import ./bench/chaos-clock.mjs`
 * (or the same in NODE_OPTIONS, which child processes inherit) with `CHAOS_CLOCK_SKEW_MS` set to
 * a number of milliseconds, or to a comma-separated list to pick from at random per process.
 *
 * Only `Date.now` is moved: it is the clock Relay's store stamps leases, heartbeats and backoffs
 * with. The real time stays available as `performance.timeOrigin + performance.now()`, which the
 * suite's own run records use so that skew cannot hide or invent an overlap.
 */
const choices = (process.env.CHAOS_CLOCK_SKEW_MS ?? '')
  .split(',')
  .filter((value) => value.trim() !== '')
  .map(Number);

if (choices.length) {
  const skew = choices[Math.floor(Math.random() * choices.length)] ?? 0;
  if (!Number.isFinite(skew))
    throw new Error(`CHAOS_CLOCK_SKEW_MS must hold numbers; got ${process.env.CHAOS_CLOCK_SKEW_MS}`);
  const realNow = Date.now.bind(Date);
  Date.now = () => realNow() + skew;
}
