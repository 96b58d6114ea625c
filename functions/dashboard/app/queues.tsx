/** The queues page: each queue's depth by status, trends, limits, and pause/resume. */
import type { QueueSummary, RelayClient } from '../../sdk/client.ts';
import { usePoll } from './live.ts';
import { Sparkline } from './sparkline.tsx';
import { record, type Trend } from './trends.ts';
import { Action, ErrorNote, href, hrefWith, Table } from './ui.tsx';

async function load(client: RelayClient) {
  const { queues } = await client.queues();
  const now = Date.now();
  return Promise.all(
    queues.map(async (queue) => {
      const [pending, completed] = await Promise.all([
        client.list({ queue: queue.name, status: 'pending', limit: 100 }),
        client.list({ queue: queue.name, status: 'completed', limit: 100 }),
      ]);
      return { queue, trend: record(queue, pending.jobs, completed.jobs, now) as Trend };
    }),
  );
}

/** `5/s, burst 10, 3 running at most`, or `none`. */
function limits(queue: QueueSummary): string {
  const parts = [
    queue.rate_per_second === null ? undefined : `${queue.rate_per_second}/s`,
    queue.burst === null ? undefined : `burst ${queue.burst}`,
    queue.max_running === null ? undefined : `${queue.max_running} running at most`,
  ].filter(Boolean);
  return parts.length ? parts.join(', ') : 'none';
}

export function QueuesPage({ client }: { client: RelayClient }) {
  const { data, error, refresh } = usePoll(() => load(client), 2_000, 'queues');
  return (
    <section aria-labelledby="queues-title">
      <h1 id="queues-title">Queues</h1>
      <ErrorNote error={error} />
      {data?.length === 0 && <p>No queues yet: submit a job and its queue appears here.</p>}
      {data && data.length > 0 && (
        <Table
          label="Queues by status"
          columns={[
            'Queue',
            'Pending',
            'Scheduled',
            'Running',
            'Failed',
            'Dead',
            'Waiting',
            'Done/min',
            'Longest wait',
            'Limits',
            'State',
          ]}
        >
          {data.map(({ queue, trend }) => (
            <tr key={queue.name} data-queue={queue.name}>
              <th scope="row">
                <a href={hrefWith('jobs', { queue: queue.name })}>{queue.name}</a>
              </th>
              <td data-count="pending">{queue.pending}</td>
              <td data-count="scheduled">{queue.scheduled}</td>
              <td data-count="running">{queue.running}</td>
              <td data-count="failed">{queue.failed}</td>
              <td data-count="dead">
                <a href={href('dlq', queue.name)} aria-label={`${queue.dead} dead jobs in ${queue.name}`}>
                  {queue.dead}
                </a>
              </td>
              <td>
                <Sparkline values={trend.depth} label={`${queue.name} waiting jobs`} />
              </td>
              <td>
                <Sparkline values={trend.perMinute} label={`${queue.name} jobs completed per minute`} />
              </td>
              <td>
                <Sparkline values={trend.waitSeconds} label={`${queue.name} longest wait`} unit="s" />
              </td>
              <td class="limits">{limits(queue)}</td>
              <td>
                {queue.paused ? <strong class="paused">Paused</strong> : <span>Running</span>}{' '}
                {queue.paused ? (
                  <Action label={`Resume ${queue.name}`} run={() => client.resume(queue.name)} done={refresh}>
                    Resume
                  </Action>
                ) : (
                  <Action label={`Pause ${queue.name}`} run={() => client.pause(queue.name)} done={refresh}>
                    Pause
                  </Action>
                )}
              </td>
            </tr>
          ))}
        </Table>
      )}
    </section>
  );
}
