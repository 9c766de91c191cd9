// `npm start`: the demo mesh — a control plane, then frontend, catalog ×2, reviews v1+v2 and a load
// generator, each app under `weft run` beside its sidecar. Tags and filters their output, prints
// where to look, and on Ctrl-C/SIGTERM (or --duration) stops every process group it started.

import http from 'node:http';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { mkdtempSync, rmSync, mkdirSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { createPortAllocator } from './support/ports.ts';
import { DemoChild, style } from './support/child.ts';

// ── options ──────────────────────────────────────────────────────────────────────────────────

const USAGE = `Usage: npm start -- [options]      (or: node examples/demo/start.ts [options])

  --duration SECONDS   stop by itself after this long (for smoke tests); default: until Ctrl-C
  --rate N             load generator requests per second (default 5)
  --base-port N        first port to try; the demo counts up from here (default 17700)
  --data-dir DIR       control plane data directory (default: a fresh temporary one, removed at exit)
  --keep-data          keep the temporary data directory at exit
  --verbose            show weft's INFO log lines too (default: only WARN and ERROR)
  -h, --help           this text`;

function parseOptions() {
  return parseArgs({
    options: {
      duration: { type: 'string' },
      rate: { type: 'string' },
      'base-port': { type: 'string' },
      'data-dir': { type: 'string' },
      'keep-data': { type: 'boolean' },
      verbose: { type: 'boolean' },
      help: { type: 'boolean', short: 'h' },
    },
  }).values;
}

let parsed: ReturnType<typeof parseOptions>;
try {
  parsed = parseOptions();
} catch (err) {
  process.stderr.write(`${(err as Error).message}\n\n${USAGE}\n`);
  process.exit(2);
}
if (parsed.help) {
  process.stdout.write(`${USAGE}\n`);
  process.exit(0);
}

function numberOption(name: string, raw: string | undefined, fallback: number, min: number, max: number): number {
  if (raw === undefined) return fallback;
  const n = Number(raw);
  if (!Number.isFinite(n) || n < min || n > max) {
    process.stderr.write(`--${name} must be a number from ${min} to ${max}, got ${JSON.stringify(raw)}\n`);
    process.exit(2);
  }
  return n;
}

const durationSeconds = parsed.duration === undefined ? undefined : numberOption('duration', parsed.duration, 0, 1, 86_400);
const rate = numberOption('rate', parsed.rate, 5, 0.1, 1000);
const basePort = Math.floor(numberOption('base-port', parsed['base-port'], 17700, 1024, 65000));
const verbose = parsed.verbose ?? false;

const root = path.resolve(import.meta.dirname, '..', '..');
const weftBin = path.join(root, 'bin', 'weft');
const execFileAsync = promisify(execFile);
const appsDir = path.join(import.meta.dirname, 'apps');
const colors = process.env.NO_COLOR === undefined && (process.stdout.isTTY === true || process.env.FORCE_COLOR !== undefined);

// ── output ───────────────────────────────────────────────────────────────────────────────────

const TAG_WIDTH = 'reviews-v1'.length + 2;
const PALETTE = ['36', '35', '34', '32', '33', '96', '95', '94'];
let nextColor = 0;

function makeTag(name: string, color?: string): string {
  const text = `[${name}]`.padEnd(TAG_WIDTH);
  return style(colors, color ?? PALETTE[nextColor++ % PALETTE.length], text);
}

// A progress line ("waiting for … ") stays open until its result; anything printed meanwhile
// starts on a fresh line so the two never run together.
let openLine = false;
function print(line: string): void {
  if (openLine) {
    process.stdout.write('\n');
    openLine = false;
  }
  process.stdout.write(line + '\n');
}
const demoTag = makeTag('demo', '1');
const say = (msg: string): void => print(`${demoTag} ${msg}`);
const warn = (msg: string): void => print(`${demoTag} ${style(colors, '33', msg)}`);
const fail = (msg: string): void => print(`${demoTag} ${style(colors, '31', msg)}`);

async function step<T>(what: string, work: () => Promise<T>): Promise<T> {
  const started = Date.now();
  if (openLine) process.stdout.write('\n');
  process.stdout.write(`${demoTag} ${what}… `);
  openLine = true;
  const done = (result: string): void => {
    const text = `${result} (${((Date.now() - started) / 1000).toFixed(1)}s)`;
    if (openLine) process.stdout.write(text + '\n');
    else process.stdout.write(`${demoTag} ${what}… ${text}\n`);
    openLine = false;
  };
  try {
    const value = await work();
    done(style(colors, '32', 'ok'));
    return value;
  } catch (err) {
    done(style(colors, '31', 'failed'));
    throw err;
  }
}

// ── small HTTP helper (node:http, so no proxy settings of the user's shell get in the way) ─────

interface Reply {
  readonly status: number;
  readonly body: string;
}

/** The control plane's admin token, once read from <dataDir>/admin-token; sent on its API calls. */
let adminToken: string | undefined;

function get(url: string, timeoutMs = 2_000): Promise<Reply> {
  return call('GET', url, undefined, timeoutMs);
}

function call(method: string, url: string, body: unknown, timeoutMs = 2_000): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const headers: Record<string, string> = {};
    if (adminToken && url.startsWith(controlUrlOf)) headers.authorization = `Bearer ${adminToken}`;
    if (body !== undefined) headers['content-type'] = 'application/json';
    const req = http.request(url, { method, agent: false, timeout: timeoutMs, headers }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (text += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error('timed out')));
    req.on('error', reject);
    req.end(body === undefined ? undefined : JSON.stringify(body));
  });
}

/** Set in main: only calls to the control plane carry the admin token. */
let controlUrlOf = 'http://control.invalid';

class Cancelled extends Error {}

/** Polls `check` until it returns a value; gives up at the timeout, on shutdown, or when `unit` exits. */
async function waitFor<T>(check: () => Promise<T | undefined>, timeoutMs: number, unit?: DemoChild): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last = 'no answer yet';
  for (;;) {
    if (shuttingDown) throw new Cancelled('stopping');
    if (unit?.exit) throw new Error(`${unit.name} exited (${describeExit(unit)})`);
    try {
      const value = await check();
      if (value !== undefined) return value;
    } catch (err) {
      last = (err as Error).message;
    }
    if (Date.now() > deadline) throw new Error(`gave up after ${Math.round(timeoutMs / 1000)}s: ${last}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

// ── the mesh ─────────────────────────────────────────────────────────────────────────────────

interface UnitSpec {
  readonly name: string;
  readonly service: string;
  readonly app: string;
  readonly labels: Readonly<Record<string, string>>;
  env: Readonly<Record<string, string>>;
  /** A job (the load generator) has no app port: a client-only sidecar, nothing registered. */
  readonly serves: boolean;
}

interface Unit extends UnitSpec {
  readonly appPort?: number;
  readonly inboundPort?: number;
  readonly outboundPort: number;
  readonly adminPort: number;
  child?: DemoChild;
}

const SPECS: readonly UnitSpec[] = [
  { name: 'frontend', service: 'frontend', app: 'frontend.ts', labels: {}, env: { INSTANCE: 'frontend' }, serves: true },
  { name: 'catalog-1', service: 'catalog', app: 'catalog.ts', labels: { instance: 'catalog-1' }, env: { INSTANCE: 'catalog-1' }, serves: true },
  { name: 'catalog-2', service: 'catalog', app: 'catalog.ts', labels: { instance: 'catalog-2' }, env: { INSTANCE: 'catalog-2' }, serves: true },
  { name: 'reviews-v1', service: 'reviews', app: 'reviews.ts', labels: { version: 'v1' }, env: { VERSION: 'v1', INSTANCE: 'reviews-v1' }, serves: true },
  { name: 'reviews-v2', service: 'reviews', app: 'reviews.ts', labels: { version: 'v2' }, env: { VERSION: 'v2', INSTANCE: 'reviews-v2' }, serves: true },
  { name: 'loadgen', service: 'loadgen', app: 'loadgen.ts', labels: {}, env: { RATE: String(rate) }, serves: false },
];

/** The environment every child starts from: the project's Node first on PATH, no inherited proxy settings. */
function baseEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env };
  for (const key of ['HTTP_PROXY', 'http_proxy', 'HTTPS_PROXY', 'https_proxy', 'NO_PROXY', 'no_proxy', 'NODE_USE_ENV_PROXY', 'PORT']) delete env[key];
  env.PATH = `${path.dirname(process.execPath)}${path.delimiter}${env.PATH ?? ''}`;
  env.WEFT_LOG_LEVEL = verbose ? 'info' : 'warn';
  if (colors) env.FORCE_COLOR ??= '1';
  return env;
}

const started = Date.now();
let shuttingDown = false;
let startupFailed = false;
let unexpectedExits = 0;
let signals = 0;
let forcedBySignal = false;
let lastLoadgenLine: string | undefined;
let totalLoadgenLine: string | undefined;
const children: DemoChild[] = [];
let control: DemoChild | undefined;
let units: Unit[] = [];
let dataDir = '';
let ownDataDir = false;

function describeExit(child: DemoChild): string {
  const e = child.exit;
  if (!e) return 'running';
  return e.signal ? `signal ${e.signal}` : `code ${e.code}`;
}

function launch(name: string, args: readonly string[], extraEnv: Readonly<Record<string, string>>, onLine?: (line: string) => void): DemoChild {
  const child = new DemoChild({
    name,
    command: weftBin,
    args,
    cwd: root,
    env: { ...baseEnv(), ...extraEnv },
    print,
    tag: makeTag(name),
    verbose,
    colors,
    onLine,
  });
  children.push(child);
  void child.exited.then(() => {
    if (child.stopping || shuttingDown) return;
    unexpectedExits++;
    fail(`${name} exited unexpectedly (${describeExit(child)})`);
    if (child === control) void shutdown('the control plane is gone', 1);
  });
  return child;
}

function runArgs(unit: Unit, controlUrl: string): string[] {
  const args = ['run', '--control', controlUrl, '--service', unit.service, '--id', unit.name, '--outbound-port', String(unit.outboundPort), '--admin-port', String(unit.adminPort)];
  const labels = Object.entries(unit.labels).map(([k, v]) => `${k}=${v}`).join(',');
  if (labels) args.push('--labels', labels);
  if (unit.serves) args.push('--port', String(unit.appPort), '--inbound-port', String(unit.inboundPort), '--health-path', '/healthz');
  args.push('--', process.execPath, path.join(appsDir, unit.app));
  return args;
}

async function waitUnitReady(unit: Unit): Promise<void> {
  const child = unit.child!;
  await waitFor(async () => ((await get(`http://127.0.0.1:${unit.adminPort}/ready`)).status === 200 ? true : undefined), 60_000, child);
  if (!unit.serves) return;
  // The app first, through the sidecar's admin /app-health (which asks the app directly): probing
  // through the inbound listener before the app listens would put the demo's own 503
  // upstream-connect-failure replies into every sidecar's metrics.
  await waitFor(async () => ((await get(`http://127.0.0.1:${unit.adminPort}/app-health`)).status === 200 ? true : undefined), 30_000, child);
  // Then once through the inbound listener, the way other services will reach it.
  await waitFor(async () => ((await get(`http://127.0.0.1:${unit.inboundPort}/healthz`)).status === 200 ? true : undefined), 30_000, child);
}

async function main(): Promise<void> {
  const nextPort = createPortAllocator(basePort);
  const controlPort = await nextPort();
  const controlUrl = `http://127.0.0.1:${controlPort}`;
  // The catalog is also served as DNS and as a Consul-compatible API, for apps that find services that way.
  const dnsPort = await nextPort();
  const consulPort = await nextPort();
  controlUrlOf = controlUrl;
  units = [];
  for (const spec of SPECS) {
    if (spec.serves) {
      const inboundPort = await nextPort();
      const appPort = await nextPort();
      units.push({ ...spec, inboundPort, appPort, outboundPort: await nextPort(), adminPort: await nextPort() });
    } else {
      units.push({ ...spec, outboundPort: await nextPort(), adminPort: await nextPort() });
    }
  }

  if (parsed['data-dir']) {
    dataDir = path.resolve(parsed['data-dir']);
    mkdirSync(dataDir, { recursive: true });
  } else {
    dataDir = mkdtempSync(path.join(os.tmpdir(), 'weft-demo-'));
    ownDataDir = true;
  }

  say(`weft demo: control plane on ${controlUrl}, data in ${dataDir}`);
  control = launch('control', ['control', '--listen', `127.0.0.1:${controlPort}`, '--data-dir', dataDir, '--dns-listen', `127.0.0.1:${dnsPort}`, '--consul-listen', `127.0.0.1:${consulPort}`], {});
  await step('waiting for the control plane', () =>
    waitFor(async () => {
      const r = await get(`${controlUrl}/v1/health`);
      return r.status === 200 ? true : undefined;
    }, 30_000, control),
  );
  // Authentication is on, as in production: the first start wrote an admin token (mode 0600), and
  // each sidecar joins with a token for its own service only.
  const tokenFile = path.join(dataDir, 'admin-token');
  try {
    adminToken = readFileSync(tokenFile, 'utf8').trim();
  } catch {
    throw new Error(`cannot read the control plane's admin token at ${tokenFile}; start with a fresh --data-dir`);
  }
  for (const unit of units) {
    const r = await call('POST', `${controlUrl}/v1/tokens`, { service: unit.service, ttlSeconds: 3600, description: `demo ${unit.name}` });
    if (r.status !== 201) throw new Error(`could not create a join token for ${unit.service}: HTTP ${r.status} ${r.body.trim()}`);
    unit.env = { ...unit.env, WEFT_JOIN_TOKEN: (JSON.parse(r.body) as { token: string }).token };
  }

  const services = units.filter((u) => u.serves);
  for (const unit of services) unit.child = launch(unit.name, runArgs(unit, controlUrl), unit.env);
  say(`starting ${services.map((u) => u.name).join(', ')} (each: sidecar first, then the app)`);
  await Promise.all(
    services.map(async (unit) => {
      const t0 = Date.now();
      await waitUnitReady(unit);
      say(`${unit.name} ready: app :${unit.appPort} behind sidecar :${unit.inboundPort} (${((Date.now() - t0) / 1000).toFixed(1)}s)`);
    }),
  );

  await step('waiting for the control plane to see 5 healthy instances', () =>
    waitFor(async () => {
      const r = await get(`${controlUrl}/v1/catalog/services`);
      if (r.status !== 200) return undefined;
      const items = (JSON.parse(r.body) as { items: Array<{ name: string; passing: number }> }).items;
      const passing = (name: string): number => items.find((s) => s.name === name)?.passing ?? 0;
      if (passing('frontend') >= 1 && passing('catalog') >= 2 && passing('reviews') >= 2) return true;
      throw new Error(`passing: frontend ${passing('frontend')}/1, catalog ${passing('catalog')}/2, reviews ${passing('reviews')}/2`);
    }, 30_000),
  );

  // Resources applied with the CLI, as a user would: `weft apply -f FILE`, its output printed.
  const applyFile = async (name: string, what: string): Promise<string> => {
    const file = path.join(root, 'examples', 'demo', name);
    const result = await step(`applying ${what}`, async () => {
      const applied = await execFileAsync(weftBin, ['apply', '-f', file, '--control', controlUrl], { encoding: 'utf8', env: { ...process.env, WEFT_TOKEN: adminToken } }).catch((err: { stderr?: string; message: string }) => {
        throw new Error(`weft apply -f ${file}: ${err.stderr?.trim() || err.message}`);
      });
      return applied.stdout.trim().split('\n').join(', ');
    });
    say(`weft apply -f ${path.relative(process.cwd(), file)}: ${result}`);
    return file;
  };
  // The canary: an HTTPRoute that splits reviews 90/10 between v1 and v2.
  const canaryFile = await applyFile('canary.yaml', 'the reviews canary (HTTPRoute: v1 90%, v2 10%)');
  // Traffic policy: catalog's balancing, outlier detection, retries with a budget and a circuit
  // breaker; reviews' adaptive concurrency and rate limits.
  await applyFile('policies.yaml', 'traffic policy (BackendPolicy for catalog and reviews, RateLimitPolicy for reviews)');

  const frontend = units[0];
  try {
    await step('waiting for frontend → catalog → reviews through the mesh', () =>
      waitFor(async () => {
        const r = await get(`http://127.0.0.1:${frontend.inboundPort}/api/product/1`, 5_000);
        const body = JSON.parse(r.body) as { reviews?: unknown; reviewsError?: { reason?: string }; error?: string };
        if (r.status === 200 && body.reviews) return true;
        throw new Error(r.status === 200 ? `reviews: ${body.reviewsError?.reason}` : `HTTP ${r.status}: ${body.error ?? r.body.trim()}`);
      }, 20_000),
    );
  } catch (err) {
    if (err instanceof Cancelled) throw err;
    warn(`the mesh does not route end to end yet (${(err as Error).message}); starting the load generator anyway`);
  }

  const loadgen = units[units.length - 1];
  loadgen.child = launch(loadgen.name, runArgs(loadgen, controlUrl), loadgen.env, (line) => {
    if (line.startsWith('total ')) totalLoadgenLine = line;
    else if (line.startsWith('last ')) lastLoadgenLine = line;
  });
  await step('starting the load generator', () => waitUnitReady(loadgen));

  const bin = path.relative(process.cwd(), weftBin) || weftBin;
  const frontUrl = `http://127.0.0.1:${frontend.inboundPort}`;
  const env = `WEFT_CONTROL=${controlUrl} WEFT_TOKEN=$(cat ${path.join(dataDir, 'admin-token')})`;
  const h = (s: string): string => style(colors, '1', s);
  const lines = [
    '',
    h('── weft demo is running ─────────────────────────────────────────────────────────'),
    `  shop page (frontend, via its sidecar)  ${frontUrl}/`,
    `  product API                            ${frontUrl}/api/product/1`,
    `  control plane API                      ${controlUrl}/v1/health (open); the rest needs the admin token in ${path.join(dataDir, 'admin-token')}`,
    `  dashboard (topology, proxies, inspector) ${controlUrl}/ui/ (sign in with that admin token)`,
    '  each sidecar joined with a join token for its own service, then authenticates with its certificate',
    '  sidecars call each other in mutual TLS, with SPIFFE certificates from the control plane\'s CA',
    '  (each sidecar\'s /config shows its identity; the apps see the caller in x-forwarded-client-cert)',
    '  sidecar admin (also /config and /ready):',
    ...units.map((u) => `    ${u.name.padEnd(11)} http://127.0.0.1:${u.adminPort}/metrics`),
    '  from another terminal:',
    `    ${env} ${bin} services`,
    `    ${env} ${bin} status`,
    `    ${env} ${bin} stat --edges                          # success rate, req/s, p50/p95/p99 per caller → callee (also: top)`,
    `    ${env} ${bin} tap reviews --max-rps 20              # live requests to reviews (Ctrl-C stops)`,
    `    curl -s -H 'x-request-id: try-me' ${frontUrl}/api/product/1 >/dev/null; ${env} ${bin} why try-me   # one request's fate`,
    `    (the same fate in the dashboard: ${controlUrl}/ui/#/requests/try-me, and the mesh's recent failures below it)`,
    `    ${env} ${bin} endpoints reviews`,
    `    ${env} ${bin} get httproute reviews-canary -o yaml     # the canary: reviews v1 90% / v2 10%`,
    `    (edit the weights in ${path.relative(process.cwd(), canaryFile)} and ${bin} apply -f it: in force at once)`,
    `    ${env} ${bin} get backendpolicies catalog -o yaml    # least request, outlier detection, slow start, retry budget, circuit breaker`,
    `    ${env} ${bin} get ratelimitpolicies                  # reviews: 200 req/s per instance, 100 per caller`,
    `    curl -s 127.0.0.1:${units[0].adminPort}/metrics | grep -E 'outlier|retry_budget|circuit_breaker'   # frontend's sidecar, catalog's caller`,
    `  DNS:    dig @127.0.0.1 -p ${dnsPort} catalog.default.svc.cluster.local   (and SRV, or catalog.service.consul)`,
    `  Consul: curl -H "X-Consul-Token: $(cat ${path.join(dataDir, 'admin-token')})" 127.0.0.1:${consulPort}/v1/health/service/catalog?passing`,
    `  loadgen sends ${rate} req/s and prints a summary every 10 s. ${durationSeconds ? `Stopping by itself in ${durationSeconds}s.` : 'Ctrl-C stops everything.'}`,
    h('─────────────────────────────────────────────────────────────────────────────────'),
    '',
  ];
  for (const line of lines) print(line);
}

// ── stopping ─────────────────────────────────────────────────────────────────────────────────

let finalCode = 0;
async function shutdown(reason: string, code: number): Promise<void> {
  if (shuttingDown) return;
  shuttingDown = true;
  finalCode = code;
  say(`stopping: ${reason}`);
  let forced = 0;
  const GRACE_MS = 5_000;
  const stopAll = async (list: Array<DemoChild | undefined>, how: 'leader' | 'group'): Promise<void> => {
    const results = await Promise.all(list.filter((c): c is DemoChild => c !== undefined).map((c) => c.stop(how, GRACE_MS)));
    forced += results.filter(Boolean).length;
  };
  const phase = async (what: string, list: Array<DemoChild | undefined>, how: 'leader' | 'group'): Promise<void> => {
    const live = list.filter((c): c is DemoChild => c !== undefined && (!c.exit || c.groupAlive()));
    if (live.length === 0) return;
    await step(`stopping ${what}`, () => stopAll(live, how));
  };
  // The load generator first, so the services are not torn down under it; it prints its totals.
  await phase('the load generator', [units.find((u) => !u.serves)?.child], 'group');
  // `weft run` deregisters, drains, then stops its app: let it, and only then the group.
  await phase('the services (each sidecar deregisters and drains first)', units.filter((u) => u.serves).map((u) => u.child), 'leader');
  // The control plane last: sidecars deregister through it.
  await phase('the control plane', [control], 'group');
  // Anything else we started (should be none).
  await phase('leftovers', children, 'group');

  if (ownDataDir && !parsed['keep-data']) rmSync(dataDir, { recursive: true, force: true });
  else if (dataDir) say(`data kept in ${dataDir}`);

  const left = children.filter((c) => c.groupAlive()).map((c) => c.name);
  if (left.length) fail(`still running after SIGKILL: ${left.join(', ')}`);
  const seconds = Math.round((Date.now() - started) / 1000);
  const status = left.length
    ? `${left.length} left running`
    : forcedBySignal
      ? 'all stopped (killed on the second signal)'
      : forced
        ? `all stopped (${forced} had to be killed)`
        : 'all stopped cleanly';
  const traffic = totalLoadgenLine ?? lastLoadgenLine ?? 'printed no summary';
  if (durationSeconds !== undefined && unexpectedExits > 0) finalCode = Math.max(finalCode, 1);
  print(`${demoTag} ${h1(`demo summary: ran ${seconds}s, ${children.length} processes, ${status}, ${unexpectedExits} unexpected exit${unexpectedExits === 1 ? '' : 's'}; loadgen ${traffic}`)}`);
  process.exit(finalCode);
}

function h1(s: string): string {
  return style(colors, '1', s);
}

for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    signals++;
    if (signals === 1) return void shutdown(`${signal}`, startupFailed ? 1 : 0);
    // A second Ctrl-C: no more waiting.
    warn('forcing: SIGKILL to every process group');
    forcedBySignal = true;
    for (const c of children) c.signalGroup('SIGKILL');
    if (signals > 2) process.exit(1);
  });
}
// Last resort if this process dies with children still around.
process.on('exit', () => {
  for (const c of children) if (c.groupAlive()) c.signalGroup('SIGKILL');
});
process.on('uncaughtException', (err) => {
  fail(`demo failed: ${err.stack ?? err.message}`);
  void shutdown('internal error', 1);
});

// --duration counts from the start, so a smoke test knows how long the whole run takes.
if (durationSeconds !== undefined) setTimeout(() => void shutdown(`--duration ${durationSeconds}s reached`, 0), durationSeconds * 1000);

main().then(
  () => undefined,
  (err: unknown) => {
    if (err instanceof Cancelled || shuttingDown) return;
    startupFailed = true;
    fail(`startup failed: ${(err as Error).message}`);
    void shutdown('startup failed', 1);
  },
);
