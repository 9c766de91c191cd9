// The long campaign of the differential parser test (src/proxy/transport/h1-parser.differential.test.ts):
// `npm run fuzz:h1 -- [--runs N] [--seed S] [--kind request|response|both] [--path P]`. Prints
// progress, a tally of the known differences met, and the first counterexample (shrunk) with the
// seed and path that replay it.

import { parseArgs } from 'node:util';
import fc from 'fast-check';
import { checkRequest, checkResponse, requestCase, responseCase, type Verdict } from '../support/h1-differential.ts';

const { values } = parseArgs({
  options: {
    runs: { type: 'string', default: '100000' },
    seed: { type: 'string' },
    kind: { type: 'string', default: 'both' },
    path: { type: 'string' },
  },
});
const runs = Number(values.runs);
const seed = values.seed !== undefined ? Number(values.seed) : Date.now() ^ (Math.random() * 0x7fffffff);
if (!Number.isInteger(runs) || runs <= 0 || !Number.isInteger(seed) || !['request', 'response', 'both'].includes(values.kind)) {
  console.error('usage: npm run fuzz:h1 -- [--runs N] [--seed S] [--kind request|response|both] [--path P]');
  process.exit(2);
}

const known = new Map<string, number>();
let done = 0;
const started = Date.now();

function tally(v: Verdict): boolean {
  if (!v.ok) throw new Error(v.why);
  if (v.known !== undefined) known.set(v.known, (known.get(v.known) ?? 0) + 1);
  if (++done % 5000 === 0) console.log(`${done} cases, ${Math.round(done / ((Date.now() - started) / 1000))}/s, known differences met: ${JSON.stringify(Object.fromEntries(known))}`);
  return true;
}

async function campaign(name: string, property: fc.IAsyncProperty<[unknown]>): Promise<boolean> {
  console.log(`${name}: ${runs} cases, seed ${seed}`);
  const result = await fc.check(property, { numRuns: runs, seed, ...(values.path !== undefined ? { path: values.path } : {}) });
  if (!result.failed) return true;
  console.log(`\n${name}: COUNTEREXAMPLE after ${result.numRuns} cases (seed ${result.seed}, path ${result.counterexamplePath})`);
  console.log(JSON.stringify(result.counterexample?.[0], null, 2));
  console.log(result.errorInstance instanceof Error ? result.errorInstance.message : String(result.errorInstance));
  console.log(`replay: npm run fuzz:h1 -- --kind ${name} --seed ${result.seed} --path ${result.counterexamplePath}`);
  return false;
}

let ok = true;
if (values.kind !== 'response') ok = (await campaign('request', fc.asyncProperty(requestCase, async (c) => tally(await checkRequest(c))) as fc.IAsyncProperty<[unknown]>)) && ok;
if (values.kind !== 'request') ok = (await campaign('response', fc.asyncProperty(responseCase, async (c) => tally(await checkResponse(c))) as fc.IAsyncProperty<[unknown]>)) && ok;
console.log(`\n${done} cases in ${((Date.now() - started) / 1000).toFixed(1)} s; known differences met: ${JSON.stringify(Object.fromEntries(known))}`);
process.exit(ok ? 0 : 1);
