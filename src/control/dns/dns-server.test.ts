import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Resolver } from 'node:dns/promises';
import { connect } from 'node:net';
import { createSocket } from 'node:dgram';
import dnsPacket from 'dns-packet';
import { Registry } from '../../lib/metrics.ts';
import { createLogger } from '../../lib/log.ts';
import { checkDnsSettings, startDnsServer } from './dns-server.ts';
import { instance, query, TestSource } from './fixtures.ts';
import { WeftError } from '../../lib/errors.ts';

const quiet = createLogger('test', () => {});

async function server(count = 3) {
  const items = [];
  for (let i = 1; i <= count; i++) items.push(instance({ id: `r${i}`, address: `10.0.${i >> 8}.${i & 255}`, port: 9000 + i }));
  const source = new TestSource(items);
  const metrics = new Registry();
  const dns = await startDnsServer({ host: '127.0.0.1', port: 0, source, metrics, log: quiet });
  return { dns, source, metrics };
}

test('UDP and TCP on one port: Node\'s resolver reads A and SRV, and follows TC to TCP', async (t) => {
  const { dns, metrics } = await server(80);
  t.after(() => dns.close());
  const resolver = new Resolver({ timeout: 3000, tries: 2 });
  resolver.setServers([`127.0.0.1:${dns.port}`]);
  const a = await resolver.resolve4('reviews.default.svc.cluster.local');
  // 80 A records do not fit in 512 bytes: the full set came over TCP.
  assert.equal(a.length, 80);
  const srv = await resolver.resolveSrv('reviews.service.consul');
  assert.equal(srv.length, 80);
  assert.deepEqual(srv.map((s) => s.port).sort(), Array.from({ length: 80 }, (_, i) => 9001 + i).sort());
  await assert.rejects(resolver.resolve4('nope.default.svc.cluster.local'), { code: 'ENOTFOUND' });
  await assert.rejects(resolver.resolve6('reviews.default.svc.cluster.local'), { code: 'ENODATA' });
  const text = metrics.render();
  assert.match(text, /weft_control_dns_queries_total\{type="A",rcode="NOERROR"\} [2-9]/); // UDP (truncated) then TCP
  assert.match(text, /weft_control_dns_queries_total\{type="A",rcode="NXDOMAIN"\} 1/);
  assert.match(text, /weft_control_dns_queries_total\{type="AAAA",rcode="NOERROR"\} 1/);
});

test('TCP: pipelined queries in odd-sized chunks are answered in order on one connection (RFC 7766)', async (t) => {
  const { dns } = await server();
  t.after(() => dns.close());
  const frames = [query('r1.reviews.default.svc.cluster.local', 'A', { id: 1 }), query('nope.default', 'A', { id: 2 }), query('reviews.default', 'SRV', { id: 3 })].map((q) => dnsPacket.streamEncode(dnsPacket.decode(q)));
  const all = Buffer.concat(frames);
  const socket = connect(dns.port, '127.0.0.1');
  t.after(() => socket.destroy());
  const got: { id?: number; rcode: string; answers: number }[] = [];
  const done = new Promise<void>((resolve, reject) => {
    let buf = Buffer.alloc(0);
    socket.on('error', reject);
    socket.on('data', (chunk: Buffer) => {
      buf = Buffer.concat([buf, chunk]);
      while (buf.length >= 2 && buf.length >= 2 + buf.readUInt16BE(0)) {
        const r = dnsPacket.decode(buf.subarray(2, 2 + buf.readUInt16BE(0))) as ReturnType<typeof dnsPacket.decode> & { rcode: string };
        got.push({ id: r.id, rcode: r.rcode, answers: r.answers!.length });
        buf = buf.subarray(2 + buf.readUInt16BE(0));
        if (got.length === 3) resolve();
      }
    });
  });
  // One byte, then the rest of the first frame and part of the second, then the remainder.
  for (const part of [all.subarray(0, 1), all.subarray(1, frames[0].length + 5), all.subarray(frames[0].length + 5)]) {
    socket.write(part);
    await new Promise((r) => setImmediate(r));
  }
  await done;
  assert.deepEqual(got, [{ id: 1, rcode: 'NOERROR', answers: 1 }, { id: 2, rcode: 'NXDOMAIN', answers: 0 }, { id: 3, rcode: 'NOERROR', answers: 3 }]);
});

test('UDP: garbage gets FORMERR or nothing, and the server keeps answering', async (t) => {
  const { dns } = await server();
  t.after(() => dns.close());
  const socket = createSocket('udp4');
  t.after(() => socket.close());
  const replies: Buffer[] = [];
  socket.on('message', (m) => replies.push(m));
  const send = (b: Buffer) => new Promise<void>((r) => socket.send(b, dns.port, '127.0.0.1', () => r()));
  await send(Buffer.from([1, 2, 3]));
  await send(Buffer.concat([Buffer.from([0, 7, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0]), Buffer.alloc(40, 0xff)]));
  await send(Buffer.alloc(5000, 0x41));
  await send(query('reviews.default', 'A', { id: 99 }));
  const deadline = Date.now() + 5000;
  while (!replies.some((r) => r.readUInt16BE(0) === 99) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  const byId = new Map(replies.map((r) => [r.readUInt16BE(0), dnsPacket.decode(r) as ReturnType<typeof dnsPacket.decode> & { rcode: string }]));
  assert.equal(byId.get(7)?.rcode, 'FORMERR');
  assert.equal(byId.get(99)?.answers?.length, 3);
});

test('a taken port fails the start with WEFT_ERR_DNS_LISTEN', async (t) => {
  const { dns } = await server();
  t.after(() => dns.close());
  await assert.rejects(
    startDnsServer({ host: '127.0.0.1', port: dns.port, source: new TestSource(), metrics: new Registry(), log: quiet }),
    (e: unknown) => e instanceof WeftError && e.code === 'WEFT_ERR_DNS_LISTEN' && e.message.includes('EADDRINUSE'),
  );
});

test('settings: the host must be an IP address, the TTL 0–3600 whole seconds', () => {
  for (const bad of [{ host: 'localhost' }, { ttlSeconds: -1 }, { ttlSeconds: 3601 }, { ttlSeconds: 1.5 }]) {
    assert.throws(() => checkDnsSettings(bad), (e: unknown) => e instanceof WeftError && e.code === 'WEFT_ERR_DNS_CONFIG');
  }
  checkDnsSettings({ host: '::', ttlSeconds: 0 });
});
