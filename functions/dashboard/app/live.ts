/**
 * Live updates by polling: each page asks again every few seconds while the tab is visible, every
 * 30 s while it is hidden, and backs off after failures; a tab coming back asks at once.
 */
import { useEffect, useRef, useState } from 'preact/hooks';

const HIDDEN_MS = 30_000;
const MAX_BACKOFF_MS = 60_000;

export interface Polled<T> {
  readonly data: T | undefined;
  readonly error: unknown;
  /** Asks again now (after an action changed what the page shows). */
  readonly refresh: () => void;
}

/**
 * Calls `load` now and then every `everyMs`, keeping the latest answer (and the latest error, until
 * an answer comes). A new `key` starts over; answers to an older key are dropped.
 */
export function usePoll<T>(load: () => Promise<T>, everyMs: number, key: string): Polled<T> {
  const [state, setState] = useState<{ key: string; data?: T; error?: unknown }>({ key });
  const loadRef = useRef(load);
  loadRef.current = load;
  const kick = useRef<() => void>(() => {});

  useEffect(() => {
    let stopped = false;
    let timer: ReturnType<typeof setTimeout> | undefined;
    let failures = 0;
    // A refresh during a load starts a newer one: only the newest schedules the next.
    let generation = 0;
    const run = async () => {
      clearTimeout(timer);
      const mine = ++generation;
      try {
        const data = await loadRef.current();
        if (stopped || mine !== generation) return;
        failures = 0;
        setState({ key, data });
      } catch (error) {
        if (stopped || mine !== generation) return;
        failures++;
        setState((old) => ({ key, data: old.key === key ? old.data : undefined, error }));
      }
      const wait = document.hidden ? HIDDEN_MS : Math.min(MAX_BACKOFF_MS, everyMs * 2 ** failures);
      timer = setTimeout(run, wait);
    };
    const onVisible = () => {
      if (!document.hidden) void run();
    };
    kick.current = () => void run();
    document.addEventListener('visibilitychange', onVisible);
    void run();
    return () => {
      stopped = true;
      clearTimeout(timer);
      document.removeEventListener('visibilitychange', onVisible);
    };
  }, [key, everyMs]);

  const current = state.key === key;
  return {
    data: current ? state.data : undefined,
    error: current ? state.error : undefined,
    refresh: () => kick.current(),
  };
}
