// Consul's read side on weft: catalog services and service nodes, health entries with `?passing`
// and `?tag`, all blocking queries (`index`, `wait`, X-Consul-Index), and the status endpoints
// clients ping (`/v1/status/leader`, `/v1/status/peers`).

import type { InstanceState } from '../../config/catalog-types.ts';
import type { Router } from '../api/router.ts';
import { ANY_SERVICE } from './change-index.ts';
import { tagsAndMeta } from './mapping.ts';
import { block, checkDatacenter, flag, sendJson, type ConsulContext } from './http.ts';
import { healthChecks, nodeView, serviceNodeView, serviceView } from './views.ts';

/** Instances carrying every `?tag=` given (Consul ANDs repeated tags). */
function withTags(instances: InstanceState[], url: URL): InstanceState[] {
  const wanted = url.searchParams.getAll('tag');
  if (wanted.length === 0) return instances;
  return instances.filter((i) => {
    const { tags } = tagsAndMeta(i.labels);
    return wanted.every((t) => tags.includes(t));
  });
}

export function addCatalogEndpoints(router: Router, ctx: ConsulContext): void {
  const { agent } = ctx;

  router.add('GET', '/v1/catalog/services', async (req, res, _p, url) => {
    checkDatacenter(url);
    await block(ctx, req, url, ANY_SERVICE);
    const out: Record<string, string[]> = {};
    for (const inst of agent.instances()) {
      const tags = (out[inst.service] ??= []);
      for (const t of tagsAndMeta(inst.labels).tags) if (!tags.includes(t)) tags.push(t);
    }
    sendJson(res, url, out, agent.index.of(ANY_SERVICE));
  });

  router.add('GET', '/v1/catalog/service/:name', async (req, res, p, url) => {
    checkDatacenter(url);
    await block(ctx, req, url, p.name!);
    const index = agent.index.of(p.name!);
    sendJson(res, url, withTags(agent.instances(p.name), url).map((i) => serviceNodeView(i, index)), index);
  });

  router.add('GET', '/v1/health/service/:name', async (req, res, p, url) => {
    checkDatacenter(url);
    const passing = flag(url, 'passing');
    await block(ctx, req, url, p.name!);
    const index = agent.index.of(p.name!);
    const entries = withTags(agent.instances(p.name), url)
      .map((inst) => ({ Node: nodeView(inst, index), Service: serviceView(inst, index), Checks: healthChecks(inst, agent.checks(inst), index) }))
      // Consul's `passing` keeps entries whose every check (node and service) passes.
      .filter((e) => !passing || e.Checks.every((c) => c.Status === 'passing'));
    sendJson(res, url, entries, index);
  });

  router.add('GET', '/v1/health/checks/:name', async (req, res, p, url) => {
    checkDatacenter(url);
    await block(ctx, req, url, p.name!);
    const index = agent.index.of(p.name!);
    sendJson(res, url, agent.instances(p.name).flatMap((inst) => healthChecks(inst, agent.checks(inst), index).slice(1)), index);
  });

  router.add('GET', '/v1/status/leader', (_req, res, _p, url) => sendJson(res, url, ctx.address()));
  router.add('GET', '/v1/status/peers', (_req, res, _p, url) => sendJson(res, url, [ctx.address()]));
}
