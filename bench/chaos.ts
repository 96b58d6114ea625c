/**
 * `npm run chaos`: Relay's reliability suite at full size, on the local stack. Every scenario in
 * bench/chaos-scenarios.ts submits jobs, applies one fault (killed workers and commands, failing AWS
 * calls, misdelivered SQS messages, a restarted stack, skewed clocks, a burst of producers), drains,
 * and prints one line. Exits 1 when any job was lost or ran twice at once.
 *
 * `npm run chaos -- --short` runs the sizes `npm test` uses; naming scenarios runs only those
 * (`npm run chaos -- burst clock-skew`). The restarts and kills of the stack run dist/relay.mjs,
 * which `npm run chaos` builds first; run with `tsx bench/chaos.ts` directly, build it yourself.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { startLocalStack } from '../functions/local/stack.ts';
import { chaosContext, FULL, formatResult, problems, SCENARIOS, SHORT } from './chaos-scenarios.ts';

async function main(): Promise<number> {
  const args = process.argv.slice(2);
  const short = args.includes('--short');
  const names = args.filter((arg) => !arg.startsWith('--'));
  const unknown = names.filter((name) => !(name in SCENARIOS));
  if (unknown.length) {
    process.stderr.write(
      `unknown scenario ${unknown.join(', ')}; known: ${Object.keys(SCENARIOS).join(', ')}\n`,
    );
    return 2;
  }
  process.env.RELAY_LOG_LEVEL ??= 'silent';
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
  const log = (line: string) => process.stdout.write(`${line}\n`);

  const started = Date.now();
  const workDir = mkdtempSync(path.join(tmpdir(), 'relay-chaos-'));
  const stack = await startLocalStack({ port: 0 });
  const failed: string[] = [];
  try {
    const ctx = await chaosContext(stack, workDir, log);
    for (const [name, scenario] of Object.entries(SCENARIOS)) {
      if (names.length && !names.includes(name)) continue;
      const at = Date.now();
      let result: Awaited<ReturnType<typeof scenario>>;
      try {
        result = await scenario(ctx, short ? SHORT : FULL);
      } catch (error) {
        failed.push(name);
        log(
          `${name}: FAILED to run: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`,
        );
        continue;
      }
      log(formatResult(result));
      log(`  ${result.detail}; ${Math.round((Date.now() - at) / 1000)} s`);
      const wrong = problems(result);
      if (wrong.length) {
        failed.push(name);
        log(`  FAILED: ${wrong.join('; ')} (queue ${result.queue})`);
      }
    }
  } finally {
    await stack.stop();
    // A failed scenario's run records stay for a look; the queue names in them match the lines above.
    if (failed.length) log(`run records kept in ${workDir}`);
    else rmSync(workDir, { recursive: true, force: true });
  }
  log(
    `\n${failed.length ? `FAILED: ${failed.join(', ')}` : 'all scenarios passed'} in ${Math.round((Date.now() - started) / 1000)} s`,
  );
  return failed.length ? 1 : 0;
}

process.exitCode = await main();
