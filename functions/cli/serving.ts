/** What the CLI's long-running commands (`relay dev`, `relay dashboard`) share: their port option and how they stop. */
import { InvalidArgumentError } from 'commander';
import { EXIT } from './exit.ts';

export function parsePort(value: string): number {
  const port = Number(value);
  if (!Number.isInteger(port) || port < 0 || port > 65_535) {
    throw new InvalidArgumentError(`port must be a whole number from 0 to 65535, not \`${value}\``);
  }
  return port;
}

/**
 * Resolves at the first SIGINT or SIGTERM. Under `npm start` a terminal's Ctrl-C arrives twice
 * (from the terminal, and forwarded by npm), so a repeat within a second is the same request; a
 * later one stops at once, leaving the children to notice (closed stdin, IPC channel, death signal).
 */
export function stopSignal(command: string): Promise<void> {
  return new Promise((resolve) => {
    let first: number | undefined;
    const onSignal = (signal: NodeJS.Signals) => {
      if (first === undefined) {
        first = Date.now();
        resolve();
      } else if (Date.now() - first > 1_000) {
        process.stderr.write(`${command}: ${signal} again, stopping at once\n`);
        process.exit(EXIT.error);
      }
    };
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
  });
}
