// The JSON shapes Consul's HTTP API answers with, made from weft instances: agent services,
// catalog service nodes, health entries (node, service, checks). Each weft instance address is
// shown as a Consul node of that name, with a passing `serfHealth` node check.

import { createHash } from 'node:crypto';
import type { HealthStatus, InstanceState } from '../../config/catalog-types.ts';
import type { CheckView } from './agent.ts';
import { consulPort, tagsAndMeta } from './mapping.ts';

/** Consul's default datacenter name; weft has one. */
export const DATACENTER = 'dc1';

/** A stable UUID-shaped node ID for an address (Consul node IDs are UUIDs). */
export function nodeId(address: string): string {
  const h = createHash('sha256').update(`weft-node:${address}`).digest('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20, 32)}`;
}

/** The Consul node for an instance: named by its address. */
export function nodeView(inst: InstanceState, index: number) {
  return {
    ID: nodeId(inst.address),
    Node: inst.address,
    Address: inst.address,
    Datacenter: DATACENTER,
    TaggedAddresses: { lan: inst.address, wan: inst.address },
    Meta: { 'consul-network-segment': '' },
    CreateIndex: index,
    ModifyIndex: index,
  };
}

/** The service part of an instance (agent/services, health/service's `Service`). */
export function serviceView(inst: InstanceState, index: number) {
  const { tags, meta } = tagsAndMeta(inst.labels);
  return {
    ID: inst.id,
    Service: inst.service,
    Tags: tags,
    Address: inst.address,
    Meta: meta,
    Port: consulPort(inst),
    Weights: { Passing: inst.weight, Warning: 1 },
    EnableTagOverride: false,
    Kind: '',
    Datacenter: DATACENTER,
    CreateIndex: index,
    ModifyIndex: index,
  };
}

/** One entry of GET /v1/catalog/service/:name. */
export function serviceNodeView(inst: InstanceState, index: number) {
  const node = nodeView(inst, index);
  const svc = serviceView(inst, index);
  return {
    ID: node.ID,
    Node: node.Node,
    Address: node.Address,
    Datacenter: DATACENTER,
    TaggedAddresses: node.TaggedAddresses,
    NodeMeta: node.Meta,
    ServiceKind: '',
    ServiceID: svc.ID,
    ServiceName: svc.Service,
    ServiceTags: svc.Tags,
    ServiceAddress: svc.Address,
    ServiceWeights: svc.Weights,
    ServiceMeta: svc.Meta,
    ServicePort: svc.Port,
    ServiceEnableTagOverride: false,
    CreateIndex: index,
    ModifyIndex: index,
  };
}

const CHECK_TYPE: Readonly<Record<CheckView['def']['type'], string>> = { ttl: 'ttl', http: 'http', tcp: 'tcp', grpc: 'grpc' };
const DEFINITION_KEY: Readonly<Record<CheckView['def']['type'], string>> = { ttl: 'TTL', http: 'HTTP', tcp: 'TCP', grpc: 'GRPC' };

/** A check as health/service and agent/checks show it. */
export function checkView(inst: InstanceState, c: CheckView, index: number) {
  const { tags } = tagsAndMeta(inst.labels);
  return {
    Node: inst.address,
    CheckID: c.def.id,
    Name: c.def.name,
    Status: c.status,
    Notes: c.def.notes,
    Output: c.output,
    ServiceID: inst.id,
    ServiceName: inst.service,
    ServiceTags: tags,
    Type: CHECK_TYPE[c.def.type],
    Definition: c.def.type === 'ttl' ? {} : { [DEFINITION_KEY[c.def.type]]: c.def.target, Interval: `${c.def.intervalMs! / 1000}s`, Timeout: `${c.def.timeoutMs! / 1000}s` },
    CreateIndex: index,
    ModifyIndex: index,
  };
}

/** The node-level check every Consul node has; weft's "nodes" are addresses, always alive. */
export function serfHealthView(inst: InstanceState, index: number) {
  return {
    Node: inst.address,
    CheckID: 'serfHealth',
    Name: 'Serf Health Status',
    Status: 'passing' as HealthStatus,
    Notes: '',
    Output: 'Agent alive and reachable',
    ServiceID: '',
    ServiceName: '',
    ServiceTags: [],
    Type: '',
    Definition: {},
    CreateIndex: index,
    ModifyIndex: index,
  };
}

/**
 * The checks of one health entry: serfHealth, then the service's checks. When weft holds the
 * instance in a worse state than its checks say (a weft-side reason: a lapsed weft heartbeat, a
 * report), a `weft:health` check says so, so a client reading Checks agrees with `?passing`.
 */
export function healthChecks(inst: InstanceState, checks: readonly CheckView[], index: number) {
  const out: ReturnType<typeof checkView>[] = [serfHealthView(inst, index), ...checks.map((c) => checkView(inst, c, index))];
  const rank = { passing: 0, warning: 1, critical: 2 } as const;
  const worst = checks.reduce<HealthStatus>((w, c) => (rank[c.status] > rank[w] ? c.status : w), 'passing');
  if (rank[inst.health] > rank[worst]) {
    out.push({ ...serfHealthView(inst, index), CheckID: 'weft:health', Name: 'weft instance health', Status: inst.health, Output: inst.healthReason, ServiceID: inst.id, ServiceName: inst.service, ServiceTags: tagsAndMeta(inst.labels).tags });
  }
  return out;
}
