// A small stand-in for a Kubernetes API server, for the Kubernetes source's tests: serves lists and
// watch streams of a few collections the way kube-apiserver does (JSON lists with
// metadata.resourceVersion; watches as chunked JSON lines of {type, object}; BOOKMARK events when
// asked with allowWatchBookmarks; a `410 Gone` ERROR event, then the end of the stream, for a
// resourceVersion that is too old), over TLS with a certificate for 127.0.0.1 from a test CA that
// the kubeconfig it writes trusts. It is no API server: no auth check, no selectors, no paging.

import type http from 'node:http';
import https from 'node:https';
import { createTestCa } from './test-ca.ts';
import type { AddressInfo } from 'node:net';
import { writeFile } from 'node:fs/promises';

interface Obj {
  apiVersion?: string;
  kind?: string;
  metadata: { name: string; namespace?: string; resourceVersion?: string; [k: string]: unknown };
  [k: string]: unknown;
}

interface Event {
  readonly rv: number;
  readonly type: 'ADDED' | 'MODIFIED' | 'DELETED';
  readonly object: Obj;
}

interface Collection {
  readonly listKind: string;
  readonly apiVersion: string;
  readonly kind: string;
  readonly objects: Map<string, Obj>;
  readonly history: Event[];
}

interface OpenWatch {
  readonly path: string;
  readonly namespace: string | undefined;
  readonly bookmarks: boolean;
  readonly res: http.ServerResponse;
}

export interface RecordedRequest {
  readonly path: string;
  readonly watch: boolean;
  readonly query: Record<string, string>;
  readonly authorization: string | undefined;
}

/** Collections served, by their cluster-wide path. */
const COLLECTIONS: Record<string, { listKind: string; apiVersion: string; kind: string }> = {
  '/api/v1/services': { listKind: 'ServiceList', apiVersion: 'v1', kind: 'Service' },
  '/apis/discovery.k8s.io/v1/endpointslices': { listKind: 'EndpointSliceList', apiVersion: 'discovery.k8s.io/v1', kind: 'EndpointSlice' },
  '/apis/gateway.networking.k8s.io/v1/httproutes': { listKind: 'HTTPRouteList', apiVersion: 'gateway.networking.k8s.io/v1', kind: 'HTTPRoute' },
  '/apis/gateway.networking.k8s.io/v1/grpcroutes': { listKind: 'GRPCRouteList', apiVersion: 'gateway.networking.k8s.io/v1', kind: 'GRPCRoute' },
};

export interface FakeKubeApiServer {
  readonly url: string;
  readonly requests: RecordedRequest[];
  /** While true, every request's connection is reset (an API server that is down or unreachable). */
  down: boolean;
  /** Serve the Gateway API collections (404 otherwise, as without the CRDs). */
  gatewayApi: boolean;
  /** Create or replace an object; open watches get ADDED or MODIFIED unless `silent`. */
  put(collectionPath: string, object: Obj, options?: { silent?: boolean }): void;
  /** Delete an object; open watches get DELETED unless `silent`. */
  remove(collectionPath: string, namespace: string, name: string, options?: { silent?: boolean }): void;
  /** A BOOKMARK with the current resourceVersion on every open watch that asked for bookmarks. */
  bookmark(): void;
  /**
   * Compacts history (every older resourceVersion becomes too old) and ends every open watch with
   * an ERROR event carrying a 410 Status, as kube-apiserver does when a watcher falls too far behind.
   */
  expire(): void;
  /** Ends every open watch cleanly, as the server does when a watch's timeoutSeconds is up. */
  endWatches(): void;
  /** The current resourceVersion. */
  resourceVersion(): string;
  openWatches(): number;
  /** A kubeconfig file that points at this server (trusting its CA) with a bearer token. */
  writeKubeconfig(file: string): Promise<void>;
  close(): Promise<void>;
}

function routeOf(pathname: string): { path: string; namespace?: string } | undefined {
  if (COLLECTIONS[pathname]) return { path: pathname };
  const m = /^(\/api\/v1|\/apis\/[^/]+\/v1)\/namespaces\/([^/]+)\/([^/]+)$/.exec(pathname);
  if (m && COLLECTIONS[`${m[1]}/${m[3]}`]) return { path: `${m[1]}/${m[3]}`, namespace: decodeURIComponent(m[2]) };
  return undefined;
}

function status(code: number, reason: string, message: string): Obj {
  return { kind: 'Status', apiVersion: 'v1', metadata: {} as Obj['metadata'], status: 'Failure', message, reason, code };
}

/** Starts the fake on `port` (default: any free one). */
export async function startFakeKubeApiServer(port = 0): Promise<FakeKubeApiServer> {
  const ca = createTestCa('fake kube-apiserver CA');
  const leaf = ca.issue('IP:127.0.0.1');
  let rv = 1000;
  let closed = false;
  let compactedBelow = 0;
  const collections = new Map<string, Collection>();
  for (const [path, c] of Object.entries(COLLECTIONS)) collections.set(path, { ...c, objects: new Map(), history: [] });
  const watches = new Set<OpenWatch>();
  const requests: RecordedRequest[] = [];
  const keyOf = (o: Obj) => `${o.metadata.namespace ?? ''}/${o.metadata.name}`;
  const line = (res: http.ServerResponse, type: string, object: Obj) => res.write(JSON.stringify({ type, object }) + '\n');

  const fake: FakeKubeApiServer = {
    url: '',
    requests,
    gatewayApi: false,
    down: false,
    put(path, object, options) {
      const c = collections.get(path)!;
      const stored: Obj = { apiVersion: c.apiVersion, kind: c.kind, ...structuredClone(object), metadata: { ...structuredClone(object.metadata), resourceVersion: String(++rv) } };
      const type = c.objects.has(keyOf(stored)) ? 'MODIFIED' : 'ADDED';
      c.objects.set(keyOf(stored), stored);
      c.history.push({ rv, type, object: stored });
      if (!options?.silent) for (const w of watches) if (w.path === path && (w.namespace === undefined || w.namespace === stored.metadata.namespace)) line(w.res, type, stored);
    },
    remove(path, namespace, name, options) {
      const c = collections.get(path)!;
      const old = c.objects.get(`${namespace}/${name}`);
      if (!old) return;
      c.objects.delete(`${namespace}/${name}`);
      const gone: Obj = { ...old, metadata: { ...old.metadata, resourceVersion: String(++rv) } };
      c.history.push({ rv, type: 'DELETED', object: gone });
      if (!options?.silent) for (const w of watches) if (w.path === path && (w.namespace === undefined || w.namespace === namespace)) line(w.res, 'DELETED', gone);
    },
    bookmark() {
      for (const w of watches) {
        const c = collections.get(w.path)!;
        if (w.bookmarks) line(w.res, 'BOOKMARK', { kind: c.kind, apiVersion: c.apiVersion, metadata: { resourceVersion: String(rv) } as Obj['metadata'] });
      }
    },
    expire() {
      compactedBelow = rv + 1;
      for (const w of [...watches]) {
        line(w.res, 'ERROR', status(410, 'Expired', `too old resource version: ${rv} (${rv + 1})`));
        w.res.end();
        watches.delete(w);
      }
    },
    endWatches() {
      for (const w of [...watches]) {
        w.res.end();
        watches.delete(w);
      }
    },
    resourceVersion: () => String(rv),
    openWatches: () => watches.size,
    async writeKubeconfig(file) {
      await writeFile(file, [
        'apiVersion: v1', 'kind: Config', 'current-context: fake',
        'clusters:', '- name: fake', '  cluster:', `    server: ${fake.url}`, `    certificate-authority-data: ${Buffer.from(ca.rootPem).toString('base64')}`,
        'users:', '- name: tester', '  user:', '    token: fake-token',
        'contexts:', '- name: fake', '  context:', '    cluster: fake', '    user: tester', '',
      ].join('\n'));
    },
    async close() {
      closed = true;
      for (const w of watches) w.res.destroy();
      watches.clear();
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
      ca.remove();
    },
  };

  const server = https.createServer({ key: leaf.key, cert: leaf.cert }, (req, res) => {
    if (fake.down || closed) {
      req.socket.destroy();
      return;
    }
    const url = new URL(req.url ?? '/', 'http://fake');
    const query = Object.fromEntries(url.searchParams);
    const isWatch = query.watch === 'true' || query.watch === '1';
    requests.push({ path: url.pathname, watch: isWatch, query, authorization: req.headers.authorization });
    const route = routeOf(url.pathname);
    const send = (code: number, body: unknown) => {
      res.writeHead(code, { 'content-type': 'application/json' });
      res.end(JSON.stringify(body));
    };
    if (!route || (!fake.gatewayApi && route.path.includes('gateway.networking.k8s.io'))) {
      send(404, status(404, 'NotFound', 'the server could not find the requested resource'));
      return;
    }
    const c = collections.get(route.path)!;
    const inScope = (o: Obj) => route.namespace === undefined || o.metadata.namespace === route.namespace;
    if (!isWatch) {
      send(200, { kind: c.listKind, apiVersion: c.apiVersion, metadata: { resourceVersion: String(rv) }, items: [...c.objects.values()].filter(inScope) });
      return;
    }
    const from = Number(query.resourceVersion ?? '0');
    res.writeHead(200, { 'content-type': 'application/json', 'transfer-encoding': 'chunked' });
    if (from !== 0 && from < compactedBelow - 1) {
      // Too old: the API server answers 200 and an ERROR event with a 410 Status, then ends.
      line(res, 'ERROR', status(410, 'Expired', `too old resource version: ${from} (${compactedBelow})`));
      res.end();
      return;
    }
    for (const e of c.history) if (e.rv > from && inScope(e.object)) line(res, e.type, e.object);
    const w: OpenWatch = { path: route.path, namespace: route.namespace, bookmarks: query.allowWatchBookmarks === 'true', res };
    watches.add(w);
    res.on('close', () => watches.delete(w));
  });
  await new Promise<void>((r) => server.listen(port, '127.0.0.1', () => r()));
  (fake as { url: string }).url = `https://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return fake;
}

/** Paths of the served collections, for put/remove. */
export const SERVICES = '/api/v1/services';
export const ENDPOINT_SLICES = '/apis/discovery.k8s.io/v1/endpointslices';
export const HTTP_ROUTES = '/apis/gateway.networking.k8s.io/v1/httproutes';
