/**
 * A stand-in for the Lambda service's `InvokeWithResponseStream` API, so the dispatcher's real
 * `@aws-sdk/client-lambda` call can be tested: there is no Lambda emulator that streams responses.
 * Each invocation runs in a sandbox process (test/support/lambda-sandbox.mjs) running the executor
 * bundle; an idle sandbox is reused for the next invocation, as Lambda reuses a warm one. When the
 * tests run as root, each sandbox runs as a uid of its own, as Lambda's sandbox user is apart from
 * everything else.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { createServer, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { EventStreamCodec } from '@smithy/core/event-streams';

const codec = new EventStreamCodec(
  (bytes) => new TextDecoder().decode(bytes),
  (text) => new TextEncoder().encode(text),
);

const frame = (eventType: string, contentType: string, body: Uint8Array) =>
  codec.encode({
    headers: {
      ':message-type': { type: 'string', value: 'event' },
      ':event-type': { type: 'string', value: eventType },
      ':content-type': { type: 'string', value: contentType },
    },
    body,
  });

export interface Sandbox {
  readonly process: ChildProcess;
  /** The uid it runs as, when the tests run as root. */
  readonly uid?: number;
  busy: boolean;
}

export interface LambdaStandIn {
  readonly endpoint: string;
  readonly sandboxes: readonly Sandbox[];
  /** Invocations answered so far. */
  invocations: number;
  stop(): Promise<void>;
}

export interface LambdaStandInOptions {
  /** The handler bundle each sandbox loads. @default dist/executor.mjs */
  readonly bundle?: string;
  /** The first uid of the sandboxes when running as root; each new sandbox takes the next. */
  readonly firstUid?: number;
  /** The sandbox's environment, as Lambda sets it (it never holds the caller's). */
  readonly env?: NodeJS.ProcessEnv;
}

const SANDBOX = fileURLToPath(new URL('./lambda-sandbox.mjs', import.meta.url));
const EXECUTOR = fileURLToPath(new URL('../../dist/executor.mjs', import.meta.url));

export async function startLambdaStandIn(options: LambdaStandInOptions = {}): Promise<LambdaStandIn> {
  const root = process.getuid?.() === 0;
  const sandboxes: Sandbox[] = [];
  const answering = new Map<string, { res: ServerResponse; sandbox: Sandbox }>();
  let next = 0;

  const newSandbox = (): Sandbox => {
    const uid = root ? (options.firstUid ?? 1_990_000_000) + sandboxes.length : undefined;
    const child = spawn(process.execPath, [SANDBOX, options.bundle ?? EXECUTOR], {
      env: {
        PATH: process.env.PATH,
        // Only a sandbox of its own may sweep every process of its user (functions/runner/sandbox.ts).
        ...(root ? { AWS_LAMBDA_FUNCTION_NAME: 'relay-executor' } : {}),
        ...options.env,
      },
      stdio: ['pipe', 'pipe', 'inherit'],
      ...(uid === undefined ? {} : { uid, gid: uid }),
    });
    const sandbox: Sandbox = { process: child, uid, busy: false };
    let rest = '';
    child.stdout?.on('data', (data: Buffer) => {
      const lines = (rest + data.toString('utf8')).split('\n');
      rest = lines.pop() ?? '';
      for (const line of lines.filter(Boolean)) {
        const message = JSON.parse(line) as { id: string; chunk?: string; end?: true; error?: string };
        const call = answering.get(message.id);
        if (!call) continue;
        if (message.chunk !== undefined) {
          call.res.write(
            frame('PayloadChunk', 'application/octet-stream', Buffer.from(message.chunk, 'base64')),
          );
        } else if (message.error !== undefined) {
          const details = { ErrorCode: 'Unhandled', ErrorDetails: message.error };
          call.res.write(
            frame('InvokeComplete', 'application/json', new TextEncoder().encode(JSON.stringify(details))),
          );
        } else if (message.end) {
          call.res.end(frame('InvokeComplete', 'application/json', new TextEncoder().encode('{}')));
          answering.delete(message.id);
          call.sandbox.busy = false;
          service.invocations++;
        }
      }
    });
    sandboxes.push(sandbox);
    return sandbox;
  };

  const server = createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    if (req.method !== 'POST' || !/\/response-streaming-invocations$/.test(req.url ?? '')) {
      res.writeHead(404).end();
      return;
    }
    const sandbox = sandboxes.find((s) => !s.busy && s.process.exitCode === null) ?? newSandbox();
    sandbox.busy = true;
    const id = String(next++);
    answering.set(id, { res, sandbox });
    res.writeHead(200, {
      'content-type': 'application/vnd.amazon.eventstream',
      'x-amz-executed-version': '$LATEST',
    });
    // The dispatcher hung up (a lost lease, a cancel): the sandbox's response stream closes.
    res.once('close', () => {
      if (answering.has(id)) sandbox.process.stdin?.write(`${JSON.stringify({ id, hangup: true })}\n`);
    });
    const event = JSON.parse(Buffer.concat(chunks).toString('utf8') || 'null');
    sandbox.process.stdin?.write(`${JSON.stringify({ id, event })}\n`);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const service: LambdaStandIn = {
    endpoint: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    sandboxes,
    invocations: 0,
    stop: async () => {
      for (const sandbox of sandboxes) sandbox.process.kill('SIGKILL');
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    },
  };
  return service;
}
