// `weft control`: runs the control plane until SIGINT/SIGTERM.

import { startControlPlane } from '../../control/control-plane.ts';
import { checkCaSettings } from '../../control/ca/certificate-authority.ts';
import { WeftError } from '../../lib/errors.ts';
import { parseDuration } from '../../config/kinds/route-common.ts';
import { parseCommand, str, type Command, type Parsed } from '../command.ts';

/**
 * `--cert-ttl`: plain seconds (`3600`) or a duration (`90s`, `30m`, `24h`, `1h30m`); whole seconds
 * only, since certificate times have no fractions. The range is checked by the control plane.
 */
export function certTtlSeconds(parsed: Parsed): number | undefined {
  const v = str(parsed, 'cert-ttl');
  if (v === undefined) return undefined;
  const ms = /^\d{1,9}$/.test(v) ? Number(v) * 1000 : parseDuration(v);
  if (ms === undefined || ms % 1000 !== 0) {
    throw new WeftError('WEFT_ERR_CLI_USAGE', `--cert-ttl must be seconds (3600) or a duration in whole seconds (90s, 30m, 24h, 1h30m), got ${JSON.stringify(v)}`, 2);
  }
  return ms / 1000;
}

export const controlCommand: Command = {
  name: 'control',
  summary: 'Run the control plane: catalog, resource store, config streams, certificates and the HTTP API.',
  usage: `Usage: weft control [--listen HOST:PORT] [--data-dir DIR] [--token TOKEN]
                    [--trust-domain NAME] [--cert-ttl DURATION]
                    [--ca-cert FILE --ca-key FILE]

  --listen HOST:PORT     where the API listens (default 127.0.0.1:7700)
  --data-dir DIR         where the embedded SQLite store and the mesh CA (DIR/ca/) live
                         (default ./.weft/control)
  --token TOKEN          require "Authorization: Bearer TOKEN" on the API (or WEFT_TOKEN)
  --trust-domain NAME    SPIFFE trust domain of workload identities (default weft.local)
  --cert-ttl DURATION    lifetime of workload certificates: seconds or 90s, 30m, 24h
                         (default 24h; 5s to 30 days; below 10m only for tests)
  --ca-cert FILE         sign with your own CA instead of weft's: PEM, the signing CA first,
                         then any intermediates, then the root (the root goes to sidecars'
                         trust bundle, the intermediates go with every leaf)
  --ca-key FILE          the private key of the first certificate in --ca-cert (mode 0600;
                         read where it is, never copied)`,
  async run(argv) {
    const p = parseCommand(this, argv, {
      listen: { type: 'string' },
      'data-dir': { type: 'string' },
      token: { type: 'string' },
      'trust-domain': { type: 'string' },
      'cert-ttl': { type: 'string' },
      'ca-cert': { type: 'string' },
      'ca-key': { type: 'string' },
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
    const caCertFile = str(p, 'ca-cert');
    const caKeyFile = str(p, 'ca-key');
    if ((caCertFile === undefined) !== (caKeyFile === undefined)) {
      throw new WeftError('WEFT_ERR_CLI_USAGE', '--ca-cert and --ca-key go together: the CA certificate and its private key', 2);
    }
    const cp = await startControlPlane({
      host: m[1].replace(/^\[|\]$/g, '') || '127.0.0.1',
      port: Number(m[2]),
      dataDir: str(p, 'data-dir') ?? '.weft/control',
      token: str(p, 'token') ?? process.env.WEFT_TOKEN ?? undefined,
      trustDomain,
      certificateTtlSeconds,
      caCertFile,
      caKeyFile,
    });
    process.stdout.write(`weft control plane listening on ${cp.url}\n`);
    await new Promise<void>((resolve) => {
      const stop = (): void => {
        void cp.close().then(resolve);
      };
      process.once('SIGINT', stop);
      process.once('SIGTERM', stop);
    });
    return 0;
  },
};
