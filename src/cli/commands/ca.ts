// `weft ca status` and `weft ca rotate`: the mesh CA's roots, their expiry and the rotation phase
// (GET /v1/ca), and the start of a root rotation (POST /v1/ca/rotate).

import { WeftError } from '../../lib/errors.ts';
import { ApiClient } from '../api-client.ts';
import { controlOption, controlUrl, outputOption, parseCommand, str, token, type Command } from '../command.ts';
import { outputFormat, print, renderTable, timeLeft } from '../output.ts';

interface Summary {
  subject: string;
  fingerprint256: string;
  notBefore: string;
  notAfter: string;
}

interface CaStatusBody {
  trustDomain: string;
  source: 'weft' | 'operator';
  leafTtlSeconds: number;
  phase: 'idle' | 'distributing' | 'reissuing';
  roots: (Summary & { role: string; signing: boolean })[];
  intermediates: Summary[];
  rotation?: { startedAt: string; phaseSince: string; waitingFor: string[]; deadline: string };
}

const PHASES: Record<CaStatusBody['phase'], string> = {
  idle: 'none in progress',
  distributing: 'phase 1 of 3: proxies are receiving the bundle with the new root; leaves still come from the old root',
  reissuing: 'phase 2 of 3: leaves come from the new root; proxies renew; the old root retires when no proxy holds a leaf under it',
};

function render(s: CaStatusBody): string {
  const fp = (f: string): string => f.slice(0, 23);
  let out = `trust domain: ${s.trustDomain}   CA: ${s.source === 'weft' ? "weft's own root" : 'operator-supplied'}   leaf TTL: ${s.leafTtlSeconds}s\n\n`;
  out += renderTable(
    ['ROOT', 'ROLE', 'SIGNING', 'FINGERPRINT', 'NOT AFTER', 'EXPIRES'],
    s.roots.map((r) => [r.subject, r.role, r.signing ? 'yes' : 'no', fp(r.fingerprint256), r.notAfter, timeLeft(r.notAfter)]),
  );
  if (s.intermediates.length > 0) {
    out += '\n' + renderTable(['INTERMEDIATE', 'FINGERPRINT', 'NOT AFTER', 'EXPIRES'], s.intermediates.map((c) => [c.subject, fp(c.fingerprint256), c.notAfter, timeLeft(c.notAfter)]));
  }
  out += `\nrotation: ${PHASES[s.phase]}\n`;
  if (s.rotation) {
    out += `  started ${s.rotation.startedAt}, this phase since ${s.rotation.phaseSince}, moves on by ${s.rotation.deadline} at the latest\n`;
    out += s.rotation.waitingFor.length ? `  waiting for: ${s.rotation.waitingFor.join(', ')}\n` : '  waiting for: nothing (moves on at the next check)\n';
  }
  return out;
}

export const caCommand: Command = {
  name: 'ca',
  summary: "Show the mesh CA's roots and rotation (status), or rotate the root (rotate).",
  usage: `Usage: weft ca status [-o table|json|yaml]
       weft ca rotate [-o table|json|yaml]

  status   the roots of the trust bundle, which one signs, their expiry, any operator
           intermediates, and where a root rotation stands
  rotate   start a root rotation: (1) a new root joins the bundle every proxy trusts,
           (2) once every proxy has it, leaves are issued under the new root and proxies
           renew, (3) once no proxy holds a leaf of the old root, the old root leaves the
           bundle and its key is deleted. Traffic keeps flowing throughout.`,
  async run(argv) {
    const p = parseCommand(this, argv, { ...controlOption, ...outputOption });
    if (!p) return 0;
    const [sub, ...extra] = p.positionals;
    if ((sub !== 'status' && sub !== 'rotate') || extra.length > 0) {
      throw new WeftError('WEFT_ERR_CLI_USAGE', `weft ca takes one subcommand, status or rotate${sub ? `, got ${JSON.stringify(p.positionals.join(' '))}` : ''}\n\n${this.usage}`, 2);
    }
    const format = outputFormat(str(p, 'output'));
    const api = new ApiClient(controlUrl(p), token(p));
    const status = sub === 'rotate' ? await api.request<CaStatusBody>('POST', '/v1/ca/rotate') : await api.request<CaStatusBody>('GET', '/v1/ca');
    print(format, status, () => (sub === 'rotate' ? 'root rotation started\n\n' : '') + render(status));
    return 0;
  },
};
