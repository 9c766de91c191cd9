// `weft check`: what in the mesh needs attention — instances whose identity is not their service's
// (they get no mesh traffic), proxy certificates and the CA root expiring soon, proxies stale or
// rejecting their config, services with no healthy instance, broken routes. Exit 1 if any.

import type { InstanceState } from '../../config/catalog-types.ts';
import { ApiClient } from '../api-client.ts';
import { controlOption, controlUrl, outputOption, parseCommand, str, token, ttlSeconds, type Command } from '../command.ts';
import { outputFormat, print, timeLeft } from '../output.ts';

interface Finding {
  readonly check: 'endpoint-identity' | 'proxy-certificate' | 'ca-root' | 'route' | 'route-backend' | 'proxy-config' | 'service-health';
  readonly subject: string;
  readonly problem: string;
}

interface ProxyRow {
  id: string;
  service: string;
  namespace: string;
  connected: boolean;
  certificate?: { identity: string; notAfter: string };
  currentVersion?: string;
  ackedVersion?: string;
  nackedVersion?: string;
  nackErrors?: { path: string; message: string }[];
  inSync?: boolean;
}

/** A proxy still out of sync this long after the first look is stale, not merely catching up with a change. */
const STALE_RECHECK_MS = 2_000;

/** Connected proxies that refuse their config (NACK) or have not acknowledged the current version. */
async function proxyConfigFindings(api: ApiClient, first: readonly ProxyRow[], recheckMs: number): Promise<Finding[]> {
  const outOfSync = (rows: readonly ProxyRow[]) => rows.filter((x) => x.connected && (x.nackedVersion !== undefined || x.inSync === false));
  let rows = outOfSync(first);
  // A push in flight makes every proxy briefly out of sync: look again before calling one stale.
  if (rows.some((x) => x.nackedVersion === undefined) && recheckMs > 0) {
    await new Promise((r) => setTimeout(r, recheckMs));
    const again = new Set(outOfSync((await api.request<{ items: ProxyRow[] }>('GET', '/v1/proxies')).items).map((x) => x.id));
    rows = rows.filter((x) => again.has(x.id));
  }
  return rows.map((x) => ({
    check: 'proxy-config' as const,
    subject: x.id,
    problem: x.nackedVersion !== undefined
      ? `rejects config v${x.nackedVersion} (keeps serving v${x.ackedVersion ?? '-'}): ${(x.nackErrors ?? []).slice(0, 3).map((e) => `${e.path}: ${e.message}`).join('; ') || 'no reason given'}`
      : `stale: acknowledged v${x.ackedVersion ?? '-'}, the current config is v${x.currentVersion ?? '-'}`,
  }));
}

/** The route kinds whose status and backends `weft check` looks at. */
const ROUTE_PLURALS = ['httproutes', 'grpcroutes', 'tcproutes'];

interface RouteRow {
  readonly kind: string;
  readonly metadata: { readonly name: string; readonly namespace: string };
  readonly spec: { readonly rules?: readonly { readonly backendRefs?: readonly { kind?: string; name: string; namespace?: string; weight?: number }[] }[] };
  readonly status?: { readonly parents: readonly { readonly conditions: readonly { type: string; status: string; reason: string; message: string }[] }[] };
}

export const checkCommand: Command = {
  name: 'check',
  summary: 'Check the mesh for mis-identified endpoints, expiring certificates, stale or rejecting proxies and broken routes (exit 1 if any).',
  usage: `Usage: weft check [--cert-warn DURATION] [--root-warn DURATION] [-o table|json|yaml]

  --cert-warn DURATION   flag connected proxies whose certificate expires within it (default 1h;
                         sidecars renew at half life, so a certificate this close means renewal fails)
  --root-warn DURATION   flag the mesh CA root expiring within it (default 720h, 30 days)

Checks: every registered instance proves its own service's SPIFFE ID (otherwise it receives no
mesh traffic: none under STRICT, plaintext only under PERMISSIVE); proxy certificates; the CA
root; routes (HTTPRoute, GRPCRoute, TCPRoute) not accepted or with references that do not
resolve, and route backends with no healthy instance; proxies that reject their config (NACK)
or are stale (have not acknowledged the current version, looked at twice 2 s apart); services
whose instances are all unhealthy. Exit code 0 when all is well, 1 when
something is flagged. Needs a read-only token.`,
  async run(argv) {
    const p = parseCommand(this, argv, { ...controlOption, ...outputOption, 'cert-warn': { type: 'string' }, 'root-warn': { type: 'string' } });
    if (!p) return 0;
    const format = outputFormat(str(p, 'output'));
    const certWarnMs = (ttlSeconds(str(p, 'cert-warn'), '--cert-warn') ?? 3600) * 1000;
    const rootWarnMs = (ttlSeconds(str(p, 'root-warn'), '--root-warn') ?? 30 * 86_400) * 1000;
    const api = new ApiClient(controlUrl(p), token(p));
    const [instances, proxies, health, services, ...routeLists] = await Promise.all([
      api.request<{ items: (InstanceState & { identityStatus?: string })[] }>('GET', '/v1/catalog/instances'),
      api.request<{ items: ProxyRow[] }>('GET', '/v1/proxies'),
      api.request<{ ca?: { trustDomain: string; rootNotAfter: string } }>('GET', '/v1/health'),
      api.request<{ items: { name: string; namespace: string; instances: number; passing: number }[] }>('GET', '/v1/catalog/services'),
      ...ROUTE_PLURALS.map((plural) => api.request<{ items: RouteRow[] }>('GET', `/v1/resources/${plural}`)),
    ]);
    const now = Date.now();
    const findings: Finding[] = [];
    for (const i of instances.items) {
      if (i.identityStatus === 'mismatch') findings.push({ check: 'endpoint-identity', subject: `${i.service}.${i.namespace}/${i.id}`, problem: `registered identity ${i.identity} is not its service's: receives no mesh traffic` });
      else if (i.identityStatus === 'missing') findings.push({ check: 'endpoint-identity', subject: `${i.service}.${i.namespace}/${i.id}`, problem: 'no identity (no sidecar): receives no mesh traffic under STRICT mTLS, plaintext under PERMISSIVE' });
    }
    for (const x of proxies.items) {
      if (!x.connected || !x.certificate) continue;
      const left = Date.parse(x.certificate.notAfter) - now;
      if (left < certWarnMs) findings.push({ check: 'proxy-certificate', subject: x.id, problem: `certificate ${x.certificate.identity} ${left <= 0 ? 'expired' : `expires in ${timeLeft(x.certificate.notAfter, now).replace(' left', '')}`}` });
    }
    findings.push(...(await proxyConfigFindings(api, proxies.items, STALE_RECHECK_MS)));
    for (const x of services.items) {
      if (x.instances > 0 && x.passing === 0) findings.push({ check: 'service-health', subject: `${x.name}.${x.namespace}`, problem: `none of its ${x.instances} instance(s) is healthy: calls to it fail` });
    }
    // Routes: not in force, references that do not resolve, and backends with no healthy instance
    // (their share of requests fails, though every instance that exists is fine).
    const passing = new Map(services.items.map((x) => [`${x.namespace}/${x.name}`, x.passing]));
    for (const route of routeLists.flatMap((l) => l.items)) {
      const subject = `${route.kind.toLowerCase()}/${route.metadata.namespace}/${route.metadata.name}`;
      const failed = new Set<string>();
      for (const parent of route.status?.parents ?? []) for (const c of parent.conditions) if (c.status !== 'True') failed.add(`${c.type} ${c.reason}: ${c.message}`);
      for (const f of failed) findings.push({ check: 'route', subject, problem: f });
      for (const rule of route.spec.rules ?? []) {
        for (const ref of rule.backendRefs ?? []) {
          if ((ref.kind ?? 'Service') !== 'Service' || (ref.weight ?? 1) === 0) continue;
          const key = `${ref.namespace ?? route.metadata.namespace}/${ref.name}`;
          if (passing.has(key) && passing.get(key) === 0) findings.push({ check: 'route-backend', subject, problem: `backend Service ${key} has no healthy instance: its share of requests fails` });
        }
      }
    }
    const rootNotAfter = health.ca?.rootNotAfter;
    if (rootNotAfter !== undefined && Date.parse(rootNotAfter) - now < rootWarnMs) {
      findings.push({ check: 'ca-root', subject: health.ca!.trustDomain, problem: `the mesh CA root ${Date.parse(rootNotAfter) <= now ? 'expired' : `expires in ${timeLeft(rootNotAfter, now).replace(' left', '')}`} (${rootNotAfter})` });
    }
    print(format, { ok: findings.length === 0, findings }, () =>
      findings.length === 0
        ? `OK: ${instances.items.length} instance(s) with their service's identity, ${proxies.items.filter((x) => x.connected).length} proxy certificate(s) and the CA root not expiring soon, every connected proxy in sync, ${routeLists.reduce((n, l) => n + l.items.length, 0)} route(s) in force with healthy backends.\n`
        : findings.map((f) => `${f.check.toUpperCase().padEnd(18)} ${f.subject}: ${f.problem}`).join('\n') + `\n${findings.length} problem(s) found.\n`,
    );
    return findings.length === 0 ? 0 : 1;
  },
};
