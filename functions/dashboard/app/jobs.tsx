/** The jobs page: jobs newest first, filtered by queue, status and error text, a page at a time. */
import { useState } from 'preact/hooks';
import { JOB_STATUSES, type JobStatus, type RelayClient } from '../../sdk/client.ts';
import { usePoll } from './live.ts';
import { ErrorNote, href, hrefWith, Status, Table, When } from './ui.tsx';

const PAGE_SIZE = 25;

export interface JobsQuery {
  readonly queue?: string;
  readonly status?: string;
  readonly text?: string;
}

export function JobsPage({ client, query }: { client: RelayClient; query: JobsQuery }) {
  // Cursors of the pages before this one, to go back; the first page has none.
  const [cursors, setCursors] = useState<(string | undefined)[]>([undefined]);
  const cursor = cursors[cursors.length - 1];
  const key = JSON.stringify([query, cursor]);
  const status = JOB_STATUSES.includes(query.status as JobStatus) ? (query.status as JobStatus) : undefined;
  const { data, error } = usePoll(
    () => client.list({ queue: query.queue, status, errorContains: query.text, limit: PAGE_SIZE, cursor }),
    3_000,
    key,
  );
  const queues = usePoll(() => client.queues(), 30_000, 'queue-names').data?.queues ?? [];

  const apply = (event: Event) => {
    event.preventDefault();
    const form = new FormData(event.currentTarget as HTMLFormElement);
    const value = (name: string) => String(form.get(name) ?? '').trim() || undefined;
    setCursors([undefined]);
    location.hash = hrefWith('jobs', { queue: value('queue'), status: value('status'), text: value('text') });
  };

  return (
    <section aria-labelledby="jobs-title">
      <h1 id="jobs-title">Jobs</h1>
      <form class="filters" onSubmit={apply} key={JSON.stringify(query)}>
        <label>
          Queue
          <select name="queue" defaultValue={query.queue ?? ''}>
            <option value="">all queues</option>
            {queues.map((q) => (
              <option key={q.name} value={q.name}>
                {q.name}
              </option>
            ))}
            {query.queue && !queues.some((q) => q.name === query.queue) && (
              <option value={query.queue}>{query.queue}</option>
            )}
          </select>
        </label>
        <label>
          Status
          <select name="status" defaultValue={status ?? ''}>
            <option value="">any status</option>
            {JOB_STATUSES.map((s) => (
              <option key={s} value={s}>
                {s}
              </option>
            ))}
          </select>
        </label>
        <label>
          Error contains
          <input name="text" type="search" defaultValue={query.text ?? ''} maxLength={1024} />
        </label>
        <button type="submit">Filter</button>
      </form>
      <ErrorNote error={error} />
      {data && data.jobs.length === 0 && <p>No jobs match.</p>}
      {data && data.jobs.length > 0 && (
        <Table
          label="Job list"
          columns={['Job', 'Queue', 'Status', 'Attempts', 'Created', 'Updated', 'Last error']}
        >
          {data.jobs.map((job) => (
            <tr key={`${job.queue}/${job.id}`} data-job={job.id}>
              <th scope="row">
                <a href={href('jobs', job.queue, job.id)}>{job.id}</a>
              </th>
              <td>{job.queue}</td>
              <td>
                <Status status={job.status} />
              </td>
              <td>{job.attempts}</td>
              <td>
                <When at={job.created_at} />
              </td>
              <td>
                <When at={job.updated_at} />
              </td>
              <td class="clip">{job.last_error ?? ''}</td>
            </tr>
          ))}
        </Table>
      )}
      <nav class="pager" aria-label="Job list pages">
        <button type="button" disabled={cursors.length < 2} onClick={() => setCursors(cursors.slice(0, -1))}>
          Newer
        </button>
        <button
          type="button"
          disabled={!data?.next_cursor}
          onClick={() => data?.next_cursor && setCursors([...cursors, data.next_cursor])}
        >
          Older
        </button>
      </nav>
    </section>
  );
}
