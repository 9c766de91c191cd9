// The slow path of load balancing: takes a service's endpoints and BackendPolicy from each snapshot,
// keeps per-endpoint state across snapshots, ejects endpoints that refuse connections, and publishes
// an immutable Picker for the hot path (see picker.ts).

import type { LoadBalancerAlgorithm, BackendPolicySpec } from '../../config/kinds/backend-policy.ts';
import type { EndpointSnapshot } from '../../config/snapshot-types.ts';
import { systemClock, type Clock, type Timer } from '../../lib/clock.ts';
import type { Balancer, Picker } from './picker.ts';
import { failingPicker, type PickerFactory, type PickerOptions } from './candidate.ts';
import { EndpointState } from './endpoint-state.ts';
import { createLeastRequestPicker } from './least-request.ts';
import { createRandomPicker } from './random.ts';
import { createRoundRobinPicker } from './round-robin.ts';
import { createWeightedPicker, effectiveWeight } from './weighted.ts';
import { completeLocality } from '../../config/kinds/backend-policy-locality.ts';
import { createLevelAssigner, type LevelAssigner } from './locality/locality-levels.ts';
import { buildLocalityPicker } from './locality/build-locality-picker.ts';
import type { LevelCounter } from './locality/locality-picker.ts';
import { PeakEwma, type EwmaSettings } from './peak-ewma/ewma.ts';
import { createPeakEwmaPicker, peakEwmaScore } from './peak-ewma/picker.ts';
import { createRingHashPicker } from './ring-hash/picker.ts';
import { createMaglevPicker } from './maglev/picker.ts';
import { DEFAULT_PEAK_EWMA } from '../../config/kinds/backend-policy-balancing.ts';

export interface BalancerOptions {
  readonly clock?: Clock;
  /** Uniform in [0, 1); defaults to Math.random. */
  readonly random?: () => number;
  /** How long an endpoint that refused a connection is skipped; default 5000, 0 disables ejection. */
  readonly ejectionMs?: number;
  /** Most of the pickable endpoints that may be ejected at once, in percent; default 50, 0 disables. */
  readonly maxEjectionPercent?: number;
  /** The client's own locality: its sidecar's labels (topology.kubernetes.io/region, …/zone, …). Absent: no locality. */
  readonly locality?: {
    readonly labels: Readonly<Record<string, string>>;
    /** Counts picks per priority level (weft_proxy_locality_requests_total); optional. */
    readonly counter?: (level: number) => LevelCounter;
  };
}

export interface EndpointStats {
  readonly id: string;
  readonly active: number;
  readonly consecutiveFailures: number;
  /** The algorithm in force may pick it: healthy, and with a weight above 0 if the algorithm uses weights. */
  readonly eligible: boolean;
  /** Clock time the current ejection ends; undefined when not ejected. */
  readonly ejectedUntil: number | undefined;
  /** peak-ewma's score now: latency estimate (ms) × (active + 1) / weight; for the score gauge. */
  readonly peakEwmaScore: number;
}

/** A Balancer whose per-endpoint state can be read, for the admin config dump and for tests. */
export interface StatefulBalancer extends Balancer {
  endpointStats(): EndpointStats[];
}

interface Algorithm {
  readonly create: PickerFactory;
  /** Weight-aware algorithms never pick weight-0 endpoints; round-robin and random ignore weights. */
  readonly weighted: boolean;
}

const ALGORITHMS: Readonly<Record<LoadBalancerAlgorithm, Algorithm>> = {
  'round-robin': { create: createRoundRobinPicker, weighted: false },
  random: { create: createRandomPicker, weighted: false },
  weighted: { create: createWeightedPicker, weighted: true },
  'least-request': { create: createLeastRequestPicker, weighted: true },
  'peak-ewma': { create: createPeakEwmaPicker, weighted: true },
  'ring-hash': { create: createRingHashPicker, weighted: true },
  maglev: { create: createMaglevPicker, weighted: true },
};

const NO_ENDPOINTS = failingPicker('no-endpoints', 'the service has no endpoints');

class EndpointBalancer implements StatefulBalancer {
  readonly #clock: Clock;
  readonly #random: () => number;
  readonly #ejectionMs: number;
  readonly #maxEjectionPercent: number;
  /** Every endpoint of the last update, by id, in snapshot order. */
  #states = new Map<string, EndpointState>();
  /** The endpoints the algorithm may pick, before ejection; never mutated once built. */
  #eligible: readonly EndpointState[] = [];
  #healthy = 0;
  #algorithm: Algorithm = ALGORITHMS['round-robin'];
  #pickerOptions: PickerOptions;
  readonly #locality: BalancerOptions['locality'];
  /** Locality levels in force (policy × client labels); undefined: plain balancing. */
  #levels: { readonly assigner: LevelAssigner; readonly overprovisioningFactor: number } | undefined;
  /** Ejected endpoints still in #states; small, so scanning it on the slow path is fine. */
  readonly #ejected = new Set<EndpointState>();
  #timer: Timer | undefined;
  #picker: Picker = NO_ENDPOINTS;
  readonly #onConnectFailure = (state: EndpointState): void => this.#eject(state);
  readonly #onTimer = (): void => this.#expire();
  /** Shared by every endpoint's PeakEwma; each update sets the policy's tuning in place. */
  readonly #ewma: EwmaSettings;

  constructor(options: BalancerOptions) {
    this.#clock = options.clock ?? systemClock;
    this.#random = options.random ?? Math.random;
    this.#ejectionMs = nonNegative(options.ejectionMs, 5_000);
    this.#maxEjectionPercent = Math.min(100, nonNegative(options.maxEjectionPercent, 50));
    this.#pickerOptions = { random: this.#random, choiceCount: 2, clock: this.#clock };
    this.#ewma = { clock: this.#clock, decayMs: DEFAULT_PEAK_EWMA.decayMs, penaltyMs: DEFAULT_PEAK_EWMA.penaltyMs };
    this.#locality = options.locality;
  }

  picker(): Picker {
    return this.#picker;
  }

  update(endpoints: readonly EndpointSnapshot[], policy: BackendPolicySpec): void {
    const algorithm = ALGORITHMS[policy.loadBalancer.algorithm] ?? ALGORITHMS['round-robin'];
    const peak = policy.loadBalancer.peakEwma ?? DEFAULT_PEAK_EWMA;
    this.#ewma.decayMs = peak.decayMs;
    this.#ewma.penaltyMs = peak.penaltyMs;
    const neutral = this.#neutralLatency(peak.defaultRttMs);
    const states = new Map<string, EndpointState>();
    const eligible: EndpointState[] = [];
    let healthy = 0;
    for (const endpoint of endpoints) {
      if (states.has(endpoint.id)) continue; // a duplicate id would split one endpoint's state; first wins
      let state = this.#states.get(endpoint.id);
      if (state === undefined) {
        state = new EndpointState(endpoint, this.#onConnectFailure);
        state.ewma = new PeakEwma(this.#ewma, neutral);
      } else state.endpoint = endpoint;
      states.set(endpoint.id, state);
      state.eligible = false;
      if (endpoint.health !== 'passing' && endpoint.health !== 'warning') continue;
      healthy++;
      if (algorithm.weighted && effectiveWeight(endpoint.weight) === 0) continue;
      state.eligible = true;
      eligible.push(state);
    }
    // Endpoints that left forget their ejection; in-flight `done`s still settle on their old state
    // object, which no longer affects anything.
    for (const state of this.#ejected) if (states.get(state.id) !== state) this.#ejected.delete(state);
    this.#states = states;
    this.#eligible = eligible;
    this.#healthy = healthy;
    this.#algorithm = algorithm;
    this.#pickerOptions = { random: this.#random, choiceCount: policy.loadBalancer.choiceCount, clock: this.#clock, policy: policy.loadBalancer };
    const locality = completeLocality(policy.loadBalancer.locality);
    const assigner = this.#locality === undefined ? undefined : createLevelAssigner(this.#locality.labels, locality);
    this.#levels = assigner && { assigner, overprovisioningFactor: locality.overprovisioningFactor };
    this.#rebuild();
    this.#schedule();
  }

  endpointStats(): EndpointStats[] {
    const now = this.#clock.now();
    const rtt = this.#pickerOptions.policy?.peakEwma?.defaultRttMs ?? DEFAULT_PEAK_EWMA.defaultRttMs;
    return Array.from(this.#states.values(), (s) => ({
      id: s.id,
      active: s.active,
      consecutiveFailures: s.consecutiveFailures,
      eligible: s.eligible,
      ejectedUntil: this.#ejected.has(s) ? s.ejectedUntil : undefined,
      peakEwmaScore: peakEwmaScore(s, now, 1 / (effectiveWeight(s.endpoint.weight) || 1), rtt),
    }));
  }

  /**
   * Where a new endpoint's latency estimate starts: the mean of the current endpoints' estimates,
   * so it is neither swamped (a zero would look fastest of all) nor starved; `defaultRttMs` when
   * there are none (Linkerd's default_rtt).
   */
  #neutralLatency(defaultRttMs: number): number {
    if (this.#states.size === 0) return defaultRttMs;
    const now = this.#clock.now();
    let sum = 0;
    let n = 0;
    for (const s of this.#states.values()) {
      if (s.ewma === undefined) continue;
      sum += s.ewma.at(now);
      n++;
    }
    return n === 0 ? defaultRttMs : sum / n;
  }

  /**
   * Publishes a picker over the eligible endpoints minus the ejected ones. Ejection is applied
   * here, on the slow path, so a pick never checks it. If every eligible endpoint is ejected the
   * picker uses them all anyway: an endpoint that refused a connection a moment ago may well
   * accept one now, while failing the request outright is certain to fail it.
   */
  #rebuild(): void {
    const eligible = this.#eligible;
    if (this.#states.size === 0) {
      this.#picker = NO_ENDPOINTS;
    } else if (eligible.length === 0) {
      this.#picker = failingPicker(
        'no-healthy-endpoints',
        this.#healthy === 0
          ? `none of the service's ${this.#states.size} endpoints is healthy`
          : 'every healthy endpoint has weight 0',
      );
    } else if (this.#levels !== undefined) {
      // Locality: levels by nearness, each with a picker of the algorithm, chosen by their health.
      this.#picker = buildLocalityPicker({
        ...this.#levels,
        members: this.#states.values(),
        eligible,
        isEjected: (s) => this.#ejected.has(s),
        weighted: this.#algorithm.weighted,
        create: this.#algorithm.create,
        options: this.#pickerOptions,
        counter: this.#locality?.counter,
      }).picker;
    } else {
      let usable = eligible;
      if (this.#ejected.size > 0) {
        const rest = eligible.filter((s) => !this.#ejected.has(s));
        if (rest.length > 0) usable = rest;
      }
      this.#picker = this.#algorithm.create(usable, this.#pickerOptions);
    }
  }

  #eject(state: EndpointState): void {
    if (this.#states.get(state.id) !== state || !state.eligible || this.#ejected.has(state)) return;
    if (this.#ejectionMs === 0 || this.#maxEjectionPercent === 0) return;
    // At most maxEjectionPercent of the eligible endpoints, rounded down, but always at least one:
    // with 2 endpoints and 50% one may go, and with a single endpoint ejecting it is harmless (the
    // fallback in #rebuild still picks it).
    const limit = Math.max(1, Math.floor((this.#eligible.length * this.#maxEjectionPercent) / 100));
    let ejected = 0;
    for (const s of this.#ejected) if (s.eligible) ejected++;
    if (ejected >= limit) return;
    state.ejectedUntil = this.#clock.now() + this.#ejectionMs;
    this.#ejected.add(state);
    this.#rebuild();
    this.#schedule();
  }

  /** Keeps one timer, for the earliest ejection to end; none when nothing is ejected. */
  #schedule(): void {
    if (this.#ejected.size === 0) {
      this.#timer?.cancel();
      this.#timer = undefined;
      return;
    }
    // Every ejection lasts ejectionMs, so a newer one never ends before the one already timed.
    if (this.#timer !== undefined) return;
    let earliest = Infinity;
    for (const s of this.#ejected) if (s.ejectedUntil < earliest) earliest = s.ejectedUntil;
    this.#timer = this.#clock.setTimeout(this.#onTimer, Math.max(0, earliest - this.#clock.now()));
  }

  #expire(): void {
    this.#timer = undefined;
    const now = this.#clock.now();
    let changed = false;
    for (const s of this.#ejected) {
      if (s.ejectedUntil <= now) {
        this.#ejected.delete(s);
        changed = true;
      }
    }
    if (changed) this.#rebuild();
    this.#schedule();
  }
}

function nonNegative(value: number | undefined, fallback: number): number {
  return value !== undefined && Number.isFinite(value) && value >= 0 ? value : fallback;
}

export function createBalancer(options: BalancerOptions = {}): StatefulBalancer {
  return new EndpointBalancer(options);
}
