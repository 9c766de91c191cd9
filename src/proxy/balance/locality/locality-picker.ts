// Locality, step 3 (hot path): the picker the balancer publishes when locality applies. It draws a
// level by the levels' shares (priority-load.ts), lets that level's own picker (the configured
// algorithm) choose the endpoint, and falls to the other levels when a retry has tried them all.

import type { Pick, PickContext, Picker } from '../picker.ts';
import { ALL_TRIED } from '../candidate.ts';

/** Counts picks at one level (a pre-bound Prometheus counter series); called on the hot path. */
export interface LevelCounter {
  inc(): void;
}

export interface LocalityPickerLevels {
  /** Per level (0 = nearest), its picker, or undefined when the level has nothing to pick now. */
  readonly pickers: readonly (Picker | undefined)[];
  /** Per level, its share of the traffic in whole percent; sums to 100. */
  readonly loads: readonly number[];
  /** Per level, counts each pick there; optional. */
  readonly counters?: readonly LevelCounter[];
}

class LocalityPicker implements Picker {
  readonly #pickers: readonly (Picker | undefined)[];
  /** Running sums of the loads: level i is drawn for r in [cumulative[i-1], cumulative[i]). */
  readonly #cumulative: readonly number[];
  readonly #counters: readonly LevelCounter[] | undefined;
  readonly #random: () => number;

  constructor(levels: LocalityPickerLevels, random: () => number) {
    this.#pickers = levels.pickers;
    const cumulative: number[] = [];
    let sum = 0;
    for (const load of levels.loads) cumulative.push((sum += load));
    this.#cumulative = cumulative;
    this.#counters = levels.counters;
    this.#random = random;
  }

  pick(ctx?: PickContext): Pick {
    const pickers = this.#pickers;
    const cumulative = this.#cumulative;
    const last = pickers.length - 1;
    const r = this.#random() * 100;
    let level = 0;
    while (level < last && r >= cumulative[level]) level++;
    const picker = pickers[level];
    let pick = picker === undefined ? ALL_TRIED : picker.pick(ctx);
    if (pick.kind !== 'endpoint') {
      // A retry that has tried every endpoint of the drawn level (or a level left without any):
      // the next one out, in priority order, as Envoy's retry priority does with previous
      // priorities excluded. This loop runs only on retries.
      for (let i = 0; i <= last; i++) {
        const other = pickers[i];
        if (i === level || other === undefined) continue;
        const p = other.pick(ctx);
        if (p.kind === 'endpoint') {
          level = i;
          pick = p;
          break;
        }
      }
      if (pick.kind !== 'endpoint') return ALL_TRIED;
    }
    this.#counters?.[level].inc();
    return pick;
  }
}

/**
 * A picker choosing a level by `loads` (Envoy's per-priority load) and then an endpoint with that
 * level's picker. At least one level must have a picker; `random` is uniform in [0, 1).
 */
export function createLocalityPicker(levels: LocalityPickerLevels, random: () => number): Picker {
  return new LocalityPicker(levels, random);
}
