/** One job: its fields, payload (secrets hidden), state, runs and logs, live while it runs; cancel and retry. */
import { useRef } from 'preact/hooks';
import { type Job, type LogEntry, RelayApiError, type RelayClient, type Run } from '../../sdk/client.ts';
import { usePoll } from './live.ts';
import { Action, ErrorNote, hrefWith, Status, Table, When } from './ui.tsx';
import { cancellable, retryable, withoutSecrets } from './views.ts';

const live = (job: Job | undefined) =>
  job === undefined || ['pending', 'scheduled', 'running', 'failed'].includes(job.status);

/**
 * The job's log, read on from where the last poll ended. A poll's entries are kept only if no other
 * poll kept its own meanwhile (a restarted poll may overlap the one before it): never twice.
 */
function useLogs(client: RelayClient, queue: string, id: string, everyMs: number) {
  const seen = useRef<{ entries: LogEntry[]; after?: string }>({ entries: [] });
  return usePoll(
    async () => {
      const start = seen.current;
      const fresh: LogEntry[] = [];
      let after = start.after;
      // Up to 10 pages a poll, so a long log catches up without one huge answer.
      for (let i = 0; i < 10; i++) {
        const page = await client.logs(queue, id, { after, limit: 500 });
        fresh.push(...page.entries);
        const moved = page.next_cursor !== null && page.next_cursor !== after;
        if (page.next_cursor !== null) after = page.next_cursor;
        if (!moved || page.entries.length === 0) break;
      }
      if (seen.current === start) seen.current = { entries: [...start.entries, ...fresh], after };
      return seen.current.entries;
    },
    everyMs,
    `logs:${queue}/${id}`,
  );
}

export function JobPage({ client, queue, id }: { client: RelayClient; queue: string; id: string }) {
  const polled = usePoll(
    () => Promise.all([client.status(queue, id), runsOf(client, queue, id)]),
    2_000,
    `job:${queue}/${id}`,
  );
  const [job, runs] = polled.data ?? [];
  const logs = useLogs(client, queue, id, live(job) ? 2_000 : 15_000);
  return (
    <section aria-labelledby="job-title">
      <h1 id="job-title">
        Job <code>{id}</code> in{' '}
        <a href={hrefWith('jobs', { queue })}>
          <code>{queue}</code>
        </a>
      </h1>
      <ErrorNote error={polled.error} />
      {job && (
        <>
          <p class="actions">
            <Status status={job.status} />
            {cancellable(job) && (
              <Action label="Cancel job" run={() => client.cancel(queue, id)} done={polled.refresh} danger>
                Cancel
              </Action>
            )}
            {retryable(job) && (
              <Action label="Retry job" run={() => client.retry(queue, id)} done={polled.refresh}>
                Retry
              </Action>
            )}
          </p>
          <Fields job={job} />
          <h2>Payload</h2>
          <pre class="json">{JSON.stringify(withoutSecrets(job.payload), null, 2)}</pre>
          {job.state !== null && job.state !== undefined && (
            <>
              <h2>State</h2>
              <pre class="json">{JSON.stringify(job.state, null, 2)}</pre>
            </>
          )}
          {job.last_error && (
            <>
              <h2>Last error</h2>
              <pre class="error-text">{job.last_error}</pre>
            </>
          )}
        </>
      )}
      {runs && runs.length > 0 && <Runs runs={runs} />}
      <h2>Logs</h2>
      <ErrorNote error={logs.error} />
      {logs.data && logs.data.length === 0 && <p class="muted">No output.</p>}
      {logs.data && logs.data.length > 0 && (
        <pre class="logs" aria-live="polite">
          {logs.data.map((entry, i) => (
            <span key={`${entry.run_id}:${entry.seq}`} class={entry.stream}>
              {entry.run_id !== logs.data?.[i - 1]?.run_id && (
                <span class="run-mark">{`── attempt ${entry.attempt} (run ${entry.run_id.slice(0, 8)}) ──\n`}</span>
              )}
              {entry.text}
            </span>
          ))}
        </pre>
      )}
    </section>
  );
}

/** The job's runs, newest first; none from a Relay that keeps no run history (404). */
async function runsOf(client: RelayClient, queue: string, id: string): Promise<Run[] | undefined> {
  try {
    return [...(await client.runs(queue, id))].reverse();
  } catch (error) {
    if (error instanceof RelayApiError && error.status === 404 && error.code !== 'job_not_found')
      return undefined;
    throw error;
  }
}

function Runs({ runs }: { runs: readonly Run[] }) {
  return (
    <>
      <h2>Runs</h2>
      <Table
        label="Runs"
        columns={['Attempt', 'Outcome', 'Started', 'Ended', 'Duration', 'Exit code', 'Worker', 'Error']}
      >
        {runs.map((run) => (
          <tr key={run.run_id} data-run={run.run_id}>
            <th scope="row" title={run.run_id}>
              {run.attempt}
            </th>
            <td>{run.outcome === null ? <Status status="running" /> : <Status status={run.outcome} />}</td>
            <td>
              <When at={run.started_at ?? run.claimed_at} />
            </td>
            <td>
              <When at={run.ended_at} />
            </td>
            <td>{run.duration_ms === null ? '–' : `${run.duration_ms} ms`}</td>
            <td>{run.exit_code ?? '–'}</td>
            <td>{run.worker ?? '–'}</td>
            <td class="clip">{run.error ?? ''}</td>
          </tr>
        ))}
      </Table>
    </>
  );
}

function Fields({ job }: { job: Job }) {
  const rows: [string, preact.ComponentChildren][] = [
    ['Type', job.type === 'SHELL' ? 'managed (shell)' : 'pull'],
    ['Attempts', job.attempts],
    ['Retries left', job.retries_remaining ?? 'unlimited'],
    ['Max retries', job.max_retries ?? 'unlimited'],
    ['Priority', job.priority],
    ['Timeout', `${job.timeout}s`],
    ['Run at', <When at={job.run_at} />],
    ['Created', <When at={job.created_at} />],
    ['Updated', <When at={job.updated_at} />],
    ['Run id', job.run_id ?? '–'],
    ['Lease expires', <When at={job.lease_expires_at} />],
    ['Dead reason', job.dead_reason ?? '–'],
    ['Exit code', job.result?.exit_code ?? '–'],
    [
      'Duration',
      job.result?.duration_ms === null || job.result === null ? '–' : `${job.result.duration_ms} ms`,
    ],
    ['Idempotency key', job.idempotency_key ?? '–'],
  ];
  return (
    <dl class="fields">
      {rows.map(([name, value]) => (
        <div key={name}>
          <dt>{name}</dt>
          <dd>{value}</dd>
        </div>
      ))}
    </dl>
  );
}
