/**
 * Runs the fauxqs SQS emulator in-process for the local stack and tests, on 127.0.0.1 only.
 *
 * fauxqs's `startFauxqs` listens on every interface (its `host` option names the host in queue URLs,
 * not the address it binds), so this builds its app and listens on loopback itself: the emulator
 * serves only the stack on this machine.
 *
 * fauxqs's queue URLs name a host (`sqs.<region>.localhost`) that may not resolve, so SQS clients
 * must get the endpoint explicitly (`AWS_ENDPOINT_URL_SQS` alone is not enough): use `endpoint`.
 */
import { buildApp } from 'fauxqs';

export interface SqsLocal {
  readonly endpoint: string;
  stop(): Promise<void>;
}

const LOOPBACK = '127.0.0.1';

export async function startSqsLocal(options: { port?: number } = {}): Promise<SqsLocal> {
  const app = buildApp({ logger: false });
  try {
    await app.listen({ port: options.port ?? 0, host: LOOPBACK });
  } catch (error) {
    await app.close();
    throw error;
  }
  const address = app.server.address();
  const port = typeof address === 'object' && address ? address.port : options.port;
  return {
    endpoint: `http://${LOOPBACK}:${port}`,
    stop: async () => {
      await app.close();
    },
  };
}
