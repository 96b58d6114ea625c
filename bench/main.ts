/**
 * `npm run bench`: Relay's figures, reproducibly, from one command on the local stack.
 *
 * Starts the whole local stack once (DynamoDB Local, fauxqs, the real handlers on a free port,
 * runner child processes), runs each measurement in turn, and writes bench/results.json and
 * BENCHMARKS.md (machine, date, commit, parameters, figures, how to reproduce).
 * `npm run bench -- --quick` runs every measurement with tiny parameters, as a smoke test;
 * `--only=economy,idle` runs only the named measurements (by their key below), and writes nothing.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, freemem, loadavg, platform, release, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { readConfig } from '../functions/core/config.ts';
import { startLocalStack } from '../functions/local/stack.ts';
import { BASELINE_REV, bench as baseline } from './baseline.ts';
import { bench as ceiling } from './ceiling.ts';
import { bench as coldStart } from './cold-start.ts';
import { bench as contention } from './contention.ts';
import { bench as economy } from './economy.ts';
import { bench as idle } from './idle.ts';
import { bench as latency } from './latency.ts';
import { tapHandlerLogs } from './log-bytes.ts';
import type { Bench, BenchSection } from './section.ts';
import { targets } from './targets.ts';
import { bench as throughput } from './throughput.ts';

/** The measurements by key, in the order they run and appear in BENCHMARKS.md. */
const BENCHES: readonly [string, string, Bench][] = [
  ['throughput', 'throughput and latency', throughput],
  ['latency', 'latency of one job', latency],
  ['baseline', 'against the baseline', baseline],
  ['economy', 'request economy and cost', economy],
  ['idle', 'idle workers', idle],
  ['contention', 'claim contention', contention],
  ['ceiling', 'per-queue ceiling', ceiling],
  ['cold-start', 'cold start proxy', coldStart],
];

const root = new URL('..', import.meta.url);
const git = (...args: string[]) => {
  try {
    return execFileSync('git', args, { cwd: root, encoding: 'utf8' }).trim();
  } catch {
    return 'unknown';
  }
};

function machine() {
  const cores = cpus();
  return {
    cpu: cores[0]?.model ?? 'unknown',
    cores: cores.length,
    memory_gib: Math.round((totalmem() / 2 ** 30) * 10) / 10,
    free_memory_gib: Math.round((freemem() / 2 ** 30) * 10) / 10,
    os: `${platform()} ${release()}`,
    node: process.version,
    /** 1-minute load average: other work on the machine skews rates and latencies. */
    load_1m: Math.round((loadavg()[0] ?? 0) * 10) / 10,
  };
}

async function main(): Promise<void> {
  const quick = process.argv.includes('--quick');
  const only = process.argv
    .find((a) => a.startsWith('--only='))
    ?.slice('--only='.length)
    .split(',');
  const unknown = only?.filter((key) => !BENCHES.some(([k]) => k === key)) ?? [];
  if (unknown.length)
    throw new Error(
      `--only: no measurement ${unknown.join(', ')}; one of ${BENCHES.map(([k]) => k).join(', ')}`,
    );
  process.env.RELAY_LOG_LEVEL ??= 'silent';
  const print = tapHandlerLogs();
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
  const started = Date.now();
  const workDir = mkdtempSync(join(tmpdir(), 'relay-bench-'));
  const log = (line: string) => print(`${line}\n`);
  const dirty = git('status', '--porcelain', '--untracked-files=no') !== '';
  const commit = `${git('rev-parse', '--short', 'HEAD')}${dirty ? ' (with uncommitted changes)' : ''}`;

  const loadAtStart = machine().load_1m;
  // Metrics as on Lambda, so the handlers do the work they do there and the economy can count their
  // lines. Only the stack's own handlers: runner processes, which print to the terminal, get it
  // from the economy's preload alone.
  const metrics = process.env.RELAY_METRICS;
  process.env.RELAY_METRICS ??= 'emf';
  const stack = await startLocalStack({ port: 0 }).finally(() => {
    if (metrics === undefined) delete process.env.RELAY_METRICS;
  });
  const config = readConfig({ ...process.env, ...stack.environment });
  const sections: BenchSection[] = [];
  const timings: Record<string, number> = {};
  try {
    for (const [key, name, run] of BENCHES) {
      if (only && !only.includes(key)) continue;
      log(`\n== ${name}${quick ? ' (quick)' : ''}`);
      const at = Date.now();
      sections.push(...(await run({ stack, config, quick, log, workDir })));
      timings[name] = Math.round((Date.now() - at) / 1000);
      log(`   ${timings[name]} s`);
    }
  } finally {
    await stack.stop();
    rmSync(workDir, { recursive: true, force: true });
  }

  // The targets read the other sections' figures, and come first in BENCHMARKS.md.
  sections.unshift(targets(sections));
  const report = {
    date: new Date().toISOString(),
    commit,
    machine: { ...machine(), load_1m_at_start: loadAtStart },
    quick,
    duration_s: Math.round((Date.now() - started) / 1000),
    timings_s: timings,
    sections: Object.fromEntries(
      sections.map((s) => [s.id, { parameters: s.parameters, results: s.results }]),
    ),
  };
  if (quick || only) {
    log(`\n${quick ? 'quick' : 'partial'} run: ${report.duration_s} s; results not written`);
    if (only) {
      const partial = join(tmpdir(), 'relay-bench-partial.json');
      writeFileSync(partial, `${JSON.stringify(report, null, 2)}\n`);
      log(
        `${sections.map((s) => `## ${s.title}\n\n${s.markdown.trim()}\n`).join('\n')}\nfigures in ${partial}`,
      );
    }
    return;
  }
  writeFileSync(new URL('bench/results.json', root), `${JSON.stringify(report, null, 2)}\n`);
  writeFileSync(new URL('BENCHMARKS.md', root), markdown(report, sections));
  log(`\nwrote bench/results.json and BENCHMARKS.md in ${report.duration_s} s`);
}

function markdown(
  report: { date: string; commit: string; duration_s: number } & Record<string, unknown>,
  sections: BenchSection[],
): string {
  const m = report.machine as ReturnType<typeof machine>;
  return `# Relay benchmarks

Figures from \`npm run bench\` on the local stack: DynamoDB Local and fauxqs (SQS) embedded, the
real Lambda handlers behind the local HTTP adapter, managed runs as child processes. Throughput and
latency are this machine's, not AWS's; request counts, capacity units and the costs derived from
them are what the same code asks of AWS. Regenerate with \`npm ci && npm run bench\` (about
${Math.max(1, Math.round(report.duration_s / 60))} minutes; raw figures in \`bench/results.json\`).
\`npm run bench -- --quick\` is a smoke run with tiny parameters and \`npm run bench -- --only=economy,idle\`
runs the named sections; neither writes this file. "Against the baseline" builds a baseline revision
(\`${BASELINE_REV}\` unless \`RELAY_BENCH_BASELINE=<rev>\` names another; \`none\` skips it) in a temporary
git worktree and drains the same backlog from it and from this checkout, alternately.

| | |
| --- | --- |
| date | ${report.date} |
| commit | ${report.commit} |
| machine | ${m.cpu}, ${m.cores} cores, ${m.memory_gib} GiB, ${m.os} |
| load average (1 min) | ${(m as { load_1m_at_start?: number }).load_1m_at_start} at the start, ${m.load_1m} at the end |
| Node.js | ${m.node} |
| run time | ${report.duration_s} s |

${sections.map((s) => `## ${s.title}\n\n${s.markdown.trim()}\n`).join('\n')}`;
}

await main();
