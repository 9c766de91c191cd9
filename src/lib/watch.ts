// A live value: config that changes at run time (the snapshot in force, a picker) is read with
// `get()` on the hot path and swapped by the slow path with `set()`.

export interface Watch<T> {
  get(): T;
  subscribe(listener: (value: T) => void): () => void;
}

export interface WritableWatch<T> extends Watch<T> {
  set(value: T): void;
}

export function createWatch<T>(initial: T): WritableWatch<T> {
  let value = initial;
  const listeners = new Set<(value: T) => void>();
  return {
    get: () => value,
    set(next) {
      value = next;
      for (const listener of listeners) listener(next);
    },
    subscribe(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
  };
}
