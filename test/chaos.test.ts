/**
 * Relay under faults, end to end on the local stack: the reliability suite of `npm run chaos`
 * (bench/chaos-scenarios.ts) at small sizes. Each scenario submits jobs, applies one fault while
 * they run, drains, and then holds Relay to its promises: no job is lost (every one ends completed
 * or dead), and no two runs of one job are ever alive at the same moment. A job may run again after
 * a crash (delivery is at-least-once), and may die after spending its retries on crashes.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  burst,
  type ChaosContext,
  chaosContext,
  clockSkew,
  commandKills,
  formatResult,
  injectedErrors,
  messageMisdelivery,
  type Scenario,
  type ScenarioResult,
  SHORT,
  stackKills,
  stackRestart,
  workerKills,
} from '../bench/chaos-scenarios.ts';
import { type LocalStack, startLocalStack } from '../functions/local/stack.ts';
import { INJECTED } from './support/faults.ts';
import { childHooksPreload } from './support/preload.ts';

/** A bound on one scenario, never an expectation: each drains in well under it on an idle machine. */
const SCENARIO_BOUND_MS = 150_000;

let workDir: string;
let stack: LocalStack;
let ctx: ChaosContext;

beforeAll(async () => {
  workDir = mkdtempSync(path.join(tmpdir(), 'relay-chaos-'));
  stack = await startLocalStack({ port: 0 });
  ctx = await chaosContext(stack, workDir, () => {});
});

afterAll(async () => {
  await stack?.stop();
  rmSync(workDir, { recursive: true, force: true });
});

/** Runs a scenario and prints its line, as `npm run chaos` does. */
async function run(scenario: Scenario): Promise<ScenarioResult> {
  const result = await scenario(ctx, SHORT);
  console.log(`${formatResult(result)}\n  ${result.detail}`);
  return result;
}

/**
 * Every job completed (each has retries enough for the faults it meets), none ran twice at once,
 * and the queue holds exactly the jobs submitted.
 */
function expectNothingLostOrOverlapping(result: ScenarioResult) {
  expect(result).toMatchObject({ lost: 0, duplicatesConcurrent: 0, unexpected: 0, dead: 0 });
  expect(result.completed).toBe(result.submitted);
  expect(result.runs).toBeGreaterThanOrEqual(result.completed + result.dead);
}

describe('fault injection in runner processes, by a preload in NODE_OPTIONS', () => {
  /** Runs the runner program for a job that does not exist, with the stack's settings and `env`. */
  const runner = (env: Record<string, string>) =>
    promisify(execFile)(
      process.execPath,
      [path.resolve('dist/runner.mjs'), '--job', 'no-queue', 'no-job', 'no-run'],
      {
        env: { ...process.env, ...stack.environment, ...env },
      },
    ).then(
      () => ({ code: 0, stderr: '' }),
      (error: { code: number; stderr: string }) => ({ code: error.code, stderr: error.stderr }),
    );

  it('fails the calls of a runner, which the suite cannot hook from its own process', async () => {
    const faulty = await runner({ NODE_OPTIONS: await childHooksPreload({ errorRate: 1 }, workDir) });

    expect(faulty.code).toBe(1);
    expect(faulty.stderr).toContain(INJECTED);
  });

  it('is off without the preload', async () => {
    // A reference to no job is stale: nothing to run, exit 0.
    expect(await runner({})).toEqual({ code: 0, stderr: '' });
  });
});

describe('Relay under faults', { timeout: SCENARIO_BOUND_MS }, () => {
  it('recovers the jobs of pull workers SIGKILLed at random moments', async () => {
    const result = await run(workerKills);

    expect(result.faults).toBeGreaterThan(0);
    expectNothingLostOrOverlapping(result);
  });

  it('runs a managed job again, never alongside, after its command is SIGKILLed mid-run', async () => {
    const result = await run(commandKills);

    expect(result.faults).toBeGreaterThan(0);
    expectNothingLostOrOverlapping(result);
  });

  it('loses nothing when faults injected into 10% of DynamoDB and SQS calls throttle them or fail them with a 500', async () => {
    const result = await run(injectedErrors);

    expect(result.faults).toBeGreaterThan(0);
    expectNothingLostOrOverlapping(result);
  });

  it('repairs dispatch messages dropped by injected faults and ignores the ones they duplicate or delay', async () => {
    const result = await run(messageMisdelivery);

    expect(result.faults).toBeGreaterThan(0);
    expectNothingLostOrOverlapping(result);
  });

  it('finishes every job across a restart of the local stack that keeps DynamoDB and loses SQS', async () => {
    const result = await run(stackRestart);

    expect(result.faults).toBe(1);
    expectNothingLostOrOverlapping(result);
  });

  it('tolerates worker clocks 2 s ahead of or behind the API', async () => {
    const result = await run(clockSkew);

    expect(result.faults).toBeGreaterThan(0);
    expectNothingLostOrOverlapping(result);
  });

  it(
    'keeps every acknowledged job across SIGKILLs of the whole relay dev --data-dir during load, and drains them',
    async () => {
      const result = await run(stackKills);

      expect(result.faults).toBe(SHORT.stackKills.kills);
      expect(result.submitted).toBeGreaterThan(0);
      expectNothingLostOrOverlapping(result);
    },
    2 * SCENARIO_BOUND_MS,
  ); // each kill costs a start of relay dev and its JVM: minutes on a loaded machine

  it('keeps every job of a burst from 32 concurrent producers exactly once, and completes them all', async () => {
    const result = await run(burst);

    expect(result).toMatchObject({
      submitted: SHORT.burst.jobs,
      completed: SHORT.burst.jobs,
      unexpected: 0,
      duplicatesConcurrent: 0,
    });
  });
});
