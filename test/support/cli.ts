import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll } from 'vitest';
import { RelayClient } from '../../functions/sdk/client.ts';
import { startTestApi, type TestApi } from './api.ts';

/** The repository root, where `npm start` and the CLI run. */
export const ROOT = fileURLToPath(new URL('../..', import.meta.url));
/** The bundled CLI, as `npm run build` writes it and users run it. */
export const CLI = fileURLToPath(new URL('../../dist/relay.mjs', import.meta.url));

export interface CliResult {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** The environment without Relay's own variables, so a developer's shell cannot change a test. */
function cleanEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env = { ...process.env, ...extra };
  for (const name of [
    'RELAY_URL',
    'RELAY_TOKEN',
    'RELAY_PORT',
    'RELAY_HOST',
    'RELAY_CONFIG',
    'RELAY_AWS_REGION',
  ]) {
    if (!(name in extra)) delete env[name];
  }
  return env;
}

/** Runs the built CLI to completion, feeding `input` on stdin. */
export function runCli(
  args: readonly string[],
  options: { input?: string; env?: Record<string, string> } = {},
): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, ...args], {
      cwd: ROOT,
      env: cleanEnv(options.env),
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      stdout += chunk;
    });
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
      stderr += chunk;
    });
    child.once('error', reject);
    child.once('close', (code) => resolve({ code, stdout, stderr }));
    child.stdin.end(options.input ?? '');
  });
}

export interface DevProcess {
  readonly child: ChildProcess;
  /** The URL `relay dev` printed. */
  readonly url: string;
  readonly output: () => string;
  /** Resolves with the exit code (or signal) once the process ends. */
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

export interface DevOptions {
  /** @default 45000 */
  readonly timeoutMs?: number;
  /** Variables on top of the test's environment (Relay's own removed). */
  readonly env?: Record<string, string>;
  /** Run it in a process group of its own (its pid is the group id), as a terminal or process manager does. */
  readonly detached?: boolean;
}

/** Starts `relay dev` and resolves once it prints its URL; kills it if it does not in time. */
export async function startDev(args: readonly string[], options: DevOptions = {}): Promise<DevProcess> {
  const started = await startCli(['dev', ...args], /running at (\S+)/, options);
  return { ...started, url: started.match[1] as string };
}

export interface CliProcess extends Omit<DevProcess, 'url'> {
  /** What matched the `ready` pattern. */
  readonly match: RegExpExecArray;
}

/**
 * Starts a long-running CLI command and resolves once its output matches `ready`; kills it if it
 * does not in time.
 */
export function startCli(
  args: readonly string[],
  ready: RegExp,
  options: DevOptions = {},
): Promise<CliProcess> {
  const { timeoutMs = 45_000 } = options;
  const child = spawn(process.execPath, [CLI, ...args], {
    cwd: ROOT,
    env: cleanEnv({ RELAY_LOG_LEVEL: 'silent', ...options.env }),
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: options.detached ?? false,
  });
  let output = '';
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal })),
  );
  const name = `relay ${args.find((arg) => !arg.startsWith('-')) ?? ''}`;
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${name} printed nothing matching ${ready} within ${timeoutMs} ms:\n${output}`));
    }, timeoutMs);
    const collect = (chunk: Buffer) => {
      output += chunk.toString();
      const match = ready.exec(output);
      if (match) {
        clearTimeout(timer);
        resolve({ child, match, output: () => output, exited });
      }
    };
    child.stdout.on('data', collect);
    child.stderr.on('data', collect);
    void exited.then(({ code }) => {
      clearTimeout(timer);
      reject(new Error(`${name} exited with ${code} before it was ready:\n${output}`));
    });
  });
}

/** Process ids of a process's direct children. */
export async function childPids(pid: number): Promise<number[]> {
  const { stdout } = await promisify(execFile)('ps', ['-o', 'pid=', '--ppid', String(pid)]).catch(() => ({
    stdout: '',
  }));
  return stdout
    .split('\n')
    .map((line) => Number(line.trim()))
    .filter((n) => n > 0);
}

/** Whether a process with this id is still alive. */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/**
 * A test API (`startTestApi`) for a CLI test file, started before its tests and disposed after
 * them: an SDK client to set the scene, and the CLI pointed at it. Read its fields inside tests.
 */
export function cliAgainstApi(): {
  readonly client: RelayClient;
  readonly relay: (args: readonly string[]) => Promise<CliResult>;
} {
  let api: TestApi | undefined;
  let client: RelayClient | undefined;
  beforeAll(async () => {
    api = await startTestApi();
    client = new RelayClient({ endpoint: api.url });
  });
  afterAll(async () => {
    await api?.dispose();
  });
  const started = () => {
    if (!api || !client) throw new Error('the test API is read outside a test');
    return { api, client };
  };
  return {
    get client() {
      return started().client;
    },
    relay: (args) => runCli(['--endpoint', started().api.url, ...args]),
  };
}
