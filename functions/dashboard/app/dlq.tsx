/** The dead-letter page of one queue: its dead jobs, requeue one or all, delete one (after asking). */
import type { RelayClient } from '../../sdk/client.ts';
import { usePoll } from './live.ts';
import { Action, ErrorNote, href, Table, When } from './ui.tsx';

export function DlqPage({ client, queue }: { client: RelayClient; queue?: string }) {
  const queues = usePoll(() => client.queues(), 5_000, 'dlq-queues');
  if (queue === undefined) {
    return (
      <section aria-labelledby="dlq-title">
        <h1 id="dlq-title">Dead letters</h1>
        <ErrorNote error={queues.error} />
        <ul class="dlq-queues">
          {queues.data?.queues.map((q) => (
            <li key={q.name}>
              <a href={href('dlq', q.name)}>{q.name}</a>: {q.dead} dead
            </li>
          ))}
        </ul>
      </section>
    );
  }
  return <QueueDlq client={client} queue={queue} />;
}

function QueueDlq({ client, queue }: { client: RelayClient; queue: string }) {
  const { data, error, refresh } = usePoll(
    () => client.dlqList(queue, { limit: 100 }),
    3_000,
    `dlq:${queue}`,
  );
  return (
    <section aria-labelledby="dlq-title">
      <h1 id="dlq-title">
        Dead letters of <code>{queue}</code>
      </h1>
      <ErrorNote error={error} />
      {data && data.jobs.length === 0 && <p>No dead jobs.</p>}
      {data && data.jobs.length > 0 && (
        <>
          <p class="actions">
            <Action
              label={`Requeue all dead jobs of ${queue}`}
              confirm={`Requeue every dead job of ${queue}?`}
              run={() => client.dlqRequeueAll(queue)}
              done={refresh}
            >
              Requeue all
            </Action>
          </p>
          <Table
            label={`Dead jobs of ${queue}`}
            columns={['Job', 'Reason', 'Attempts', 'Died', 'Last error', 'Actions']}
          >
            {data.jobs.map((job) => (
              <tr key={job.id} data-job={job.id}>
                <th scope="row">
                  <a href={href('jobs', queue, job.id)}>{job.id}</a>
                </th>
                <td>{job.dead_reason ?? '–'}</td>
                <td>{job.attempts}</td>
                <td>
                  <When at={job.updated_at} />
                </td>
                <td class="clip">{job.last_error ?? ''}</td>
                <td class="row-actions">
                  <Action
                    label={`Requeue ${job.id}`}
                    run={() => client.dlqRequeue(queue, job.id)}
                    done={refresh}
                  >
                    Requeue
                  </Action>
                  <Action
                    label={`Delete ${job.id}`}
                    confirm={`Delete dead job ${job.id} for good?`}
                    run={() => client.dlqDelete(queue, job.id)}
                    done={refresh}
                    danger
                  >
                    Delete
                  </Action>
                </td>
              </tr>
            ))}
          </Table>
          {data.next_cursor && <p class="muted">Showing the newest 100 dead jobs.</p>}
        </>
      )}
    </section>
  );
}
