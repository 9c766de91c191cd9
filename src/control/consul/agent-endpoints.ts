// Consul's agent endpoints on weft: register and deregister services, set TTL check results, and
// list what the "agent" holds (every instance of weft's default namespace).

import type { HealthStatus } from '../../config/catalog-types.ts';
import type { Router } from '../api/router.ts';
import { decodeServiceDefinition } from './mapping.ts';
import { Fields } from './decode.ts';
import { badRequest, decodeFailed, notFound } from './errors.ts';
import { checkDatacenter, readBody, sendEmpty, sendJson, type ConsulContext } from './http.ts';
import { checkView, DATACENTER, nodeId, serviceView } from './views.ts';
import { WEFT_VERSION } from '../../config/version.ts';

function clientAddress(remote: string | undefined): string {
  return (remote ?? '127.0.0.1').replace(/^::ffff:/, '');
}

export function addAgentEndpoints(router: Router, ctx: ConsulContext): void {
  const { agent } = ctx;

  router.add('PUT', '/v1/agent/service/register', async (req, res) => {
    const reg = decodeServiceDefinition(await readBody(req), clientAddress(req.socket.remoteAddress));
    await agent.register(reg);
    sendEmpty(res, agent.index.current);
  });

  router.add('PUT', '/v1/agent/service/deregister/:id', async (_req, res, p) => {
    await agent.deregister(p.id!);
    sendEmpty(res, agent.index.current);
  });

  const ttlUpdate = (status: HealthStatus) => async (_req: unknown, res: Parameters<Parameters<Router['add']>[2]>[1], p: Record<string, string>, url: URL) => {
    await agent.updateTtlCheck(p.id!, status, url.searchParams.get('note') ?? '');
    sendEmpty(res, agent.index.current);
  };
  router.add('PUT', '/v1/agent/check/pass/:id', ttlUpdate('passing'));
  router.add('PUT', '/v1/agent/check/warn/:id', ttlUpdate('warning'));
  router.add('PUT', '/v1/agent/check/fail/:id', ttlUpdate('critical'));
  router.add('PUT', '/v1/agent/check/update/:id', async (req, res, p) => {
    const body = Fields.object(await readBody(req), '');
    if (!body) throw decodeFailed('EOF');
    const status = body.string('Status') ?? '';
    const output = body.string('Output') ?? '';
    if (status !== 'passing' && status !== 'warning' && status !== 'critical') throw badRequest(`Invalid check status: '${status}'`);
    await agent.updateTtlCheck(p.id!, status, output);
    sendEmpty(res, agent.index.current);
  });

  router.add('GET', '/v1/agent/services', (_req, res, _p, url) => {
    checkDatacenter(url);
    const out: Record<string, unknown> = {};
    for (const inst of agent.instances()) out[inst.id] = serviceView(inst, agent.index.of(inst.service));
    sendJson(res, url, out);
  });

  router.add('GET', '/v1/agent/service/:id', (_req, res, p, url) => {
    const inst = agent.instanceById(p.id!);
    if (!inst) throw notFound(`unknown service ID: ${p.id}`);
    sendJson(res, url, serviceView(inst, agent.index.of(inst.service)), agent.index.of(inst.service));
  });

  // Clients read their agent's node name and datacenter here at start (Go's api.Agent().NodeName()).
  router.add('GET', '/v1/agent/self', (_req, res, _p, url) => {
    const address = ctx.address();
    const host = address.replace(/:\d+$/, '').replace(/^\[|\]$/g, '');
    sendJson(res, url, {
      Config: { Datacenter: DATACENTER, PrimaryDatacenter: DATACENTER, NodeName: 'weft', NodeID: nodeId('weft'), Server: true, Revision: '', Version: `weft-${WEFT_VERSION}` },
      Member: { Name: 'weft', Addr: host, Port: Number(address.slice(address.lastIndexOf(':') + 1)), Tags: { dc: DATACENTER, role: 'consul' }, Status: 1 },
      Meta: {},
    });
  });

  router.add('GET', '/v1/agent/checks', (_req, res, _p, url) => {
    const out: Record<string, unknown> = {};
    for (const inst of agent.instances()) for (const c of agent.checks(inst)) out[c.def.id] = checkView(inst, c, agent.index.of(inst.service));
    sendJson(res, url, out);
  });
}
