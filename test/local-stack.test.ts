/**
 * `relay dev` as a user runs it: the built CLI in its own process, DynamoDB Local as its child.
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { freePort } from '../functions/local/dynamodb-local.ts';

const CLI = path.resolve('dist/relay.mjs');
const running: ChildProcess[] = [];

/** Starts `relay dev` and resolves with its URL once it answers /health. */
async function startDev(args: string[], env: Record<string, string> = {}) {
  const port = await freePort();
  const child = spawn(process.execPath, [CLI, 'dev', '--port', String(port), ...args], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  running.push(child);
  let output = '';
  child.stdout?.on('data', (chunk) => {
    output += chunk;
  });
  child.stderr?.on('data', (chunk) => {
    output += chunk;
  });
  const url = `http://127.0.0.1:${port}`;
  await expect
    .poll(
      async () => {
        if (child.exitCode !== null) throw new Error(`relay dev exited ${child.exitCode}: ${output}`);
        return fetch(`${url}/health`, {
          headers: env.RELAY_TOKEN ? { authorization: `Bearer ${env.RELAY_TOKEN}` } : {},
        })
          .then((r) => r.status)
          .catch(() => 0);
      },
      { timeout: 45_000, interval: 200 },
    )
    .toBe(200);
  return { child, url, output: () => output };
}

async function stop(child: ChildProcess): Promise<number | null> {
  if (child.exitCode !== null) return child.exitCode;
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  child.kill('SIGINT');
  return exited;
}

afterAll(async () => {
  await Promise.all(running.map(stop));
});

describe('relay dev', () => {
  it('keeps jobs across a restart with --data-dir', async () => {
    const dataDir = mkdtempSync(path.join(tmpdir(), 'relay-data-'));
    try {
      const first = await startDev(['--data-dir', dataDir]);
      const submitted = await fetch(`${first.url}/v1/jobs`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ queue: 'persist', id: 'kept', payload: { n: 1 } }),
      });
      expect(submitted.status).toBe(201);
      expect(await stop(first.child)).toBe(0);

      const second = await startDev(['--data-dir', dataDir]);
      const status = await fetch(`${second.url}/v1/queues/persist/jobs/kept/status`);
      expect(status.status).toBe(200);
      expect(await status.json()).toMatchObject({ id: 'kept', status: 'pending', payload: { n: 1 } });
      expect(await stop(second.child)).toBe(0);
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  });

  it('starts empty again without --data-dir', async () => {
    const first = await startDev([]);
    await fetch(`${first.url}/v1/jobs`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ queue: 'gone', id: 'x', payload: 1 }),
    });
    await stop(first.child);
    const second = await startDev([]);
    expect((await fetch(`${second.url}/v1/queues/gone/jobs/x/status`)).status).toBe(404);
    await stop(second.child);
  });

  it('prints three commands that work as pasted', async () => {
    const dev = await startDev([]);
    const commands = dev
      .output()
      .split('\n')
      .filter((line) => /^ {2}(curl|npx relay) /.test(line))
      .map((line) => line.trim());
    expect(commands).toHaveLength(3);
    for (const command of commands) {
      // -f fails on any HTTP error; `npx relay` resolves to this same bundle.
      const runnable = command
        .replace(/^curl -s/, 'curl -sS -f')
        .replace(/^npx relay/, `"${process.execPath}" "${CLI}"`);
      const { stdout } = await promisify(execFile)('bash', ['-euo', 'pipefail', '-c', runnable]);
      expect(stdout.length).toBeGreaterThan(0);
    }
    await stop(dev.child);
  });

  it('refuses to bind a non-loopback address without RELAY_TOKEN, as a setup error (exit 2)', async () => {
    const port = await freePort();
    const env = { ...process.env };
    delete env.RELAY_TOKEN;
    const result = await promisify(execFile)(
      process.execPath,
      [CLI, 'dev', '--host', '0.0.0.0', '--port', String(port)],
      {
        env,
      },
    ).catch((error: { code: number; stderr: string }) => error);
    expect(result).toMatchObject({ code: 2 });
    expect((result as { stderr: string }).stderr).toContain('RELAY_TOKEN');
  });

  it('requires the bearer token on every request when RELAY_TOKEN is set', async () => {
    const dev = await startDev([], { RELAY_TOKEN: 's3cret' });
    expect((await fetch(`${dev.url}/v1/queues`)).status).toBe(401);
    expect((await fetch(`${dev.url}/v1/queues`, { headers: { authorization: 'Bearer wrong' } })).status).toBe(
      401,
    );
    expect(
      (await fetch(`${dev.url}/v1/queues`, { headers: { authorization: 'Bearer s3cret' } })).status,
    ).toBe(200);
    await stop(dev.child);
  });
});
