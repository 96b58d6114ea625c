/**
 * The Relay dashboard, a single page served at `/dashboard/`: hash routes pick the page, each page
 * polls the public API for what it shows. When the API asks for a token (a `relay dev` bound beyond
 * loopback, or `relay dashboard`'s URL opened without its fragment), the page asks the user for it.
 */
import { render } from 'preact';
import { useEffect, useMemo, useRef, useState } from 'preact/hooks';
import { clientFor, initialToken, needsToken, saveToken } from './api.ts';
import { DlqPage } from './dlq.tsx';
import { JobPage } from './job.tsx';
import { JobsPage } from './jobs.tsx';
import { usePoll } from './live.ts';
import { QueuesPage } from './queues.tsx';
import { SchedulesPage } from './schedules.tsx';

interface Route {
  readonly page: string;
  readonly parts: string[];
  readonly query: Record<string, string>;
}

function parseRoute(hash: string): Route {
  const [path = '', search = ''] = hash.replace(/^#\/?/, '').split('?');
  const parts = path.split('/').filter(Boolean).map(decodeURIComponent);
  const query = Object.fromEntries(
    search
      .split('&')
      .filter(Boolean)
      .map((pair) => pair.split('=').map(decodeURIComponent) as [string, string]),
  );
  return { page: parts[0] ?? 'queues', parts: parts.slice(1), query };
}

function useRoute(): Route {
  const [hash, setHash] = useState(location.hash);
  useEffect(() => {
    const onChange = () => setHash(location.hash);
    window.addEventListener('hashchange', onChange);
    return () => window.removeEventListener('hashchange', onChange);
  }, []);
  return parseRoute(hash);
}

function TokenForm({ onToken }: { onToken: (token: string) => void }) {
  return (
    <form
      class="token"
      onSubmit={(event) => {
        event.preventDefault();
        const form = new FormData(event.currentTarget as HTMLFormElement);
        onToken(String(form.get('token') ?? '').trim());
      }}
    >
      <h1>This Relay needs a token</h1>
      <p>Give the bearer token Relay was started with (RELAY_TOKEN). It is kept for this tab only.</p>
      <label>
        Token
        <input name="token" type="password" autoComplete="off" required />
      </label>
      <button type="submit">Open</button>
    </form>
  );
}

const NAV: readonly [string, string][] = [
  ['queues', 'Queues'],
  ['jobs', 'Jobs'],
  ['dlq', 'Dead letters'],
  ['schedules', 'Schedules'],
];

function App() {
  const [token, setToken] = useState(initialToken);
  const client = useMemo(() => clientFor(token), [token]);
  const route = useRoute();
  // Probes the API: a 401 here means the token is missing or wrong. Schedules show once they exist.
  const probe = usePoll(() => client.schedules(), 30_000, `probe:${token}`);
  const hasSchedules = (probe.data?.schedules.length ?? 0) > 0 || route.page === 'schedules';
  const key = `${route.page}/${route.parts.join('/')}?${JSON.stringify(route.query)}`;
  useFocusOnNavigation(key);

  if (needsToken(probe.error)) {
    return (
      <main id="main">
        <TokenForm
          onToken={(given) => {
            saveToken(given);
            setToken(given);
          }}
        />
      </main>
    );
  }
  return (
    <>
      <header>
        <span class="brand">Relay</span>
        <nav aria-label="Pages">
          {NAV.filter(([page]) => page !== 'schedules' || hasSchedules).map(([page, label]) => (
            <a key={page} href={`#/${page}`} aria-current={route.page === page ? 'page' : undefined}>
              {label}
            </a>
          ))}
        </nav>
      </header>
      <main id="main" tabIndex={-1} key={key}>
        <Page route={route} client={client} />
      </main>
    </>
  );
}

/**
 * Moves the focus to the new page's `main` when the route changes (not on the first page), as the
 * link or button that led there is gone: keyboard and screen-reader users go on from the page's
 * top instead of from the start of the document.
 */
function useFocusOnNavigation(route: string) {
  const first = useRef(true);
  useEffect(() => {
    if (first.current) first.current = false;
    else document.getElementById('main')?.focus();
  }, [route]);
}

function Page({ route, client }: { route: Route; client: ReturnType<typeof clientFor> }) {
  const [first, second] = route.parts;
  switch (route.page) {
    case 'jobs':
      if (first !== undefined && second !== undefined)
        return <JobPage client={client} queue={first} id={second} />;
      return <JobsPage client={client} query={route.query} />;
    case 'dlq':
      return <DlqPage client={client} queue={first} />;
    case 'schedules':
      return <SchedulesPage client={client} />;
    default:
      return <QueuesPage client={client} />;
  }
}

const root = document.getElementById('app');
if (root) {
  root.textContent = '';
  render(<App />, root);
}
