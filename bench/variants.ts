// A/B variants of one contender, interleaved: each run is the bench's sequence (fixed rate on the
// fresh process, wrk, fixed rate warm) with environment variables per variant, and reports CPU per
// request at the fixed rate and peak RSS. For experiments (docs/performance.md entry 21); no files written.

import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { CONTENDERS, type BenchEnv } from './lib/contenders.ts';
import { runFixedRate, type FixedRateResult } from './lib/fixed-rate.ts';
import { nodeBin, sleep, stopAll } from './lib/processes.ts';
import { resetPeak } from './lib/rss.ts';
import { startUpstream } from './lib/upstream.ts';
import { startWeftControl, type WeftControl } from './lib/weft.ts';
import { runWrk } from './lib/wrk.ts';

const HELP = `node bench/variants.ts CONTENDER --variant NAME[:VAR=VALUE,...] [--variant ...] [--rounds N] [--wrk-seconds S]
  Runs CONTENDER (an id of bench/lib/contenders.ts) once per variant per round, variants interleaved.
  Each variant sets its environment variables while the contender starts, e.g.
    --variant base --variant capped:WEFT_V8_YOUNG_GEN=capped
    --variant base --variant stgc:WEFT_BENCH_NODE_FLAGS=--single-threaded-gc
  Per run: p50/p99 of the fixed rate (1,000 req/s, 16 connections, 2 s warm-up + 8 s) on the fresh
  process and after wrk -c64 (default 4 s); CPU of the contender's processes per request in the warm
  fixed rate (µs, from /proc); peak RSS at the fixed rate and at the end (MiB, summed per role).`;

interface Variant {
  readonly name: string;
  readonly env: Readonly<Record<string, string>>;
}

/** `NAME` or `NAME:VAR=VALUE,VAR=VALUE` (a value may hold spaces and '=', not ','). Throws on an empty name or a pair without '='. */
function parseVariant(text: string): Variant {
  const colon = text.indexOf(':');
  const name = colon === -1 ? text : text.slice(0, colon);
  if (name === '') throw new Error(`--variant ${JSON.stringify(text)}: the name is empty`);
  const env: Record<string, string> = {};
  for (const pair of colon === -1 ? [] : text.slice(colon + 1).split(',').filter(Boolean)) {
    const eq = pair.indexOf('=');
    if (eq <= 0) throw new Error(`--variant ${JSON.stringify(text)}: ${JSON.stringify(pair)} is not VAR=VALUE`);
    env[pair.slice(0, eq)] = pair.slice(eq + 1);
  }
  return { name, env };
}

/** CPU time (user + system, in clock ticks of 10 ms) of the processes, from /proc/PID/stat; gone ones count 0. */
function cpuTicks(pids: readonly number[]): number {
  let ticks = 0;
  for (const pid of pids) {
    try {
      const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
      ticks += Number(fields[11]) + Number(fields[12]);
    } catch {
      // exited
    }
  }
  return ticks;
}

const { values: v, positionals } = parseArgs({
  allowPositionals: true,
  options: { variant: { type: 'string', multiple: true }, rounds: { type: 'string', default: '2' }, 'wrk-seconds': { type: 'string', default: '4' }, help: { type: 'boolean', short: 'h' } },
});
if (v.help || positionals.length !== 1) {
  console.log(HELP);
  process.exit(v.help ? 0 : 2);
}
const contender = CONTENDERS.find((c) => c.id === positionals[0]);
if (contender === undefined) throw new Error(`unknown contender ${positionals[0]}; choose from ${CONTENDERS.map((c) => c.id).join(', ')}`);
const variants = (v.variant ?? ['base']).map(parseVariant);
const rounds = Number(v.rounds);
const wrkSeconds = Number(v['wrk-seconds']);

const RATE = 1000;
const fixed = (port: number, hostHeader: string | undefined): Promise<FixedRateResult> =>
  runFixedRate({ port, hostHeader, rate: RATE, seconds: 8, connections: 16, warmupSeconds: 2 }, '0', nodeBin);
const mib = (list: { role: string; hwmKiB: number }[]): string => list.map((m) => `${m.role} ${Math.round(m.hwmKiB / 1024)}`).join(', ');

try {
  const upstream = await startUpstream('nginx', '0');
  let control: Promise<WeftControl> | undefined;
  const env: BenchEnv = { upstreamPort: upstream.port, proxyCpu: '1', loadCpu: '0', weft: () => (control ??= startWeftControl('weft-control', '0')) };
  for (let round = 1; round <= rounds; round++) {
    for (const variant of variants) {
      const saved = { ...process.env };
      Object.assign(process.env, variant.env);
      const running = await contender.start(env).finally(() => {
        process.env = saved;
      });
      try {
        for (const m of running.memory()) resetPeak(m.pid);
        const fresh = await fixed(running.port, running.hostHeader);
        const atRate = mib(running.memory());
        const wrk = wrkSeconds > 0 ? await runWrk({ url: `http://127.0.0.1:${running.port}/`, host: running.hostHeader, threads: 1, connections: 64, cpu: '0', seconds: wrkSeconds }) : undefined;
        await sleep(500);
        const pids = running.memory().map((m) => m.pid);
        const before = cpuTicks(pids);
        const warm = await fixed(running.port, running.hostHeader);
        // ticks of 10 ms over (2 + 8) s × RATE requests, in µs per request
        const cpuUs = ((cpuTicks(pids) - before) * 10_000) / ((2 + 8) * RATE);
        console.log(`${variant.name.padEnd(12)} round ${round}: wrk ${Math.round(wrk?.requestsPerSec ?? 0)} req/s · fresh p50/p99 ${fresh.p50Ms}/${fresh.p99Ms} ms · warm p50/p99/p99.9 ${warm.p50Ms}/${warm.p99Ms}/${warm.p999Ms} ms · CPU ${cpuUs.toFixed(0)} µs/request at ${RATE}/s · peak RSS at rate: ${atRate}; at the end: ${mib(running.memory())} MiB`);
      } finally {
        await running.stop();
      }
    }
  }
} finally {
  await stopAll();
}
