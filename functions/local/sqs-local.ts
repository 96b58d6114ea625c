/**
 * Runs the fauxqs SQS emulator in-process for the local stack and tests.
 *
 * fauxqs's queue URLs name a host (`sqs.<region>.localhost`) that may not resolve, so SQS clients
 * must get the endpoint explicitly (`AWS_ENDPOINT_URL_SQS` alone is not enough): use `endpoint`.
 */
import { startFauxqs } from 'fauxqs';

export interface SqsLocal {
  readonly endpoint: string;
  stop(): Promise<void>;
}

export async function startSqsLocal(options: { port?: number } = {}): Promise<SqsLocal> {
  const server = await startFauxqs({ port: options.port ?? 0, logger: false });
  return { endpoint: server.address, stop: () => server.stop() };
}
