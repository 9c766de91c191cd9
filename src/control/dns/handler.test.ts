import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import dnsPacket from 'dns-packet';
import { DnsHandler, MAX_QUERY_BYTES, MAX_UDP_PAYLOAD } from './handler.ts';
import { CatalogDnsView } from './catalog-view.ts';
import { decodeResponse, instance, query, rdata, TestSource } from './fixtures.ts';

function handlerFor(count = 3) {
  const items = [];
  for (let i = 1; i <= count; i++) items.push(instance({ id: `reviews-instance-${i}`, address: `10.0.${i >> 8}.${i & 255}`, port: 9000 + i }));
  items.push(instance({ id: 'v6', service: 'ratings', address: 'fd00::1', port: 9080 }));
  const counted: string[] = [];
  const handler = new DnsHandler({ view: new CatalogDnsView(new TestSource(items), 7), ttlSeconds: 5, onResponse: (type, rcode) => counted.push(`${type} ${rcode}`) });
  return { handler, counted };
}

test('a query gets an authoritative response with its id, question and RD bit; no recursion offered', () => {
  const { handler, counted } = handlerFor();
  const r = decodeResponse(handler.handle(query('reviews.default.svc.cluster.local', 'A', { id: 777 }), 'udp'));
  assert.equal(r.id, 777);
  assert.ok(r.flag_qr && r.flag_aa && r.flag_rd && !r.flag_ra && !r.flag_tc);
  assert.equal(r.rcode, 'NOERROR');
  assert.deepEqual(r.questions, [{ name: 'reviews.default.svc.cluster.local', type: 'A', class: 'IN' }]);
  assert.deepEqual(r.answers!.map(rdata), ['10.0.0.1', '10.0.0.2', '10.0.0.3']);
  assert.deepEqual(counted, ['A NOERROR']);
});

test('negative responses carry their RCODE and the SOA; REFUSED is not authoritative', () => {
  const { handler, counted } = handlerFor();
  const nx = decodeResponse(handler.handle(query('nope.default.svc.cluster.local'), 'udp'));
  assert.equal(nx.rcode, 'NXDOMAIN');
  assert.deepEqual(nx.authorities!.map((a) => a.type), ['SOA']);
  const nodata = decodeResponse(handler.handle(query('reviews.default.svc.cluster.local', 'AAAA'), 'udp'));
  assert.equal(nodata.rcode, 'NOERROR');
  assert.equal(nodata.answers!.length, 0);
  assert.deepEqual(nodata.authorities!.map((a) => a.type), ['SOA']);
  const refused = decodeResponse(handler.handle(query('example.com'), 'udp'));
  assert.equal(refused.rcode, 'REFUSED');
  assert.ok(!refused.flag_aa);
  const chaos = dnsPacket.encode({ type: 'query', id: 1, questions: [{ name: 'version.bind', type: 'TXT', class: 'CH' }] });
  assert.equal(decodeResponse(handler.handle(chaos, 'udp')).rcode, 'REFUSED');
  assert.equal(decodeResponse(handler.handle(query('cluster.local', 'AXFR'), 'tcp')).rcode, 'REFUSED');
  assert.deepEqual(counted, ['A NXDOMAIN', 'AAAA NOERROR', 'A REFUSED', 'TXT REFUSED', 'other REFUSED']);
});

test('several questions → FORMERR; other opcodes → NOTIMP; EDNS version 1 → BADVERS; responses and runts get nothing', () => {
  const { handler, counted } = handlerFor();
  const two = dnsPacket.encode({ type: 'query', id: 9, questions: [{ name: 'a.default', type: 'A' }, { name: 'b.default', type: 'A' }] });
  const r = decodeResponse(handler.handle(two, 'udp'));
  assert.equal(r.rcode, 'FORMERR');
  assert.equal(r.id, 9);
  const none = dnsPacket.encode({ type: 'query', id: 10, questions: [] });
  assert.equal(decodeResponse(handler.handle(none, 'udp')).rcode, 'FORMERR');
  // OPCODE 5 (UPDATE) and 2 (STATUS), set in the header's flags.
  for (const opcode of [2, 5]) {
    const msg = dnsPacket.encode({ type: 'query', id: 11, flags: opcode << 11, questions: [{ name: 'reviews.default', type: 'A' }] });
    const res = decodeResponse(handler.handle(msg, 'udp'));
    assert.equal(res.rcode, 'NOTIMP');
    assert.equal((res as unknown as { opcode: string }).opcode, opcode === 2 ? 'STATUS' : 'UPDATE');
  }
  const v1 = dnsPacket.encode({ type: 'query', id: 12, questions: [{ name: 'reviews.default', type: 'A' }], additionals: [{ name: '.', type: 'OPT', udpPayloadSize: 1232, extendedRcode: 0, ednsVersion: 1, flags: 0, flag_do: false, options: [] }] });
  const bad = decodeResponse(handler.handle(v1, 'udp'));
  const opt = bad.additionals!.find((a) => a.type === 'OPT') as { extendedRcode: number; ednsVersion: number };
  assert.equal(opt.extendedRcode, 1); // 16 >> 4: BADVERS (RFC 6891 §6.1.3)
  assert.equal(opt.ednsVersion, 0);
  assert.equal(bad.answers!.length, 0);
  const twoOpts = dnsPacket.encode({ type: 'query', id: 13, questions: [{ name: 'reviews.default', type: 'A' }], additionals: [1, 2].map(() => ({ name: '.', type: 'OPT' as const, udpPayloadSize: 1232, extendedRcode: 0, ednsVersion: 0, flags: 0, flag_do: false, options: [] })) });
  assert.equal(decodeResponse(handler.handle(twoOpts, 'udp')).rcode, 'FORMERR');
  const asResponse = dnsPacket.encode({ type: 'response', id: 14, questions: [{ name: 'reviews.default', type: 'A' }] });
  assert.equal(handler.handle(asResponse, 'udp'), undefined);
  assert.equal(handler.handle(Buffer.from([1, 2, 3]), 'udp'), undefined);
  const garbage = Buffer.concat([Buffer.from([0, 15, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0]), Buffer.from([0xc0, 0xff])]);
  const g = decodeResponse(handler.handle(garbage, 'udp'));
  assert.equal(g.rcode, 'FORMERR');
  assert.equal(g.id, 15);
  // Labels that cannot be written back as they came: one ending in a dot, a non-ASCII one.
  for (const label of [Buffer.from([2, 0x76, 0x2e]), Buffer.from([3, 0xff, 0xfe, 0xfd])]) {
    const odd = Buffer.concat([Buffer.from([0, 16, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 1, 0x61]), label, Buffer.from([0, 0, 1, 0, 1])]);
    assert.equal(decodeResponse(handler.handle(odd, 'udp')).rcode, 'FORMERR');
  }
  const big = Buffer.concat([query('reviews.default'), Buffer.alloc(MAX_QUERY_BYTES)]);
  assert.equal(decodeResponse(handler.handle(big, 'tcp')).rcode, 'FORMERR');
  assert.deepEqual(counted, ['A FORMERR', 'none FORMERR', 'none NOTIMP', 'none NOTIMP', 'A BADVERS', 'A FORMERR', 'none FORMERR', 'A FORMERR', 'A FORMERR', 'none FORMERR']);
});

test('EDNS0: the response carries OPT with weft payload size and the DO bit copied', () => {
  const { handler } = handlerFor();
  const msg = dnsPacket.encode({ type: 'query', id: 1, questions: [{ name: 'reviews.default', type: 'A' }], additionals: [{ name: '.', type: 'OPT', udpPayloadSize: 4096, extendedRcode: 0, ednsVersion: 0, flags: dnsPacket.DNSSEC_OK, flag_do: true, options: [] }] });
  const r = decodeResponse(handler.handle(msg, 'udp'));
  const opt = r.additionals!.find((a) => a.type === 'OPT') as { udpPayloadSize: number; flag_do: boolean };
  assert.equal(opt.udpPayloadSize, MAX_UDP_PAYLOAD);
  assert.equal(opt.flag_do, true);
  assert.equal(decodeResponse(handler.handle(query('reviews.default'), 'udp')).additionals!.length, 0);
});

test('truncation over UDP: 512 bytes without EDNS0, the advertised size with it, none over TCP', () => {
  const { handler } = handlerFor(100);
  const name = 'reviews.default.svc.cluster.local';
  const full = decodeResponse(handler.handle(query(name, 'SRV'), 'tcp'));
  assert.ok(!full.flag_tc);
  assert.equal(full.answers!.length, 100);
  assert.equal(full.additionals!.length, 100);

  const plain = handler.handle(query(name, 'SRV'), 'udp')!;
  assert.ok(plain.length <= 512, `${plain.length} bytes`);
  const p = decodeResponse(plain);
  assert.ok(p.flag_tc);
  assert.ok(p.answers!.length > 0 && p.answers!.length < 100);
  assert.equal(p.additionals!.length, 0);

  const edns = handler.handle(query(name, 'SRV', { udpPayloadSize: 1000 }), 'udp')!;
  assert.ok(edns.length <= 1000 && edns.length > 512, `${edns.length} bytes`);
  const e = decodeResponse(edns);
  assert.ok(e.flag_tc);
  assert.ok(e.answers!.length > p.answers!.length);
  assert.deepEqual(e.additionals!.map((a) => a.type), ['OPT']); // OPT survives truncation
  // A payload size below 512 counts as 512 (RFC 6891 §6.2.3); above weft's own, as weft's.
  assert.ok(handler.handle(query(name, 'SRV', { udpPayloadSize: 100 }), 'udp')!.length > 400);
  assert.ok(handler.handle(query(name, 'SRV', { udpPayloadSize: 65000 }), 'udp')!.length <= MAX_UDP_PAYLOAD);

  // Glue alone not fitting does not set TC (RFC 2181 §9): 3 SRV records fit, their 3 A records do not.
  const three = handlerFor(3).handler;
  const g = decodeResponse(three.handle(query(name, 'SRV'), 'udp'));
  assert.equal(g.answers!.length, 3);
  assert.equal(g.additionals!.length, 0);
  assert.ok(!g.flag_tc);
});

test('fuzz: thousands of random and mutated messages never throw; every response is a well-formed reply within the size limit', () => {
  const { handler } = handlerFor(20);
  const seeds = [
    query('reviews.default.svc.cluster.local', 'SRV', { udpPayloadSize: 1232 }),
    query('reviews.default', 'A'),
    query('v1.reviews.service.consul', 'AAAA'),
    dnsPacket.encode({ type: 'query', id: 3, questions: [{ name: 'a.default', type: 'A' }, { name: 'b.default', type: 'SRV' }] }),
  ];
  const check = (msg: Buffer): void => {
    for (const transport of ['udp', 'tcp'] as const) {
      const out = handler.handle(msg, transport);
      if (!out) continue;
      if (transport === 'udp') assert.ok(out.length <= MAX_UDP_PAYLOAD);
      const r = dnsPacket.decode(out);
      assert.ok(r.flag_qr);
      assert.equal(r.id, msg.readUInt16BE(0));
    }
  };
  let answered = 0;
  const runs = { seed: 20261130, numRuns: 2500 };
  fc.assert(fc.property(fc.uint8Array({ minLength: 0, maxLength: 700 }), (bytes) => check(Buffer.from(bytes))), runs);
  fc.assert(
    fc.property(fc.constantFrom(...seeds), fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 6 }), (seed, edits) => {
      const msg = Buffer.from(seed);
      for (const [at, value] of edits) msg[at % msg.length] = value;
      if (handler.handle(msg, 'udp')) answered++;
      check(msg);
    }),
    runs,
  );
  // The mutations keep enough structure to reach the answer code, not only the header checks.
  assert.ok(answered > 1000, `${answered} of 2500 mutated messages answered`);
});
