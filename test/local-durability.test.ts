/**
 * With `--data-dir`, a job the local stack acknowledged survives a SIGKILL of the whole stack (node
 * and DynamoDB Local's JVM) at any moment. The kill lands right after an acknowledgement, where a
 * write answered before it was durable would be lost: DynamoDB Local answers a transaction before
 * SQLite commits it, so `unique` batches (one transaction each) were lost this way.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { freePort } from '../functions/local/dynamodb-local.ts';

const CLI = path.resolve('dist/relay.mjs');
const TRIALS = 3;
/** Each trial starts the stack twice, a JVM each: minutes on a loaded machine. */
const TIMEOUT_MS = 240_000;
const dirs: string[] = [];
const stacks: ChildProcess[] = [];

afterAll(() => {
  for (const child of stacks) killGroup(child);
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

function killGroup(child: ChildProcess): void {
  try {
    if (child.pid) process.kill(-child.pid, 'SIGKILL');
  } catch {
    // Gone already.
  }
}

/** `relay dev --data-dir` in a process group of its own, once it answers. */
async function startStack(dataDir: string): Promise<{ child: ChildProcess; url: string }> {
  const port = await freePort();
  const child = spawn(process.execPath, [CLI, 'dev', '--port', String(port), '--data-dir', dataDir], {
    detached: true,
    stdio: 'ignore',
    env: { PATH: process.env.PATH, RELAY_LOG_LEVEL: 'silent' },
  });
  stacks.push(child);
  const url = `http://127.0.0.1:${port}`;
  await expect
    .poll(
      () =>
        fetch(`${url}/health`).then(
          (r) => r.status,
          () => 0,
        ),
      { timeout: 60_000, interval: 200 },
    )
    .toBe(200);
  return { child, url };
}

/** Every job id of the queue, through the API. */
async function idsIn(url: string, queue: string): Promise<Set<string>> {
  const ids = new Set<string>();
  let cursor = '';
  do {
    const page = (await (await fetch(`${url}/v1/jobs?queue=${queue}&limit=100${cursor}`)).json()) as {
      jobs: { id: string }[];
      next_cursor: string | null;
    };
    for (const job of page.jobs) ids.add(job.id);
    cursor = page.next_cursor ? `&cursor=${page.next_cursor}` : '';
  } while (cursor);
  return ids;
}

/**
 * Sends `unique` batches of 100 from four producers and SIGKILLs the stack's whole process group
 * right after the first acknowledgement that comes once `armAfterMs` has passed. Returns the ids of
 * every acknowledged batch.
 */
async function loadThenKill(child: ChildProcess, url: string, queue: string, armAfterMs: number) {
  const acknowledged: string[] = [];
  let killed = false;
  const armed = Date.now() + armAfterMs;
  let batch = 0;
  const producer = async (p: number) => {
    while (!killed) {
      const ids = Array.from({ length: 100 }, (_, i) => `${p}-${batch}-${i}`);
      batch++;
      const body = ids.map((id) => ({ queue, id, timeout: 30, max_retries: 1, payload: { id } }));
      const response = await fetch(`${url}/v2/queues/jobs?mode=unique`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(body),
      }).catch(() => undefined);
      if (!response || killed) return;
      await response.arrayBuffer();
      if (response.status >= 300) throw new Error(`enqueue answered ${response.status}`);
      acknowledged.push(...ids);
      if (Date.now() >= armed) {
        killed = true;
        killGroup(child);
      }
    }
  };
  await Promise.all([0, 1, 2, 3].map(producer));
  await new Promise<void>((resolve) =>
    child.exitCode !== null || child.signalCode !== null ? resolve() : child.once('exit', () => resolve()),
  );
  return acknowledged;
}

describe('relay dev --data-dir', () => {
  it(
    `keeps every acknowledged job of unique batches across SIGKILLs of the whole stack (${TRIALS} kills)`,
    async () => {
      for (let trial = 0; trial < TRIALS; trial++) {
        const dataDir = mkdtempSync(path.join(tmpdir(), 'relay-durable-'));
        dirs.push(dataDir);
        const queue = `durable-${trial}`;
        const first = await startStack(dataDir);
        const acknowledged = await loadThenKill(first.child, first.url, queue, 300 + Math.random() * 1_200);

        const second = await startStack(dataDir);
        const stored = await idsIn(second.url, queue);
        killGroup(second.child);

        expect(acknowledged.length).toBeGreaterThan(0);
        expect(acknowledged.filter((id) => !stored.has(id))).toEqual([]);
      }
    },
    TIMEOUT_MS,
  );
});
