/**
 * `relay bulk` against a real API: a dry run counts and changes nothing, the command asks before
 * changing (and without a terminal needs --yes), and with --yes it changes every selected job,
 * however many pages that takes.
 */
import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { cliAgainstApi } from './support/cli.ts';

const cli = cliAgainstApi();
const newQueue = () => `q-${randomUUID()}`;
const relay = (args: readonly string[]) => cli.relay(args);

async function deadJob(queue: string, id: string, error: string): Promise<void> {
  await cli.client.submit({ queue, id, payload: null });
  const [claimed] = await cli.client.claim(queue);
  await cli.client.fail(queue, id, { error, runId: claimed?.run_id, retry: false });
}

describe.concurrent('relay bulk', () => {
  it('counts and names the selected jobs on --dry-run, and changes none', async () => {
    const queue = newQueue();
    await deadJob(queue, 'a', 'timeout');
    await deadJob(queue, 'b', 'oom');

    const result = await relay([
      'bulk',
      'retry',
      '--queue',
      queue,
      '--error-contains',
      'timeout',
      '--dry-run',
    ]);

    expect(result).toMatchObject({ code: 0, stdout: `would retry 1 job(s) in ${queue}: a\n` });
    expect((await cli.client.dlqList(queue)).jobs).toHaveLength(2);
  });

  it('refuses to change jobs without a terminal to ask on, unless given --yes', async () => {
    const queue = newQueue();
    await deadJob(queue, 'a', 'boom');

    const result = await relay(['bulk', 'delete', '--queue', queue, '--status', 'dead']);

    expect(result.code).toBe(2);
    expect(result.stderr).toContain('pass --yes');
    expect((await cli.client.dlqList(queue)).jobs).toHaveLength(1);
  });

  it('with --yes retries every selected job and reports the count', async () => {
    const queue = newQueue();
    for (const id of ['a', 'b', 'c']) await deadJob(queue, id, 'boom');

    const result = await relay(['--json', 'bulk', 'retry', '--queue', queue, '--status', 'dead', '--yes']);

    expect(result.code).toBe(0);
    expect(JSON.parse(result.stdout)).toMatchObject({
      action: 'retry',
      dry_run: false,
      matched: 3,
      changed: 3,
    });
    expect(await cli.client.stats(queue)).toMatchObject({ pending: 3, dead: 0 });
  });

  it('offers only the statuses the action applies to', async () => {
    const result = await relay(['bulk', 'retry', '--queue', newQueue(), '--status', 'completed', '--yes']);

    expect(result.code).toBe(2);
    expect(result.stderr).toContain('completed');
  });

  it('passes a malformed date to the API, which refuses it', async () => {
    const result = await relay([
      'bulk',
      'cancel',
      '--queue',
      newQueue(),
      '--created-before',
      'yesterday',
      '--yes',
    ]);

    expect(result.code).not.toBe(0);
    expect(result.stderr).toContain('created_before');
  });
});
