/**
 * Entry: the shell runner program (functions/runner/main.ts), as a Fargate task runs it:
 * `node runner.mjs --job <queue> <id> <run_id>`. It wires the program to the store, the dispatch
 * queue, the identity and the allow-list its environment names. (The local stack runs its runs in
 * its own process instead: functions/local/executor.ts.)
 */
import { pathToFileURL } from 'node:url';
import { main } from '../runner/main.ts';
import { dispatchFromEnv, identityFromProcessEnv, policyFromProcessEnv, storeFromEnv } from './services.ts';

export { main };

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  // The command leads its own process group, so a terminal's Ctrl-C or a container stop reaches
  // only the runner: pass it on, or the command would outlive it.
  const stopped = new AbortController();
  for (const sig of ['SIGINT', 'SIGTERM'] as const) {
    // Not `once`: a second signal must not kill the runner before it has stopped its command and
    // given the run back.
    process.on(sig, () => {
      if (!stopped.signal.aborted) stopped.abort(`the runner received ${sig} during the run`);
    });
  }
  await main({
    argv: process.argv.slice(2),
    stdout: process.stdout,
    stderr: process.stderr,
    exit: (code) => process.exit(code),
    signal: stopped.signal,
    // As root (a Fargate task), the command runs as RELAY_COMMAND_USER and cannot read this process.
    identity: identityFromProcessEnv(),
    job: () => ({
      store: storeFromEnv(),
      dispatch: dispatchFromEnv(),
      identity: identityFromProcessEnv(),
      policy: policyFromProcessEnv(),
    }),
  });
}
