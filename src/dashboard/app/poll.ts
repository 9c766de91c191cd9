// Live data for a page: fetch now and then every `intervalMs` (2 s for the live views), keep the
// last good answer on a failed refresh, and hand credential failures to the login prompt.

import { useEffect, useRef, useState } from 'preact/hooks';
import { AuthError } from './api.ts';

export interface Polled<T> {
  readonly data: T | undefined;
  /** The last refresh's error, if it failed (the data shown is then the one before). */
  readonly error: string | undefined;
  /** How many answers have arrived (tests and the header's "updated" read it). */
  readonly updates: number;
}

/** The refresh period of the live views (topology, proxies), in milliseconds. */
export const REFRESH_MS = 2000;

/**
 * Polls `load` (re-created when `key` changes). `onAuthError` is called on a 401/403 so that the
 * app can drop the token and show the login prompt. Requests never overlap: the next one is
 * scheduled when the previous one settles.
 */
export function usePoll<T>(key: string, load: () => Promise<T>, onAuthError: (err: AuthError) => void, intervalMs = REFRESH_MS): Polled<T> {
  const [state, setState] = useState<Polled<T>>({ data: undefined, error: undefined, updates: 0 });
  const loadRef = useRef(load);
  loadRef.current = load;
  useEffect(() => {
    let stopped = false;
    let timer: ReturnType<typeof setTimeout> | undefined;
    setState({ data: undefined, error: undefined, updates: 0 });
    const tick = async (): Promise<void> => {
      try {
        const data = await loadRef.current();
        if (!stopped) setState((s) => ({ data, error: undefined, updates: s.updates + 1 }));
      } catch (err) {
        if (stopped) return;
        if (err instanceof AuthError) {
          onAuthError(err);
          return;
        }
        setState((s) => ({ ...s, error: (err as Error).message }));
      }
      if (!stopped && intervalMs > 0) timer = setTimeout(tick, intervalMs);
    };
    void tick();
    return () => {
      stopped = true;
      if (timer) clearTimeout(timer);
    };
  }, [key]);
  return state;
}
