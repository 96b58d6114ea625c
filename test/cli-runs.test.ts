/** `relay runs <job>`: a job's run history, by `<queue>/<id>`, `<queue> <id>` or a bare id. */
import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { cliAgainstApi } from './support/cli.ts';

const cli = cliAgainstApi();
const newQueue = () => `q-${randomUUID()}`;
const relay = (args: readonly string[]) => cli.relay(args);

/** A job whose first run failed and whose second completed, claimed by `worker-a` then anonymously. */
async function twoRuns(queue: string, id: string): Promise<string[]> {
  await cli.client.submit({ queue, id, payload: null });
  const [first] = await cli.client.claim(queue, 1, { worker: 'worker-a' });
  await cli.client.fail(queue, id, { error: 'disk full', runId: first?.run_id });
  await cli.client.retry(queue, id);
  const [second] = await cli.client.claim(queue);
  await cli.client.complete(queue, id, second?.run_id ?? '');
  return [first?.run_id ?? '', second?.run_id ?? ''];
}

describe.concurrent('relay runs', () => {
  it('prints one row per run, oldest first, with outcome, worker and error', async () => {
    const [queue, id] = [newQueue(), randomUUID()];
    const [first, second] = await twoRuns(queue, id);

    const result = await relay(['runs', `${queue}/${id}`]);

    expect(result.code).toBe(0);
    const lines = result.stdout.trim().split('\n');
    expect(lines[0]).toMatch(/^ATTEMPT\s+RUN ID\s+OUTCOME\s+ENDED\s+TOOK\s+EXIT\s+WORKER\s+ERROR$/);
    expect(lines[1]).toMatch(new RegExp(`^1\\s+${first}\\s+failed\\s+.*worker-a\\s+disk full$`));
    expect(lines[2]).toMatch(new RegExp(`^2\\s+${second}\\s+completed\\s+`));
    expect(lines).toHaveLength(3);
  });

  it('finds a job by its bare id and prints the runs as JSON with --json', async () => {
    const [queue, id] = [newQueue(), randomUUID()];
    const [first, second] = await twoRuns(queue, id);

    const result = await relay(['--json', 'runs', id]);

    expect(result.code).toBe(0);
    const runs = JSON.parse(result.stdout) as { run_id: string; outcome: string; worker: string | null }[];
    expect(runs.map((r) => [r.run_id, r.outcome, r.worker])).toEqual([
      [first, 'failed', 'worker-a'],
      [second, 'completed', null],
    ]);
  });

  it('says so for a job that never ran', async () => {
    const [queue, id] = [newQueue(), randomUUID()];
    await cli.client.submit({ queue, id, payload: null });

    const result = await relay(['runs', queue, id]);

    expect(result).toMatchObject({ code: 0, stdout: 'no runs yet\n' });
  });

  it('exits 1 for a job that does not exist', async () => {
    const result = await relay(['runs', newQueue(), 'nope']);

    expect(result.code).toBe(1);
    expect(result.stderr).toContain('nope');
  });
});
