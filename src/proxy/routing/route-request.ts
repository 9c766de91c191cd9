// What the outbound path does with a request to a Service that has routes: match it in the port's
// route table, run the rule's filters (header modifiers, redirect, rewrite, CORS), and pick the
// backend Service it goes to, with the rule's timeouts and retry — or the local reply (404 no-route,
// 500 for a backend that cannot be used, 204 for a CORS preflight).

import type { IncomingHttpHeaders } from 'node:http';
import type { RouteRuleSnapshot } from '../../config/snapshot-types.ts';
import type { ServicePortEntry, ServiceTable } from '../balance/service-table.ts';
import type { LocalReplyReason } from '../http/local-reply.ts';
import { compileHeaderModifier, type CompiledHeaderModifier, type HeaderEdits } from '../filters/request-header-modifier/header-modifier.ts';
import { redirectLocation } from '../filters/request-redirect/redirect.ts';
import { modifyPath } from '../filters/url-rewrite/path-modifier.ts';
import type { HTTPRequestRedirect, HTTPURLRewrite } from '../../config/kinds/http-route.ts';
import { compileFault, type FaultDecision } from '../filters/fault-injection/fault.ts';
import { compileCors, type CompiledCors } from '../filters/cors/cors.ts';
import { compileRoutePolicy, type RoutePolicy } from './route-policy.ts';

/** The request as routing sees it: method, the normalized origin-form target, the Host, the headers. */
export interface RoutedRequest {
  readonly method: string;
  readonly path: string;
  readonly authority: string;
  readonly headers: IncomingHttpHeaders;
}

export type RouteDecision =
  | {
      readonly kind: 'forward';
      /** The backend Service port the request is balanced over. */
      readonly entry: ServicePortEntry;
      readonly path: string;
      readonly authority: string;
      /** Upstream request edits (RequestHeaderModifier); undefined: none. */
      readonly headers: HeaderEdits | undefined;
      /** Edits of the response (ResponseHeaderModifier); undefined: none. */
      readonly response: ((fields: readonly string[]) => string[]) | undefined;
      /** `namespace/name` of the route and the rule's name, for metrics and reasons. */
      readonly route: string;
      readonly rule: string;
      /** FaultInjection's delay before the request goes on, in ms (0: none). */
      readonly delayMs: number;
      /** Service ports a copy goes to (RequestMirror; drawn for this request). */
      readonly mirrors: readonly ServicePortEntry[];
      /** The rule's timeouts and retry (undefined: the backend's BackendPolicy alone). */
      readonly policy: RoutePolicy | undefined;
    }
  | {
      readonly kind: 'reply';
      /** A FaultInjection abort of a gRPC call: answer 200 with this grpc-status (trailers-only). */
      readonly grpcStatus?: number;
      /** FaultInjection's delay before the reply, in ms. */
      readonly delayMs?: number;
      readonly status: number;
      readonly reason: LocalReplyReason;
      readonly message: string;
      /** Extra response fields (a redirect's Location, a preflight's Access-Control-*). */
      readonly headers?: Readonly<Record<string, string>>;
      /** The reply has no body (a CORS preflight's 204). */
      readonly bodyless?: boolean;
      readonly route?: string;
      readonly rule?: string;
    };

/** A rule's filters, compiled once per snapshot (rules are immutable snapshot values). */
interface RulePlan {
  readonly requestHeaders: readonly CompiledHeaderModifier[];
  readonly responseHeaders: readonly CompiledHeaderModifier[];
  readonly redirect: HTTPRequestRedirect | undefined;
  readonly rewrite: HTTPURLRewrite | undefined;
  readonly faults: readonly { readonly draw: () => FaultDecision; readonly ref: string }[];
  /** RequestMirror targets that resolved, with the share of requests each gets (0–1). */
  readonly mirrors: readonly { readonly service: { readonly name: string; readonly namespace: string; readonly port?: number }; readonly share: number }[];
  /** An ExtensionRef the control plane could not resolve: the rule answers 500. */
  readonly unresolved: string | undefined;
  readonly cors: CompiledCors | undefined;
  /** `timeouts` and `retry`, compiled once here rather than per request. */
  readonly policy: RoutePolicy | undefined;
}

const plans = new WeakMap<RouteRuleSnapshot, RulePlan>();
const NO_MIRRORS: ServicePortEntry[] = [];

function planOf(rule: RouteRuleSnapshot): RulePlan {
  let plan = plans.get(rule);
  if (plan !== undefined) return plan;
  const requestHeaders: CompiledHeaderModifier[] = [];
  const responseHeaders: CompiledHeaderModifier[] = [];
  let redirect: HTTPRequestRedirect | undefined;
  let rewrite: HTTPURLRewrite | undefined;
  const faults: { draw: () => FaultDecision; ref: string }[] = [];
  const mirrors: RulePlan['mirrors'][number][] = [];
  let unresolved: string | undefined;
  let cors: CompiledCors | undefined;
  for (const f of rule.filters) {
    if (f.type === 'RequestHeaderModifier') requestHeaders.push(compileHeaderModifier(f.requestHeaderModifier));
    else if (f.type === 'ResponseHeaderModifier') responseHeaders.push(compileHeaderModifier(f.responseHeaderModifier));
    else if (f.type === 'RequestRedirect') redirect = f.requestRedirect;
    else if (f.type === 'URLRewrite') rewrite = f.urlRewrite;
    else if (f.type === 'RequestMirror') {
      // Gateway API: percent, or fraction (numerator/denominator), or neither (every request).
      const m = f.requestMirror;
      const share = m.percent !== undefined ? m.percent / 100 : m.fraction !== undefined ? m.fraction.numerator / m.fraction.denominator : 1;
      // An unresolved mirror backend mirrors nothing: the original is never failed for it.
      if (f.backend.service !== undefined && share > 0) mirrors.push({ service: f.backend.service, share });
    } else if (f.type === 'FaultInjection') faults.push({ draw: compileFault(f.faultInjection), ref: f.ref });
    else if (f.type === 'UnresolvedExtensionRef') unresolved ??= f.ref;
    else if (f.type === 'CORS') cors = compileCors(f.cors);
  }
  const policy = compileRoutePolicy(rule.timeouts, rule.retry);
  plan = { requestHeaders, responseHeaders, redirect, rewrite, faults, mirrors, unresolved, cors, policy };
  plans.set(rule, plan);
  return plan;
}

function headerValue(headers: IncomingHttpHeaders, name: string): string | undefined {
  const v = headers[name];
  return v === undefined ? undefined : Array.isArray(v) ? v.join(', ') : v;
}

/** A gRPC call (RFC-less but universal: content-type application/grpc, optionally +proto etc.). */
function isGrpc(headers: IncomingHttpHeaders): boolean {
  const type = headers['content-type'];
  return typeof type === 'string' && type.startsWith('application/grpc');
}

/** `host[:port]` → the host alone (brackets kept for IPv6 literals). */
function hostnameOf(authority: string): string {
  const colon = authority.lastIndexOf(':');
  return colon > 0 && !authority.endsWith(']') ? authority.slice(0, colon) : authority;
}

/**
 * Routes one request to a Service port whose `routes` table is set. GAMMA: a request that matches no
 * rule of the attached routes gets 404 `no-route`; a rule whose backends all weigh 0 (or has none)
 * gets 500 `no-backend`, and a backend the control plane could not resolve 500 `backend-unresolved`
 * for its share of requests (Gateway API ResolvedRefs).
 */
export function routeRequest(table: ServiceTable, entry: ServicePortEntry, req: RoutedRequest): RouteDecision {
  const m = entry.routes!.match({ method: req.method, path: req.path, header: (name) => headerValue(req.headers, name) });
  if (m === undefined) {
    return { kind: 'reply', status: 404, reason: 'no-route', message: `no rule of the routes attached to ${entry.destination}:${entry.port.port} matches ${req.method} ${req.path.split('?')[0]}` };
  }
  const route = m.route.name;
  const rule = m.rule.name;
  const plan = planOf(m.rule);
  if (plan.unresolved !== undefined) {
    return { kind: 'reply', status: 500, reason: 'filter-unresolved', message: `filter ${plan.unresolved} of ${route} rule ${rule} does not exist; the rule's requests fail until it does`, route, rule };
  }
  const cors = plan.cors;
  if (cors !== undefined && cors.isPreflight(req.method, req.headers)) {
    // Answered here, never sent to the app (GEP-1767); an origin not allowed gets no CORS fields,
    // which the browser reads as a refusal.
    return { kind: 'reply', status: 204, reason: 'cors-preflight', message: `CORS preflight answered by ${route} rule ${rule}`, headers: cors.preflight(req.headers), bodyless: true, route, rule };
  }
  let delayMs = 0;
  for (const fault of plan.faults) {
    const d = fault.draw();
    delayMs += d.delayMs;
    if (d.abort !== undefined) {
      const grpc = d.abort.grpcStatus !== undefined && isGrpc(req.headers) ? d.abort.grpcStatus : undefined;
      const status = grpc !== undefined ? 200 : d.abort.httpStatus ?? 500;
      return { kind: 'reply', status, grpcStatus: grpc, reason: 'fault-abort', message: `aborted by ${fault.ref} (${route} rule ${rule})`, route, rule, delayMs };
    }
  }
  if (plan.redirect !== undefined) {
    const location = redirectLocation(plan.redirect, { scheme: 'http', hostname: hostnameOf(req.authority), port: entry.port.port, target: req.path }, m.prefix);
    return { kind: 'reply', status: plan.redirect.statusCode, reason: 'route-redirect', message: `redirected by ${route} rule ${rule}`, headers: { location }, route, rule };
  }
  const backend = m.pickBackend();
  if (backend === undefined) return { kind: 'reply', status: 500, reason: 'no-backend', message: `rule ${rule} of ${route} has no backend with a weight above 0`, route, rule };
  if (backend.service === undefined) {
    return { kind: 'reply', status: 500, reason: 'backend-unresolved', message: `backend ${backend.ref} of ${route} rule ${rule} cannot be used: ${backend.unresolved}`, route, rule };
  }
  const port = backend.service.port ?? entry.port.port;
  const target = table.lookup(backend.service.name, backend.service.namespace)?.ports.get(port);
  if (target === undefined) {
    return { kind: 'reply', status: 500, reason: 'backend-unresolved', message: `backend ${backend.ref} of ${route} rule ${rule} has no port ${port} in this proxy's snapshot`, route, rule };
  }
  let headers: HeaderEdits | undefined;
  if (plan.requestHeaders.length > 0) {
    headers = {};
    for (const h of plan.requestHeaders) h.request(req.headers, headers);
  }
  const responseMods = plan.responseHeaders;
  const modify = responseMods.length === 0 ? undefined : (fields: readonly string[]) => responseMods.reduce<string[]>((acc, h) => h.response(acc), [...fields]);
  // CORS fields go on after the ResponseHeaderModifier's edits: the filter owns them.
  const corsEdit = cors?.response(req.headers);
  const response = corsEdit === undefined ? modify : modify === undefined ? corsEdit : (fields: readonly string[]) => corsEdit(modify(fields));
  const path = plan.rewrite?.path ? modifyPath(req.path, plan.rewrite.path, m.prefix) : req.path;
  const authority = plan.rewrite?.hostname ?? req.authority;
  let mirrors: ServicePortEntry[] = NO_MIRRORS;
  for (const m of plan.mirrors) {
    if (m.share < 1 && Math.random() >= m.share) continue;
    const mirrorEntry = table.lookup(m.service.name, m.service.namespace)?.ports.get(m.service.port ?? entry.port.port);
    if (mirrorEntry !== undefined) (mirrors === NO_MIRRORS ? (mirrors = []) : mirrors).push(mirrorEntry);
  }
  return { kind: 'forward', entry: target, path, authority, headers, response, route, rule, delayMs, mirrors, policy: plan.policy };
}
