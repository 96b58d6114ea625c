/** The schedules page: each cron schedule, its next fires and last job; pause and resume. */
import type { RelayClient, Schedule } from '../../sdk/client.ts';
import { usePoll } from './live.ts';
import { Action, ErrorNote, href, Table, When } from './ui.tsx';

export function SchedulesPage({ client }: { client: RelayClient }) {
  const { data, error, refresh } = usePoll(() => client.schedules(), 5_000, 'schedules');
  return (
    <section aria-labelledby="schedules-title">
      <h1 id="schedules-title">Schedules</h1>
      <ErrorNote error={error} />
      {data?.schedules.length === 0 && <p>No schedules.</p>}
      {data && data.schedules.length > 0 && (
        <Table
          label="Schedule list"
          columns={['Schedule', 'Cron', 'Queue', 'Kind', 'Next fire', 'Last job', 'State']}
        >
          {data.schedules.map((s) => (
            <tr key={s.name} data-schedule={s.name}>
              <th scope="row">{s.name}</th>
              <td>
                <code>{s.cron}</code> {s.timezone}
              </td>
              <td>{s.job.queue}</td>
              <td>{s.kind}</td>
              <td>
                <When at={s.next_fire_at} />
              </td>
              <td>
                {s.last_job ? (
                  <a href={href('jobs', s.last_job.queue, s.last_job.id)}>{s.last_job.id}</a>
                ) : (
                  '–'
                )}
              </td>
              <td>
                <Toggle client={client} schedule={s} done={refresh} />
              </td>
            </tr>
          ))}
        </Table>
      )}
    </section>
  );
}

function Toggle({ client, schedule, done }: { client: RelayClient; schedule: Schedule; done: () => void }) {
  return schedule.paused ? (
    <>
      <strong class="paused">Paused</strong>{' '}
      <Action
        label={`Resume schedule ${schedule.name}`}
        run={() => client.resumeSchedule(schedule.name)}
        done={done}
      >
        Resume
      </Action>
    </>
  ) : (
    <>
      <span>Active</span>{' '}
      <Action
        label={`Pause schedule ${schedule.name}`}
        run={() => client.pauseSchedule(schedule.name)}
        done={done}
      >
        Pause
      </Action>
    </>
  );
}
