// `weft proxy` / `weft run` flags that shape the instance: --region and --zone become the topology
// labels the sidecar registers and reads its own locality from.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseCommand } from '../command.ts';
import { proxyCommand, proxyOptions, proxyOptionsFrom } from './proxy.ts';

function options(argv: string[]) {
  const p = parseCommand(proxyCommand, argv, proxyOptions);
  assert.ok(p);
  return proxyOptionsFrom(p);
}

test('--region and --zone set the topology labels, over the same keys in --labels', () => {
  const o = options(['--service', 'web', '--labels', 'version=v2,topology.kubernetes.io/zone=x', '--region', 'eu-west1', '--zone', 'eu-west1-b']);
  assert.deepEqual(o.labels, { version: 'v2', 'topology.kubernetes.io/region': 'eu-west1', 'topology.kubernetes.io/zone': 'eu-west1-b' });
  assert.deepEqual(options(['--service', 'web']).labels, {});
});

test('a --zone or --region that is not a label value is a usage error', () => {
  for (const argv of [['--zone', 'a b'], ['--region', ''], ['--zone', '-a'], ['--zone', 'x'.repeat(64)]]) {
    assert.throws(() => options(['--service', 'web', ...argv]), (err: { code?: string }) => err.code === 'WEFT_ERR_CLI_USAGE', argv.join(' '));
  }
});
