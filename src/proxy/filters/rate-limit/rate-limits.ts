// The rate limits in force in one data plane: the inbound policies of this sidecar's own Service,
// and the outbound policies of each Service (and route) it calls, compiled per snapshot. A policy whose content
// is unchanged keeps its compiled limiter (and so its buckets and its Redis connection).

import type { ServiceSnapshot } from '../../../config/snapshot-types.ts';
import { systemClock, type Clock } from '../../../lib/clock.ts';
import { createPolicyLimiter, type PolicyLimiter, type RateLimitMetrics } from './policy-limiter.ts';

export class RateLimits {
  readonly #clock: Clock;
  readonly #metrics: RateLimitMetrics | undefined;
  /** By `direction:namespace/name`, with the JSON of what it was compiled from. */
  #compiled = new Map<string, { readonly content: string; readonly limiter: PolicyLimiter }>();
  #inbound: readonly PolicyLimiter[] | undefined;
  #outbound = new Map<string, readonly PolicyLimiter[]>();
  #routes = new Map<string, readonly PolicyLimiter[]>();

  /** This sidecar's own SPIFFE ID: the caller outbound limits see (undefined until it holds a certificate). */
  readonly self: () => string | undefined;

  constructor(metrics?: RateLimitMetrics, clock: Clock = systemClock, self: () => string | undefined = () => undefined) {
    this.#metrics = metrics;
    this.#clock = clock;
    this.self = self;
  }

  /** The inbound limits of this sidecar's own Service; undefined when none. */
  get inbound(): readonly PolicyLimiter[] | undefined {
    return this.#inbound;
  }

  /** The outbound limits for calls to `destination` (`name.namespace`); undefined when none. */
  outbound(destination: string): readonly PolicyLimiter[] | undefined {
    return this.#outbound.size === 0 ? undefined : this.#outbound.get(destination);
  }

  /** The outbound limits on requests an HTTPRoute or GRPCRoute matched (`namespace/name`); undefined when none. */
  route(route: string): readonly PolicyLimiter[] | undefined {
    return this.#routes.size === 0 ? undefined : this.#routes.get(route);
  }

  /** Puts a snapshot's policies in force. `own`: this sidecar's Service (its inbound policies), if any. */
  update(services: readonly ServiceSnapshot[], own: ServiceSnapshot | undefined): void {
    const next = new Map<string, { readonly content: string; readonly limiter: PolicyLimiter }>();
    const limiterFor = (p: NonNullable<ServiceSnapshot['rateLimits']>[number]): PolicyLimiter => {
      const id = `${p.direction}:${p.name}`;
      const content = JSON.stringify(p);
      const known = next.get(id) ?? this.#compiled.get(id);
      const entry = known !== undefined && known.content === content ? known : { content, limiter: createPolicyLimiter(p, this.#clock, this.#metrics) };
      next.set(id, entry);
      return entry.limiter;
    };
    const inbound = (own?.rateLimits ?? []).filter((p) => p.direction === 'inbound' && p.route === undefined).map(limiterFor);
    const outbound = new Map<string, readonly PolicyLimiter[]>();
    const routes = new Map<string, PolicyLimiter[]>();
    for (const s of services) {
      const list: PolicyLimiter[] = [];
      for (const p of s.rateLimits ?? []) {
        if (p.direction !== 'outbound') continue;
        if (p.route === undefined) {
          list.push(limiterFor(p));
          continue;
        }
        // A route attached to several Services: one limiter for all of them.
        let forRoute = routes.get(p.route);
        if (forRoute === undefined) routes.set(p.route, (forRoute = []));
        const limiter = limiterFor(p);
        if (!forRoute.includes(limiter)) forRoute.push(limiter);
      }
      if (list.length) outbound.set(`${s.name}.${s.namespace}`, list);
    }
    for (const [id, old] of this.#compiled) if (next.get(id) !== old) old.limiter.close();
    this.#compiled = next;
    this.#inbound = inbound.length ? inbound : undefined;
    this.#outbound = outbound;
    this.#routes = routes;
  }

  /** Releases every Redis connection. */
  close(): void {
    for (const { limiter } of this.#compiled.values()) limiter.close();
    this.#compiled.clear();
    this.#inbound = undefined;
    this.#outbound.clear();
    this.#routes.clear();
  }
}
