/** Small pieces every page uses: links, status badges, times, errors and action buttons. */
import type { ComponentChildren } from 'preact';
import { useEffect, useLayoutEffect, useRef, useState } from 'preact/hooks';
import { describe } from './api.ts';

/** A link to a page of the dashboard (hash routes: the server serves one page). */
export function href(...parts: string[]): string {
  return `#/${parts.map(encodeURIComponent).join('/')}`;
}

/** `#/jobs?queue=a&status=dead`, leaving out empty values. */
export function hrefWith(page: string, query: Record<string, string | undefined>): string {
  const pairs = Object.entries(query).filter((entry): entry is [string, string] => Boolean(entry[1]));
  const search = pairs.map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(v)}`).join('&');
  return `#/${page}${search ? `?${search}` : ''}`;
}

export const Status = ({ status }: { status: string }) => (
  <span class={`status status-${status}`}>{status}</span>
);

/** How long ago (or until) an instant, with the instant itself on hover. */
export function When({ at }: { at: string | number | null | undefined }) {
  if (at === null || at === undefined) return <span class="muted">–</span>;
  const ms = typeof at === 'number' ? at : Date.parse(at);
  const iso = new Date(ms).toISOString();
  return (
    <time dateTime={iso} title={iso}>
      {ago(ms - Date.now())}
    </time>
  );
}

/** `3s ago`, `in 2m`, `1h ago`. */
export function ago(deltaMs: number): string {
  const s = Math.round(Math.abs(deltaMs) / 1000);
  const text =
    s < 60
      ? `${s}s`
      : s < 3600
        ? `${Math.round(s / 60)}m`
        : s < 86_400
          ? `${Math.round(s / 3600)}h`
          : `${Math.round(s / 86_400)}d`;
  return deltaMs > 0 ? `in ${text}` : `${text} ago`;
}

export function ErrorNote({ error }: { error: unknown }) {
  if (error === undefined || error === null) return null;
  return (
    <p class="error" role="alert">
      {describe(error)}
    </p>
  );
}

/**
 * A button that runs an action, is disabled while it runs, and reports a failure beside itself.
 * With `confirm`, the user is asked first.
 */
export function Action(props: {
  label: string;
  run: () => Promise<unknown>;
  done?: () => void;
  confirm?: string;
  danger?: boolean;
  children?: ComponentChildren;
}) {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>();
  const click = async () => {
    if (props.confirm && !window.confirm(props.confirm)) return;
    setBusy(true);
    setError(undefined);
    try {
      await props.run();
      props.done?.();
    } catch (failure) {
      setError(failure);
    } finally {
      setBusy(false);
    }
  };
  return (
    <span class="action">
      <button
        type="button"
        class={props.danger ? 'danger' : undefined}
        disabled={busy}
        aria-label={props.label}
        onClick={click}
      >
        {props.children ?? props.label}
      </button>
      {error !== undefined && (
        <span class="error" role="alert">
          {describe(error)}
        </span>
      )}
    </span>
  );
}

/**
 * A table with a header row of `columns`. Where it is wider than the screen it scrolls sideways
 * inside its own region, which then takes keyboard focus so arrow keys can scroll it; on a phone
 * each row becomes a card of `column: value` lines, so each cell carries its column's name.
 */
export function Table({
  label,
  columns,
  children,
}: {
  label: string;
  columns: string[];
  children: ComponentChildren;
}) {
  const wrap = useRef<HTMLElement>(null);
  const table = useRef<HTMLTableElement>(null);
  const [scrolls, setScrolls] = useState(false);
  // After every render, as rows come and go with each poll.
  useLayoutEffect(() => {
    for (const row of table.current?.tBodies[0]?.rows ?? []) {
      for (const cell of row.cells) cell.dataset.label = columns[cell.cellIndex] ?? '';
    }
  });
  useEffect(() => {
    const region = wrap.current;
    if (!region || !table.current) return;
    const measure = () => setScrolls(region.scrollWidth > region.clientWidth);
    const observer = new ResizeObserver(measure);
    observer.observe(region);
    observer.observe(table.current);
    return () => observer.disconnect();
  }, []);
  return (
    <section class="table-wrap" aria-label={label} ref={wrap} tabIndex={scrolls ? 0 : undefined}>
      <table ref={table}>
        <thead>
          <tr>
            {columns.map((name) => (
              <th key={name} scope="col">
                {name}
              </th>
            ))}
          </tr>
        </thead>
        <tbody>{children}</tbody>
      </table>
    </section>
  );
}
