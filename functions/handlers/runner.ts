/**
 * Entry: the shell runner program (functions/runner/main.ts), as a Fargate task (and the local
 * stack's per-run process) runs it: `node runner.mjs --job <queue> <id> <run_id>`. It wires the
 * program to the store, the dispatch queue, the identity and the allow-list its environment names.
 */
import { pathToFileURL } from 'node:url';
import { main } from '../runner/main.ts';
import { dispatchFromEnv, identityFromProcessEnv, policyFromProcessEnv, storeFromEnv } from './services.ts';

export { main };

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  // The command leads its own process group, so a terminal's Ctrl-C or a container stop reaches
  // only the runner: pass it on, or the command would outlive it. A runner with an IPC channel was
  // started by the local stack (functions/local/executor.ts), which stops it when it stops itself
  // and whose death closes the channel: either way the stack is stopping.
  const stopped = new AbortController();
  const stop = (reason: string) => {
    if (!stopped.signal.aborted) stopped.abort(reason);
  };
  const byStack = 'the local stack stopped during the run';
  for (const sig of ['SIGINT', 'SIGTERM'] as const) {
    // Not `once`: a second signal (a terminal's Ctrl-C and the stack's SIGTERM) must not kill the
    // runner before it has stopped its command and given the run back.
    process.on(sig, () => stop(process.channel ? byStack : `the runner received ${sig} during the run`));
  }
  process.on('disconnect', () => stop(byStack));
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
