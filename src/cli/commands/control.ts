// `weft control`: runs the control plane until SIGINT/SIGTERM.

import { setFlagsFromString } from 'node:v8';
import { startControlPlane } from '../../control/control-plane.ts';
import { checkCaSettings } from '../../control/ca/certificate-authority.ts';
import { parseStoreUrl } from '../../control/store/store-url.ts';
import { WeftError } from '../../lib/errors.ts';
import { dnsFlagOptions, dnsFlags, dnsFlagUsage, dnsListeningLine } from '../dns-flags.ts';
import { parseCommand, str, ttlSeconds, type Command, type Parsed } from '../command.ts';

/**
 * `--cert-ttl`: plain seconds (`3600`) or a duration (`90s`, `30m`, `24h`, `1h30m`); whole seconds
 * only, since certificate times have no fractions. The range is checked by the control plane.
 */
export function certTtlSeconds(parsed: Parsed): number | undefined {
  return ttlSeconds(str(parsed, 'cert-ttl'), '--cert-ttl');
}

/** `--kubernetes` and its companions; the companions alone are a usage error (exit 2). */
export function kubernetesOptions(parsed: Parsed): { kubeconfig?: string; namespaces?: string[] } | undefined {
  const kubeconfig = str(parsed, 'kubeconfig');
  const nsFlag = str(parsed, 'kubernetes-namespaces');
  if (parsed.values.kubernetes !== true) {
    if (kubeconfig !== undefined || nsFlag !== undefined) throw new WeftError('WEFT_ERR_CLI_USAGE', '--kubeconfig and --kubernetes-namespaces go with --kubernetes', 2);
    return undefined;
  }
  const namespaces = nsFlag === undefined ? undefined : nsFlag.split(',').map((n) => n.trim()).filter((n) => n !== '');
  for (const ns of namespaces ?? []) {
    if (!/^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/.test(ns)) throw new WeftError('WEFT_ERR_CLI_USAGE', `--kubernetes-namespaces: ${JSON.stringify(ns)} is not a namespace name (a DNS label)`, 2);
  }
  if (nsFlag !== undefined && namespaces!.length === 0) throw new WeftError('WEFT_ERR_CLI_USAGE', '--kubernetes-namespaces: name at least one namespace', 2);
  return { ...(kubeconfig !== undefined ? { kubeconfig } : {}), ...(namespaces ? { namespaces } : {}) };
}

export const controlCommand: Command = {
  name: 'control',
  summary: 'Run the control plane: catalog, resource store, config streams, certificates and the HTTP API.',
  usage: `Usage: weft control [--listen HOST:PORT] [--data-dir DIR] [--token TOKEN | --insecure]
                    [--store sqlite|etcd://HOST:PORT[,HOST:PORT…][/PREFIX]]
                    [--store-connect-timeout DURATION] [--leader-lease DURATION]
                    [--trust-domain NAME] [--cert-ttl DURATION]
                    [--ca-cert FILE --ca-key FILE]
                    [--dns-listen IP:PORT [--dns-ttl DURATION]] [--consul-listen HOST:PORT]
                    [--kubernetes [--kubeconfig FILE] [--kubernetes-namespaces A,B]]

  --listen HOST:PORT     where the API listens (default 127.0.0.1:7700)
  --data-dir DIR         where the embedded SQLite store and the mesh CA (DIR/ca/) live
                         (default ./.weft/control)
  --store URL            where resources, instances and tokens live: sqlite (default, a file
                         in DIR) or etcd://HOST:PORT[,HOST:PORT…][/PREFIX] (keys under PREFIX,
                         default /weft). On etcd, several control planes can run as replicas:
                         they share the generated CA root (kept in etcd) and elect a leader
                         for TTL expiry, checks and the Kubernetes source
  --store-connect-timeout DURATION
                         how long to retry an unreachable etcd at start before giving up
                         (default 60s)
  --leader-lease DURATION
                         etcd replicas: TTL of the leader's lease; another replica takes over
                         the leader's work within about this long after it dies (default 10s,
                         2s to 5m)
  --token TOKEN          a bootstrap admin token, always accepted (or WEFT_TOKEN); without
                         it the first start writes a generated one to DIR/admin-token (0600)
  --insecure             accept anonymous API calls as admin: anyone who reaches the port can
                         change the mesh and get any identity (demos and tests only)
  --trust-domain NAME    SPIFFE trust domain of workload identities (default weft.local)
  --cert-ttl DURATION    lifetime of workload certificates: seconds or 90s, 30m, 24h
                         (default 24h; 5s to 30 days; below 10m only for tests)
  --ca-cert FILE         sign with your own CA instead of weft's: PEM, the signing CA first,
                         then any intermediates, then the root (the root goes to sidecars'
                         trust bundle, the intermediates go with every leaf)
  --ca-key FILE          the private key of the first certificate in --ca-cert (mode 0600;
                         read where it is, never copied)
${dnsFlagUsage}
  --consul-listen HOST:PORT
                         also serve a Consul-compatible catalog API there (agent service
                         register/deregister, TTL checks, catalog, health, blocking queries);
                         it takes weft admin tokens as X-Consul-Token (off by default)
  --kubernetes           mirror Services and EndpointSlices (and Gateway API HTTPRoutes and
                         GRPCRoutes, when installed) of a Kubernetes cluster into the mesh
  --kubeconfig FILE      the cluster to watch (default $KUBECONFIG, ~/.kube/config, in-cluster)
  --kubernetes-namespaces A,B
                         watch only these namespaces (default all)`,
  async run(argv) {
    const p = parseCommand(this, argv, {
      listen: { type: 'string' },
      'data-dir': { type: 'string' },
      store: { type: 'string' },
      'store-connect-timeout': { type: 'string' },
      'leader-lease': { type: 'string' },
      token: { type: 'string' },
      'trust-domain': { type: 'string' },
      'cert-ttl': { type: 'string' },
      insecure: { type: 'boolean' },
      'ca-cert': { type: 'string' },
      'ca-key': { type: 'string' },
      ...dnsFlagOptions,
      'consul-listen': { type: 'string' },
      kubernetes: { type: 'boolean' },
      kubeconfig: { type: 'string' },
      'kubernetes-namespaces': { type: 'string' },
    });
    if (!p) return 0;
    const listen = str(p, 'listen') ?? '127.0.0.1:7700';
    const m = /^(.*):(\d+)$/.exec(listen);
    if (!m) throw new WeftError('WEFT_ERR_CLI_USAGE', `--listen must be HOST:PORT, got ${JSON.stringify(listen)}`, 2);
    const trustDomain = str(p, 'trust-domain');
    const certificateTtlSeconds = certTtlSeconds(p);
    // Checked here too, one flag at a time, so that a bad value is a usage error (exit 2) naming its flag.
    for (const [flag, settings] of [['--trust-domain', { trustDomain }], ['--cert-ttl', { leafTtlSeconds: certificateTtlSeconds }]] as const) {
      try {
        checkCaSettings(settings);
      } catch (err) {
        throw new WeftError('WEFT_ERR_CLI_USAGE', `${flag}: ${(err as Error).message}`, 2);
      }
    }
    const consulListen = str(p, 'consul-listen');
    const cm = consulListen === undefined ? undefined : /^(.*):(\d+)$/.exec(consulListen);
    if (consulListen !== undefined && (!cm || Number(cm[2]) > 65535)) throw new WeftError('WEFT_ERR_CLI_USAGE', `--consul-listen must be HOST:PORT, got ${JSON.stringify(consulListen)}`, 2);
    const storeUrl = str(p, 'store');
    if (storeUrl !== undefined) {
      try {
        parseStoreUrl(storeUrl);
      } catch (err) {
        throw new WeftError('WEFT_ERR_CLI_USAGE', `--store: ${(err as Error).message}`, 2);
      }
    }
    const storeConnectTimeoutSeconds = ttlSeconds(str(p, 'store-connect-timeout'), '--store-connect-timeout');
    const leaderLeaseSeconds = ttlSeconds(str(p, 'leader-lease'), '--leader-lease');
    if (leaderLeaseSeconds !== undefined && !(leaderLeaseSeconds >= 2 && leaderLeaseSeconds <= 300)) {
      throw new WeftError('WEFT_ERR_CLI_USAGE', `--leader-lease must be from 2s to 5m, got ${leaderLeaseSeconds}s`, 2);
    }
    const insecure = p.values.insecure === true;
    const bootstrapToken = str(p, 'token') ?? (process.env.WEFT_TOKEN || undefined);
    const caCertFile = str(p, 'ca-cert');
    const caKeyFile = str(p, 'ca-key');
    if ((caCertFile === undefined) !== (caKeyFile === undefined)) {
      throw new WeftError('WEFT_ERR_CLI_USAGE', '--ca-cert and --ca-key go together: the CA certificate and its private key', 2);
    }
    const dns = dnsFlags(p);
    const kubernetes = kubernetesOptions(p);
    // V8's small-heap mode: bursts of API and etcd calls leave mostly garbage, which V8's default
    // heap growth keeps as heap (and RSS) long after. It costs some CPU per call; measured in
    // docs/performance.md, entry 17. WEFT_NODE_FLAGS=--no-optimize-for-size keeps V8's default.
    if (!process.execArgv.includes('--no-optimize-for-size')) setFlagsFromString('--optimize-for-size');
    const cp = await startControlPlane({
      host: m[1].replace(/^\[|\]$/g, '') || '127.0.0.1',
      port: Number(m[2]),
      dataDir: str(p, 'data-dir') ?? '.weft/control',
      storeUrl,
      storeConnectTimeoutMs: storeConnectTimeoutSeconds === undefined ? undefined : storeConnectTimeoutSeconds * 1000,
      leaderLeaseSeconds,
      token: bootstrapToken,
      insecure,
      trustDomain,
      certificateTtlSeconds,
      caCertFile,
      caKeyFile,
      ...dns,
      consulListen: cm ? { host: cm[1]!.replace(/^\[|\]$/g, '') || '127.0.0.1', port: Number(cm[2]) } : undefined,
      kubernetes,
    });
    if (cp.adminTokenFile) process.stdout.write(`weft: wrote a bootstrap admin token to ${cp.adminTokenFile} (mode 0600); use it with: export WEFT_TOKEN=$(cat ${cp.adminTokenFile})\n`);
    if (insecure) process.stdout.write('weft: --insecure: the API accepts anonymous callers as admin; do not expose this port\n');
    if (dns.dnsListen && cp.dnsPort !== undefined) process.stdout.write(dnsListeningLine(dns.dnsListen.host, cp.dnsPort));
    if (cp.consulUrl) process.stdout.write(`weft: Consul-compatible API on ${cp.consulUrl}\n`);
    process.stdout.write(`weft control plane listening on ${cp.url}\n`);
    await new Promise<void>((resolve) => {
      const stop = (): void => {
        void cp.close().then(() => {
          // A replica that never led leaves one etcd watch open after closing its client (etcd3's
          // campaign keeps waiting for the previous candidate's key to go, and close() cannot reach
          // that watch): everything is closed by now, so do not let that socket keep the process.
          setTimeout(() => process.exit(), 1_000).unref();
          resolve();
        });
      };
      process.once('SIGINT', stop);
      process.once('SIGTERM', stop);
    });
    return 0;
  },
};
