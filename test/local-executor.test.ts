/**
 * Managed runs on the local stack run in the stack's own process, as the inline executor's runs run
 * in the dispatcher on AWS: the stack keeps each run's books and starts its command itself, with no
 * program started between them, and it takes dispatch hints as Lambda's event source does, many
 * batches at once.
 */
import { chmodSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Env } from '../functions/core/env.ts';
import { type LocalStack, startLocalStack } from '../functions/local/stack.ts';

let stack: LocalStack;
const shared = mkdtempSync(path.join(tmpdir(), 'relay-inline-'));
// Commands may run as uids of their own (the stack run as root): they must reach the directory.
chmodSync(shared, 0o777);

beforeAll(async () => {
  // As root, uids no other test hands out.
  process.env[Env.COMMAND_USER] = '2000007620-2000007669';
  stack = await startLocalStack({ port: 0 });
});

afterAll(async () => {
  await stack?.stop();
  delete process.env[Env.COMMAND_USER];
  rmSync(shared, { recursive: true, force: true });
});

async function submit(queue: string, id: string, payload: Record<string, unknown>): Promise<void> {
  const response = await fetch(`${stack.url}/v1/managed/jobs`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ queue, id, type: 'SHELL', payload, max_retries: 0 }),
  });
  expect(response.status, await response.clone().text()).toBe(201);
}

const statusOf = async (queue: string, id: string) => (await stack.store.get(queue, id))?.status;

async function outputOf(queue: string, id: string): Promise<string> {
  const page = await stack.store.readLogs(queue, id, { limit: 1000 });
  return page.items.map((entry) => entry.text).join('');
}

describe('managed runs on the local stack', () => {
  it("start each command straight from the stack's process: no runner program between them", async () => {
    await submit('inline', 'parent', { command: '/bin/sh', args: ['-c', 'echo "$PPID"'] });

    await expect.poll(() => statusOf('inline', 'parent'), { timeout: 30_000 }).toBe('completed');
    expect(await outputOf('inline', 'parent')).toBe(`${process.pid}\n`);
  });

  it('run 20 jobs at once: each waits until all 20 have started', async () => {
    const ids = Array.from({ length: 20 }, (_, i) => `barrier-${i}`);
    // Marks itself started, then waits (30 s at most) until every job has: it exits 1 if they do not overlap.
    const barrier =
      'touch "$0/$1"; n=0; ' +
      'while [ "$(ls "$0" | wc -l)" -lt 20 ]; do n=$((n+1)); [ "$n" -ge 300 ] && exit 1; sleep 0.1; done';
    const dir = path.join(shared, 'barrier');
    mkdirSync(dir);
    chmodSync(dir, 0o777);

    await Promise.all(
      ids.map((id) =>
        submit('barrier', id, { command: '/bin/sh', args: ['-c', barrier, dir, id], timeout: 60 }),
      ),
    );

    await expect
      .poll(async () => Promise.all(ids.map((id) => statusOf('barrier', id))), {
        timeout: 45_000,
        interval: 250,
      })
      .toEqual(ids.map(() => 'completed'));
  });
});
