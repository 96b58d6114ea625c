/** One job: its fields, payload (secrets hidden), state, runs and logs, live while it runs; cancel and retry. */
import { useRef } from 'preact/hooks';
import type { Job, LogEntry, RelayClient } from '../../sdk/client.ts';
import { cancellable, retryable, withoutSecrets } from './api.ts';
import { usePoll } from './live.ts';
import { Action, ErrorNote, hrefWith, Status, When } from './ui.tsx';

const live = (job: Job | undefined) =>
  job === undefined || ['pending', 'scheduled', 'running', 'failed'].includes(job.status);

/** The job's log, read on from where the last poll ended. */
function useLogs(client: RelayClient, queue: string, id: string, everyMs: number) {
  const seen = useRef<{ entries: LogEntry[]; after?: string }>({ entries: [] });
  return usePoll(
    async () => {
      // Up to 10 pages a poll, so a long log catches up without one huge answer.
      for (let i = 0; i < 10; i++) {
        const page = await client.logs(queue, id, { after: seen.current.after, limit: 500 });
        seen.current.entries.push(...page.entries);
        const moved = page.next_cursor !== null && page.next_cursor !== seen.current.after;
        if (page.next_cursor !== null) seen.current.after = page.next_cursor;
        if (!moved || page.entries.length === 0) break;
      }
      return [...seen.current.entries];
    },
    everyMs,
    `logs:${queue}/${id}`,
  );
}

export function JobPage({ client, queue, id }: { client: RelayClient; queue: string; id: string }) {
  const polled = usePoll(() => client.status(queue, id), 2_000, `job:${queue}/${id}`);
  const job = polled.data;
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
      <h2>Logs</h2>
      <ErrorNote error={logs.error} />
      {logs.data && logs.data.length === 0 && <p class="muted">No output.</p>}
      {logs.data && logs.data.length > 0 && (
        <pre class="logs" aria-live="polite">
          {logs.data.map((entry) => (
            <span key={`${entry.run_id}:${entry.seq}`} class={entry.stream}>
              {entry.text}
            </span>
          ))}
        </pre>
      )}
    </section>
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
