/**
 * What `relay dev` checks before it starts anything: a failed check is a setup error, which the CLI
 * reports in one line and exits 2 for, with nothing left running.
 */
import { createServer } from 'node:net';

/** The machine is not set up to run the local stack: a busy port, no Java. The message says what to do. */
export class LocalSetupError extends Error {
  override readonly name = 'LocalSetupError';
}

/** Why `host:port` cannot be listened on, as a setup error; other errors as they are. */
export function listenError(error: unknown, host: string, port: number): Error {
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  const where = `${host}:${port}`;
  if (code === 'EADDRINUSE') {
    return new LocalSetupError(
      `port ${port} is already in use on ${host}: stop what listens there, or pick another port with --port or RELAY_PORT`,
      { cause: error },
    );
  }
  if (code === 'EACCES') {
    return new LocalSetupError(`not allowed to listen on ${where}: pick a port above 1023 with --port`, {
      cause: error,
    });
  }
  if (code === 'EADDRNOTAVAIL' || code === 'ENOTFOUND' || code === 'EAI_AGAIN') {
    return new LocalSetupError(`${host} is not an address of this machine: pick another with --host`, {
      cause: error,
    });
  }
  return error instanceof Error ? error : new Error(String(error));
}

/** Fails with a setup error unless `port` can be listened on at `host` right now. Port 0 always can. */
export async function checkPort(host: string, port: number): Promise<void> {
  if (port === 0) return;
  const server = createServer();
  await new Promise<void>((resolve, reject) => {
    server.once('error', (error) => reject(listenError(error, host, port)));
    server.listen({ host, port, exclusive: true }, () => server.close(() => resolve()));
  });
}
