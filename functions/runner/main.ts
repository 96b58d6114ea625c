/**
 * The shell runner program: runs one command and exits 0 ok, 1 failed, 124 timed out.
 *
 * As the Fargate entrypoint (and the local stack's per-run process) it takes a job reference
 * (`--job <queue> <id> <run_id>`) and reads the payload from the store: ECS container overrides are
 * limited to 8 KiB in total, too little for a payload
 * (https://docs.aws.amazon.com/AmazonECS/latest/APIReference/API_TaskOverride.html). It also runs a
 * bare command spec (a JSON file or `--spec '<json>'`), streaming the output to its own stdout and
 * stderr.
 *
 * Run as root (the Fargate task is), it starts the command as `RELAY_COMMAND_USER`: the command can
 * then read neither this process's environment (the task role's credentials URI, Relay's settings)
 * nor its memory.
 */
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import * as z from 'zod';
import { describeError, log } from '../core/log.ts';
import type { JobStore } from '../jobs/store.ts';
import { commandSpecSchema } from './command.ts';
import { type RunJobDeps, type RunRef, runJob } from './job.ts';
import { exitCodeFor, type RunDeps, runCommand } from './run.ts';
import { type Identity, SELF } from './sandbox.ts';

export interface MainDeps {
  /** Arguments after the program name. */
  readonly argv: readonly string[];
  readonly stdout: { write(text: string): unknown };
  readonly stderr: { write(text: string): unknown };
  readonly exit: (code: number) => void;
  /**
   * Stops the command, as SIGINT or SIGTERM to the runner does; its reason is why. A run of a job
   * stopped this way is given back (`releaseRun`), to run again without spending a retry.
   */
  readonly signal?: AbortSignal;
  readonly run?: Partial<RunDeps>;
  /** Who a bare spec's command runs as. @default this process's user */
  readonly identity?: Identity;
  /**
   * What a run of a job needs (its store, dispatch queue, identity, policy): the entry point builds
   * them from its environment, only when `--job` asks for one.
   */
  readonly job?: () => RunJobDeps;
}

const USAGE =
  "usage: relay-runner <spec.json> | relay-runner --spec '<json>' | relay-runner --job <queue> <id> <run_id>";

/**
 * Runs the spec named by `argv`, or with `--job <queue> <id> <run_id>` one claimed managed job, and
 * exits with the outcome's code.
 */
export async function main(deps: MainDeps): Promise<void> {
  const { argv, stdout, stderr, exit, signal, run } = deps;
  if (argv[0] === '--job') {
    const [queue, id, runId, ...extra] = argv.slice(1);
    if (!queue || !id || !runId || extra.length) {
      stderr.write(`relay-runner: ${USAGE}\n`);
      exit(1);
      return;
    }
    if (!deps.job) throw new Error('main: --job needs the run’s dependencies');
    const jobDeps: RunJobDeps = { signal, echoOutput: true, ...deps.job() };
    const ref = { queue, id, runId };
    const result = await runJob(ref, jobDeps);
    if (result.kind === 'stopped' && signal?.aborted) await giveBack(jobDeps.store, ref, signal.reason);
    // A stale reference (run already over or taken) is nothing to do, not a failure.
    exit(result.kind === 'stale' ? 0 : exitCodeFor(result.outcome));
    return;
  }
  const spec = readSpec(argv);
  if (typeof spec === 'string') {
    stderr.write(`relay-runner: ${spec}\n`);
    exit(1);
    return;
  }
  const outcome = await runCommand(
    spec,
    { identity: deps.identity ?? SELF, ...run },
    {
      signal,
      onOutput: (entry) => (entry.stream === 'stdout' ? stdout : stderr).write(entry.text),
    },
  );
  if (outcome.error) stderr.write(`relay-runner: ${outcome.error}\n`);
  exit(exitCodeFor(outcome));
}

/**
 * Gives back a run this runner was told to stop: the job waits again without spending a retry or
 * counting the attempt, and `last_error` says why. Fenced by the run id, so a run that was cancelled
 * or taken over meanwhile is left alone. Without this, a stopped stack's runs would show `running`
 * until their leases expired, then be retried as if they had failed.
 */
async function giveBack(store: JobStore, ref: RunRef, reason: unknown): Promise<void> {
  const fields = { queue: ref.queue, job_id: ref.id, run_id: ref.runId };
  try {
    const released = await store.releaseRun(ref.queue, ref.id, ref.runId, reasonOf(reason));
    if (released) log('info', 'run given back: it will run again', { ...fields, reason: reasonOf(reason) });
  } catch (error) {
    log('warn', 'could not give the run back; it is retried once its lease expires', {
      ...fields,
      ...describeError(error),
    });
  }
}

/** The validated spec, or what is wrong with the arguments. */
function readSpec(argv: readonly string[]) {
  let json: string;
  try {
    const { values, positionals } = parseArgs({
      args: [...argv],
      options: { spec: { type: 'string' } },
      allowPositionals: true,
    });
    const [path, ...extra] = positionals;
    if (extra.length === 0 && path === undefined && values.spec !== undefined) json = values.spec;
    else if (extra.length === 0 && path !== undefined && values.spec === undefined) {
      json = readFileSync(path, 'utf8');
    } else return USAGE;
  } catch (error) {
    return `${reasonOf(error)}\n${USAGE}`;
  }
  let raw: unknown;
  try {
    raw = JSON.parse(json);
  } catch (error) {
    return `spec is not JSON: ${reasonOf(error)}`;
  }
  const parsed = commandSpecSchema.safeParse(raw);
  return parsed.success ? parsed.data : `invalid spec:\n${z.prettifyError(parsed.error)}`;
}

const reasonOf = (error: unknown) => (error instanceof Error ? error.message : String(error));
