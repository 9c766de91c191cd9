// The slow path of load balancing: takes a service's endpoints and BackendPolicy from each snapshot,
// keeps per-endpoint state across snapshots, and publishes an immutable Picker for the hot path (see
// picker.ts). The assembly point of outlier detection (outlier/: what to leave out) and slow start
// (slow-start/: the weight factors pickers read).

import type { LoadBalancerAlgorithm, BackendPolicySpec } from '../../config/kinds/backend-policy.ts';
import { completeOutlierDetection, completeSlowStart } from '../../config/kinds/backend-policy-outlier.ts';
import type { EndpointSnapshot } from '../../config/snapshot-types.ts';
import { systemClock, type Clock } from '../../lib/clock.ts';
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
import { OutlierDetector, type EjectionObserver } from './outlier/detector.ts';
import type { EjectionReason } from './outlier/outcome.ts';
import { SlowStartTracker } from './slow-start/slow-start.ts';

export interface BalancerOptions {
  readonly clock?: Clock;
  /** Uniform in [0, 1); defaults to Math.random. */
  readonly random?: () => number;
  /** The client's own locality: its sidecar's labels (topology.kubernetes.io/region, …/zone, …). Absent: no locality. */
  readonly locality?: {
    readonly labels: Readonly<Record<string, string>>;
    /** Counts picks per priority level (weft_proxy_locality_requests_total); optional. */
    readonly counter?: (level: number) => LevelCounter;
  };
  /** Told of each ejection and each ejection's end (the proxy's outlier metrics). */
  readonly observer?: EjectionObserver;
}

export interface EndpointStats {
  readonly id: string;
  readonly active: number;
  /** Outcomes that were not ok since the last one that was, of any kind. */
  readonly consecutiveFailures: number;
  readonly consecutive5xx: number;
  readonly consecutiveGatewayErrors: number;
  readonly consecutiveConnectFailures: number;
  /** The algorithm in force may pick it: healthy, and with a weight above 0 if the algorithm uses weights. */
  readonly eligible: boolean;
  /** Clock time the current ejection ends; undefined when not ejected. */
  readonly ejectedUntil: number | undefined;
  /** peak-ewma's score now: latency estimate (ms) × (active + 1) / weight; for the score gauge. */
  readonly peakEwmaScore: number;
  /** Envoy's ejection multiplier: the next ejection lasts baseEjectionTimeMs × (this + 1), capped. */
  readonly ejectionCount: number;
  /** Why it was last ejected; undefined if never (by this balancer). */
  readonly lastEjectionReason: EjectionReason | undefined;
  /** Slow start's share of its full weight, in (0, 1]; 1 when not ramping. */
  readonly weightFactor: number;
}

/** A Balancer whose per-endpoint state can be read, for the admin config dump and for tests. */
export interface StatefulBalancer extends Balancer {
  endpointStats(): EndpointStats[];
  /** Stops its timers and ends its ejections (reported to the observer); the service port left. */
  close(): void;
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
  readonly #detector: OutlierDetector<EndpointState>;
  readonly #slowStart: SlowStartTracker<EndpointState>;
  /** Every endpoint of the last update, by id, in snapshot order. */
  #states = new Map<string, EndpointState>();
  /** The endpoints the algorithm may pick, before ejection; never mutated once built. */
  #eligible: readonly EndpointState[] = [];
  #healthy = 0;
  #updated = false;
  #algorithm: Algorithm = ALGORITHMS['round-robin'];
  #pickerOptions: PickerOptions;
  readonly #locality: BalancerOptions['locality'];
  /** Locality levels in force (policy × client labels); undefined: plain balancing. */
  #levels: { readonly assigner: LevelAssigner; readonly overprovisioningFactor: number } | undefined;
  #picker: Picker = NO_ENDPOINTS;
  /** Shared by every endpoint's PeakEwma; each update sets the policy's tuning in place. */
  readonly #ewma: EwmaSettings;

  constructor(options: BalancerOptions) {
    this.#clock = options.clock ?? systemClock;
    this.#random = options.random ?? Math.random;
    const rebuild = (): void => this.#rebuild();
    this.#slowStart = new SlowStartTracker(this.#clock, rebuild);
    this.#detector = new OutlierDetector<EndpointState>(
      this.#clock,
      { changed: rebuild, readmitted: (state) => this.#slowStart.start(state) },
      options.observer,
    );
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
    // Policies stored (or snapshots sent) before these sections existed get their defaults.
    this.#slowStart.configure(completeSlowStart(policy.slowStart));
    const states = new Map<string, EndpointState>();
    const eligible: EndpointState[] = [];
    let healthy = 0;
    for (const endpoint of endpoints) {
      if (states.has(endpoint.id)) continue; // a duplicate id would split one endpoint's state; first wins
      let state = this.#states.get(endpoint.id);
      const known = state !== undefined;
      const wasHealthy = state !== undefined && isHealthy(state.endpoint);
      if (state === undefined) {
        state = new EndpointState(endpoint, this.#detector);
        state.ewma = new PeakEwma(this.#ewma, neutral);
      } else state.endpoint = endpoint;
      states.set(endpoint.id, state);
      const wasEligible = known && state.eligible;
      state.eligible = false;
      if (!isHealthy(endpoint)) continue;
      healthy++;
      // Critical in the catalog and passing again (a restart, say): its ejection is over.
      if (known && !wasHealthy) this.#detector.readmitNow(state);
      if (algorithm.weighted && effectiveWeight(endpoint.weight) === 0) continue;
      state.eligible = true;
      eligible.push(state);
      // Slow start for what joins after the first update: a new endpoint, or one healthy (or
      // weighted) again. The first update's endpoints were serving before this proxy knew them.
      if (this.#updated && !wasEligible) this.#slowStart.start(state);
    }
    for (const state of this.#states.values()) if (states.get(state.id) !== state) this.#slowStart.forget(state);
    this.#states = states;
    this.#eligible = eligible;
    this.#healthy = healthy;
    this.#algorithm = algorithm;
    this.#pickerOptions = { random: this.#random, choiceCount: policy.loadBalancer.choiceCount, clock: this.#clock, policy: policy.loadBalancer };
    const locality = completeLocality(policy.loadBalancer.locality);
    const assigner = this.#locality === undefined ? undefined : createLevelAssigner(this.#locality.labels, locality);
    this.#levels = assigner && { assigner, overprovisioningFactor: locality.overprovisioningFactor };
    this.#updated = true;
    this.#detector.update(states, eligible, completeOutlierDetection(policy.outlierDetection));
    this.#rebuild();
  }

  endpointStats(): EndpointStats[] {
    const now = this.#clock.now();
    const rtt = this.#pickerOptions.policy?.peakEwma?.defaultRttMs ?? DEFAULT_PEAK_EWMA.defaultRttMs;
    return Array.from(this.#states.values(), (s) => ({
      id: s.id,
      active: s.active,
      consecutiveFailures: s.consecutiveFailures,
      consecutive5xx: s.consecutive5xx,
      consecutiveGatewayErrors: s.consecutiveGatewayErrors,
      consecutiveConnectFailures: s.consecutiveConnectFailures,
      eligible: s.eligible,
      ejectedUntil: this.#detector.isEjected(s) ? s.ejectedUntil : undefined,
      peakEwmaScore: peakEwmaScore(s, now, 1 / (effectiveWeight(s.endpoint.weight) || 1), rtt),
      ejectionCount: s.ejectionCount,
      lastEjectionReason: s.lastEjectionReason,
      weightFactor: s.slowStartFactor,
    }));
  }

  close(): void {
    this.#detector.close();
    this.#slowStart.close();
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
   * picker uses them all anyway (Envoy's panic mode, in spirit): an endpoint that failed a moment
   * ago may well answer now, while failing the request outright is certain to fail it.
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
        isEjected: (s) => s.ejected,
        weighted: this.#algorithm.weighted,
        create: this.#algorithm.create,
        options: this.#pickerOptions,
        counter: this.#locality?.counter,
      }).picker;
    } else {
      let usable = eligible;
      if (this.#detector.ejectedCount > 0) {
        const rest = eligible.filter((s) => !s.ejected);
        if (rest.length > 0) usable = rest;
      }
      this.#picker = this.#algorithm.create(usable, this.#pickerOptions);
    }
  }
}

function isHealthy(endpoint: EndpointSnapshot): boolean {
  return endpoint.health === 'passing' || endpoint.health === 'warning';
}

export function createBalancer(options: BalancerOptions = {}): StatefulBalancer {
  return new EndpointBalancer(options);
}
