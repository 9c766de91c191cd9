// Differential test of the HTTP/1.1 parser (h1-parser.ts) against Node's llhttp, driven through
// node:http with its strict defaults: generated requests and responses, valid and subtly invalid,
// fed in random reads. The generators, drivers and known differences are in test/support/h1-differential.ts;
// `npm run fuzz:h1` runs the same properties for as long as asked.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { checkRequest, checkResponse, requestCase, responseCase, type Verdict } from '../../../test/support/h1-differential.ts';

/**
 * A fixed seed by default, so `npm test` is repeatable (the campaign, `npm run fuzz:h1`, explores
 * new seeds); H1_DIFFERENTIAL_SEED picks another.
 */
const seed = Number(process.env.H1_DIFFERENTIAL_SEED ?? 20261130);

const pass = (v: Verdict): boolean => {
  if (!v.ok) throw new Error(v.why);
  return true;
};

test('requests: weft refuses what llhttp refuses, or agrees on every message and where it ends', async () => {
  await fc.assert(fc.asyncProperty(requestCase, async (c) => pass(await checkRequest(c))), { numRuns: 2500, seed });
});

test('responses: weft refuses what llhttp refuses, or agrees on status, fields, framing and body', async () => {
  await fc.assert(fc.asyncProperty(responseCase, async (c) => pass(await checkResponse(c))), { numRuns: 1500, seed });
});

/** Counterexamples the campaign found, each fixed in h1-parser.ts: both parsers must agree now. */
const FOUND: Record<string, string> = {
  'Proxy-Connection: close ends the connection': 'GET / HTTP/1.1\r\nHost: h\r\nProxy-Connection: CLOSE\r\n\r\nGET /next HTTP/1.1\r\nHost: b\r\n\r\n',
  'whitespace after a chunk size': 'POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n5 \r\nhello\r\n0\r\n\r\n',
  'whitespace before a chunk extension': 'POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n5\t;a\r\nhello\r\n0\r\n\r\nGET /next HTTP/1.1\r\nHost: b\r\n\r\n',
  'text after a chunk size': 'POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n9 IxAcAx\r\n',
  'a control byte in a chunk extension': 'POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n1;a=\x00\r\nx\r\n0\r\n\r\n',
  'a space inside a chunk extension': 'POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n5;a b\r\nhello\r\n0\r\n\r\n',
  'quoted chunk extensions still pass': 'POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n5;a="b \\"c";d=e\r\nhello\r\n0\r\n\r\n',
  'method PRI over HTTP/1.1': 'PRI / HTTP/1.1\r\nHost: h\r\n\r\nGET /next HTTP/1.1\r\nHost: b\r\n\r\n',
  'Content-Length 3 and 0003': 'POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\nContent-Length: 0003\r\n\r\nabcGET /next HTTP/1.1\r\nHost: b\r\n\r\n',
};

for (const [name, text] of Object.entries(FOUND)) {
  test(`found by the campaign: ${name}`, async () => {
    for (const cuts of [[], Array.from({ length: text.length - 1 }, (_, i) => i + 1)]) {
      const v = await checkRequest({ text, cuts });
      assert.ok(v.ok && v.known === undefined, v.ok ? `known difference ${v.known}` : v.why);
    }
  });
}

test('found by the campaign: a head split over reads, then a body bigger than the head limit in one read', async () => {
  const body = 'x'.repeat(40 * 1024);
  const request = `POST /a HTTP/1.1\r\nHost: h\r\nContent-Length: ${body.length}\r\n\r\n${body}GET /next HTTP/1.1\r\nHost: b\r\n\r\n`;
  const response = `HTTP/1.1 200 OK\r\nContent-Length: ${body.length * 2}\r\n\r\n${body}${body}`;
  for (const cut of [1, 10, 40]) {
    const v = await checkRequest({ text: request, cuts: [cut] });
    assert.ok(v.ok && v.known === undefined, v.ok ? `known difference ${v.known}` : v.why);
    // And with a response parser's larger limit, a body bigger still.
    const r = await checkResponse({ text: response, cuts: [cut], method: 'GET' });
    assert.ok(r.ok && r.known === undefined, r.ok ? `known difference ${r.known}` : r.why);
  }
});
