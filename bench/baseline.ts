/**
 * Today's pull drain against a baseline revision's, in the same run on the same machine: the
 * "≥ 2× today's jobs/s" target is a ratio, and only a ratio measured side by side means anything
 * on a shared machine.
 *
 * The baseline is built from git into a temporary worktree (its `node_modules` linked to this
 * checkout's when the lockfiles match, else installed with `npm ci`). Each side then runs as
 * `relay dev` (its own dist/relay.mjs, DynamoDB Local and fauxqs) in a child process of its own, and
 * the same client (throughput.ts's drain: W workers, `num_jobs`, completions) drains the same
 * backlog from each, alternately, a few rounds. The worktree is removed afterwards.
 *
 * `RELAY_BENCH_BASELINE=<rev>` (or `--baseline=<rev>`) picks the revision; `none` skips the section.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { existsSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Bench, BenchContext } from './section.ts';
import { num, round, table } from './stats.ts';
import { type DrainResult, drain, FULL, type PullParameters, QUICK, relayV2 } from './throughput.ts';

/** The revision the issue's "today" refers to: main when the speed work began. */
export const BASELINE_REV = '17057e9';

const ROOT = new URL('..', import.meta.url).pathname;

/** The baseline revision asked for, or `undefined` to skip. */
export function baselineRev(argv = process.argv, env = process.env): string | undefined {
  const flag = argv.find((a) => a.startsWith('--baseline='))?.slice('--baseline='.length);
  const rev = flag ?? env.RELAY_BENCH_BASELINE ?? BASELINE_REV;
  return rev === 'none' ? undefined : rev;
}

const git = (cwd: string, ...args: string[]) =>
  execFileSync('git', args, { cwd, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }).trim();

/** A built checkout of `rev` in a temporary worktree, and how to remove it. */
function prepare(
  rev: string,
  log: (line: string) => void,
): { dir: string; commit: string; remove: () => void } {
  const commit = git(ROOT, 'rev-parse', '--short', `${rev}^{commit}`);
  const dir = join(tmpdir(), `relay-baseline-${commit}-${process.pid}`);
  git(ROOT, 'worktree', 'add', '--detach', '--force', dir, commit);
  const remove = () => {
    try {
      git(ROOT, 'worktree', 'remove', '--force', dir);
    } catch {
      rmSync(dir, { recursive: true, force: true });
      git(ROOT, 'worktree', 'prune');
    }
  };
  try {
    const sameLock =
      readFileSync(join(ROOT, 'package-lock.json'), 'utf8') ===
      readFileSync(join(dir, 'package-lock.json'), 'utf8');
    if (sameLock) symlinkSync(join(ROOT, 'node_modules'), join(dir, 'node_modules'), 'dir');
    else {
      log(`   baseline ${commit}: lockfile differs, npm ci…`);
      execFileSync('npm', ['ci', '--ignore-scripts', '--no-audit', '--no-fund'], {
        cwd: dir,
        stdio: 'ignore',
      });
    }
    execFileSync('node', ['scripts/build.mjs'], { cwd: dir, stdio: 'ignore' });
    return { dir, commit, remove };
  } catch (error) {
    remove();
    throw error;
  }
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

/** `relay dev` of checkout `dir` on a free port, once its API answers. */
async function startRelay(dir: string): Promise<{ url: string; stop: () => Promise<void> }> {
  const port = await freePort();
  const child: ChildProcess = spawn(
    process.execPath,
    [join(dir, 'dist', 'relay.mjs'), 'dev', '--port', String(port)],
    {
      cwd: dir,
      // As on Lambda: EMF on, Relay's own logs off; nothing of it reaches the bench's terminal.
      env: { ...process.env, RELAY_METRICS: 'emf', RELAY_LOG_LEVEL: 'silent', NODE_OPTIONS: '' },
      stdio: ['ignore', 'ignore', 'pipe'],
    },
  );
  let stderr = '';
  child.stderr?.on('data', (chunk) => {
    stderr = `${stderr}${chunk}`.slice(-4000);
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const stop = async () => {
    if (child.exitCode === null) child.kill('SIGTERM');
    await Promise.race([exited, new Promise((resolve) => setTimeout(resolve, 15_000))]);
    if (child.exitCode === null) child.kill('SIGKILL');
  };
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 120_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`relay dev of ${dir} exited ${child.exitCode}: ${stderr}`);
    const ok = await fetch(`${url}/health`).then(
      (r) => r.ok,
      () => false,
    );
    if (ok) return { url, stop };
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`relay dev of ${dir} did not answer within 120 s: ${stderr}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

/**
 * A drain of the stack at `url`. The table name only feeds an in-process request count, which a
 * child's server never reaches.
 */
const drainOn = (url: string, p: PullParameters): Promise<DrainResult> =>
  drain(relayV2(url), p, 'not-in-this-process');

const median = (values: readonly number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2
    ? (sorted[mid] as number)
    : ((sorted[mid - 1] as number) + (sorted[mid] as number)) / 2;
};

/** The target: today's drain at least twice the baseline's jobs/s. */
export const DRAIN_RATIO_TARGET = 2;

export const bench: Bench = async (ctx: BenchContext) => {
  const rev = baselineRev();
  if (!rev) {
    ctx.log('   baseline: skipped (none asked for)');
    return [];
  }
  const current = join(ROOT, 'dist', 'relay.mjs');
  if (!existsSync(current)) throw new Error('dist/relay.mjs is missing: run `npm run build`');
  const p = ctx.quick ? QUICK.pull : FULL.pull;
  const rounds = ctx.quick ? 1 : 3;
  const baseline = prepare(rev, ctx.log);
  const runs: { side: 'baseline' | 'current'; jobs_per_s: number }[] = [];
  const stacks: { side: 'baseline' | 'current'; url: string; stop: () => Promise<void> }[] = [];
  try {
    // Each side's stack starts once and drains one backlog unmeasured: DynamoDB Local's JVM and V8
    // compile their hot paths during it (a fresh JVM's first few thousand requests cost it two to
    // four times the CPU of later ones), so the rounds compare running stacks, not cold starts.
    for (const [side, dir] of [
      ['baseline', baseline.dir],
      ['current', ROOT],
    ] as const) {
      const relay = await startRelay(dir);
      stacks.push({ side, ...relay });
      const warm = await drainOn(relay.url, p);
      ctx.log(`   ${side}: ${num(warm.drain_jobs_per_s)} jobs/s warming up (not counted)`);
    }
    for (let round = 0; round < rounds; round++) {
      // Alternating, so a change in the machine's load falls on both sides alike.
      for (const { side, url } of stacks) {
        const result = await drainOn(url, p);
        runs.push({ side, jobs_per_s: result.drain_jobs_per_s });
        ctx.log(`   ${side}: ${num(result.drain_jobs_per_s)} jobs/s`);
      }
    }
  } finally {
    await Promise.all(stacks.map((stack) => stack.stop()));
    baseline.remove();
  }
  const of = (side: string) => median(runs.filter((r) => r.side === side).map((r) => r.jobs_per_s));
  const ratio = of('current') / of('baseline');
  const markdown = `${table(
    ['checkout', 'revision', 'drain jobs/s (median)', 'rounds'],
    [
      ['baseline', `\`${baseline.commit}\``, num(of('baseline')), rounds],
      ['this one', 'the commit above', num(of('current')), rounds],
    ],
  )}

Today's code drains **${num(ratio, 2)}×** the baseline's jobs/s (target ≥ ${DRAIN_RATIO_TARGET}×: ${ratio >= DRAIN_RATIO_TARGET ? 'met' : 'not met'}).

**How measured.** The baseline revision \`${baseline.commit}\` is checked out into a temporary git worktree and built (\`node scripts/build.mjs\`; its \`node_modules\` is this checkout's when the lockfiles are the same, else \`npm ci\`). Each side runs as \`relay dev\` from its own dist/relay.mjs in a child process, with its own DynamoDB Local and fauxqs and \`RELAY_METRICS=emf\` as on Lambda, started once and warmed by one unmeasured drain (a fresh JVM spends its first few thousand requests compiling, at two to four times the CPU per request of a warm one); then the same client drains the same backlog from each, on a fresh queue: ${num(p.jobs)} jobs enqueued in batches of ${p.enqueue_batch}, then ${p.workers} workers claiming \`num_jobs=${p.claim_batch}\` and completing each job (as "Throughput and latency"). The sides alternate for ${rounds} round${rounds > 1 ? 's' : ''}, so load on the machine falls on both alike; the ratio is of the medians. Another baseline: \`RELAY_BENCH_BASELINE=<rev> npm run bench\` (or \`-- --baseline=<rev>\`); \`none\` skips this section.`;
  return [
    {
      id: 'baseline',
      title: 'Against the baseline',
      parameters: { revision: baseline.commit, rounds, pull: p },
      results: {
        runs,
        baseline_jobs_per_s: of('baseline'),
        current_jobs_per_s: of('current'),
        ratio: round(ratio, 2),
      },
      markdown,
    },
  ];
};
