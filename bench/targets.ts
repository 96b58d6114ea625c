/**
 * The speed and cost targets of the issue, each read from the figures of this run, with whether it
 * was met. A target whose section did not run (`--only`) or whose feature the server lacks (long
 * polls) says so instead of passing.
 */
import { OWN_CODE_CEILING_BYTES } from '../scripts/bundles.ts';
import { DRAIN_RATIO_TARGET } from './baseline.ts';
import { PULL_TARGETS_USD } from './economy.ts';
import type { BenchSection } from './section.ts';
import { num, table } from './stats.ts';

interface Target {
  readonly what: string;
  readonly target: string;
  /** The measured figure, or `undefined` when this run did not measure it. */
  readonly value: number | undefined;
  readonly met: (value: number) => boolean;
  readonly unit: string;
  readonly digits?: number;
  /** Where the figure comes from in BENCHMARKS.md. */
  readonly source: string;
}

type Results = Record<string, unknown>;

/** `path` (dot-separated) of a section's results, or `undefined`. */
function at(
  sections: readonly BenchSection[],
  id: string,
  pick: (results: Results) => unknown,
): number | undefined {
  const section = sections.find((s) => s.id === id);
  if (!section) return undefined;
  try {
    const value = pick(section.results as Results);
    return typeof value === 'number' && Number.isFinite(value) ? value : undefined;
  } catch {
    return undefined;
  }
}

// biome-ignore lint/suspicious/noExplicitAny: results.json shapes of several sections, read defensively
type Loose = any;

export function targets(sections: readonly BenchSection[]): BenchSection {
  const economy = (kind: string) => (r: Loose) =>
    (r as Loose[]).find((c) => c.kind === kind && !c.label.includes('′'));
  /** The cold start proxy's largest figure over every handler. */
  const worstHandler = (pick: (handler: Loose) => number) =>
    at(sections, 'cold-start', (r: Loose) => Math.max(...(r as Loose[]).map(pick)));
  const ownCodeKiB = OWN_CODE_CEILING_BYTES / 1024;
  const list: Target[] = [
    {
      what: 'managed `/bin/true` submit → completed p50, one at a time',
      target: '≤ 100 ms',
      value: at(sections, 'managed', (r: Loose) => r.sequential.enqueue_to_completed_ms.p50),
      met: (v) => v <= 100,
      unit: 'ms',
      source: 'Managed runs',
    },
    {
      what: 'managed `/bin/true` submit → completed p50, 100 at once',
      target: '≤ 3 s',
      value: at(sections, 'managed', (r: Loose) => r.burst.enqueue_to_completed_ms.p50 / 1000),
      met: (v) => v <= 3,
      unit: 's',
      digits: 2,
      source: 'Managed runs',
    },
    {
      what: 'pull drain, 8 workers: DynamoDB requests per job',
      target: '≤ 3.0',
      value: at(sections, 'throughput', (r: Loose) => r.pull.drain.dynamodb_requests_per_job),
      met: (v) => v <= 3,
      unit: '',
      digits: 1,
      source: 'Throughput and latency',
    },
    {
      what: 'pull drain jobs/s against the baseline, same run',
      target: `≥ ${DRAIN_RATIO_TARGET}×`,
      value: at(sections, 'baseline', (r: Loose) => r.ratio),
      met: (v) => v >= DRAIN_RATIO_TARGET,
      unit: '×',
      digits: 2,
      source: 'Against the baseline',
    },
    {
      what: 'pull enqueue → claim p50 with long polls, one job per enqueue (local)',
      target: '≤ 20 ms',
      value: at(sections, 'latency', (r: Loose) => r.pull_long_poll.enqueue_to_claim_ms.p50),
      met: (v) => v <= 20,
      unit: 'ms',
      source: 'Latency of one job',
    },
    {
      what: 'failed conditional writes per claim, 16 claimers, default queue',
      target: '≤ 0.3',
      value: at(
        sections,
        'contention',
        (r: Loose) =>
          (r as Loose[]).find((x) => x.mode === 'priority' && x.claimers === 16 && x.num_jobs === 1)
            ?.failures_per_claim,
      ),
      met: (v) => v <= 0.3,
      unit: '',
      digits: 2,
      source: 'Claim contention',
    },
    {
      what: 'WRU per pull job (its own writes, lost races apart)',
      target: '≤ 7',
      value: at(sections, 'economy', (r) => {
        const c = economy('single')(r);
        return c.wruPerJob - c.lostRaceWruPerJob;
      }),
      met: (v) => v <= 7,
      unit: '',
      digits: 2,
      source: 'Cost per job',
    },
    {
      what: 'every handler bundle: Relay’s own code and zod, largest',
      target: `≤ ${ownCodeKiB} KiB`,
      value: worstHandler((h) => h.ownKiB),
      met: (v) => v <= ownCodeKiB,
      unit: 'KiB',
      digits: 1,
      source: 'Cold start proxy',
    },
    {
      what: 'import + first request median, SDK bundled, slowest handler',
      target: '≤ 90 ms',
      value: worstHandler((h) => h.bundled.totalMs),
      met: (v) => v <= 90,
      unit: 'ms',
      digits: 1,
      source: 'Cold start proxy',
    },
    {
      what: 'all-in $ per million pull jobs, one call per step',
      target: `≤ $${PULL_TARGETS_USD.single}`,
      value: at(sections, 'economy', (r) => economy('single')(r).usdPerMillion.total),
      met: (v) => v <= PULL_TARGETS_USD.single,
      unit: '$',
      digits: 2,
      source: 'Cost per job',
    },
    {
      what: 'all-in $ per million pull jobs, batched',
      target: `≤ $${PULL_TARGETS_USD.batched}`,
      value: at(sections, 'economy', (r) => economy('batched')(r).usdPerMillion.total),
      met: (v) => v <= PULL_TARGETS_USD.batched,
      unit: '$',
      digits: 2,
      source: 'Cost per job',
    },
  ];
  const figure = (t: Target) =>
    t.value === undefined
      ? '–'
      : t.unit === '$'
        ? `$${num(t.value, t.digits)}`
        : `${num(t.value, t.digits ?? 0)}${t.unit && t.unit !== '×' ? ` ${t.unit}` : t.unit}`;
  const verdict = (t: Target) =>
    t.value === undefined ? 'not measured' : t.met(t.value) ? '**met**' : 'not met';
  const rows = list.map((t) => [t.what, t.target, figure(t), verdict(t), t.source]);
  return {
    id: 'targets',
    title: 'Targets',
    parameters: {},
    results: list.map((t) => ({
      what: t.what,
      target: t.target,
      value: t.value ?? null,
      met: t.value === undefined ? null : t.met(t.value),
    })),
    markdown: `${table(['figure', 'target', 'this run', 'verdict', 'section'], rows)}

Each figure is read from the section named, in this run. "Not measured": the section did not run, or the server lacks the feature (a long poll that answers at once).`,
  };
}
