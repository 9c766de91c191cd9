// Test fixtures of the DNS interface: catalog instances made through the real registration
// validator, a catalog source the tests can change, and query messages encoded with dns-packet.

import assert from 'node:assert/strict';
import dnsPacket, { type Answer, type DecodedPacket, type Packet, type RecordType } from 'dns-packet';
import { validateRegistration } from '../../config/registration.ts';
import type { HealthStatus, InstanceState } from '../../config/catalog-types.ts';
import type { Resource } from '../../config/resource.ts';
import { serviceModels, type ServiceModel } from '../snapshot/builder.ts';
import type { DnsSource } from './service-source.ts';

/** An instance as the catalog would hold it (`raw` as POST /v1/catalog/instances takes it). */
export function instance(raw: Record<string, unknown>, health: HealthStatus = 'passing'): InstanceState {
  const r = validateRegistration({ service: 'reviews', port: 9080, ...raw });
  assert.ok(r.ok, JSON.stringify(!r.ok && r.errors));
  return { ...r.value, health, healthReason: health, registeredAt: 0, lastHeartbeat: 0, healthSince: 0 };
}

/** A source whose instances and Service resources a test sets; `set` notifies like the catalog does. */
export class TestSource implements DnsSource {
  #items: InstanceState[];
  #resources: Resource[];
  readonly #listeners = new Set<() => void>();
  constructor(items: InstanceState[] = [], resources: Resource[] = []) {
    this.#items = items;
    this.#resources = resources;
  }
  list(): readonly InstanceState[] {
    return this.#items;
  }
  services(): readonly ServiceModel[] {
    return serviceModels({ resources: this.#resources, instances: this.#items });
  }
  subscribe(listener: () => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }
  set(items: InstanceState[], resources: Resource[] = this.#resources): void {
    this.#items = items;
    this.#resources = resources;
    for (const l of this.#listeners) l();
  }
}

/** A query message: one question, RD set, EDNS0 with `udpPayloadSize` when given. */
export function query(name: string, type: RecordType = 'A', options: { udpPayloadSize?: number; id?: number } = {}): Buffer {
  const packet: Packet = { type: 'query', id: options.id ?? 4242, flags: dnsPacket.RECURSION_DESIRED, questions: [{ name, type, class: 'IN' }] };
  if (options.udpPayloadSize !== undefined) packet.additionals = [{ name: '.', type: 'OPT', udpPayloadSize: options.udpPayloadSize, extendedRcode: 0, ednsVersion: 0, flags: 0, flag_do: false, options: [] }];
  return dnsPacket.encode(packet);
}

/** A decoded response with its RCODE (dns-packet puts it beside the typed fields). */
export function decodeResponse(wire: Buffer | undefined): DecodedPacket & { rcode: string } {
  assert.ok(wire, 'expected a response');
  return dnsPacket.decode(wire) as DecodedPacket & { rcode: string };
}

/** A record's data (undefined for OPT, which has none). */
export function rdata(r: Answer): any {
  return 'data' in r ? r.data : undefined;
}
