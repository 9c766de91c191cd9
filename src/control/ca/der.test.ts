// Unit tests for the DER encoder the CA builds certificates with: known encodings from X.690 and
// RFC 5280 examples, and the reader round-tripping them.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  bitString,
  boolean,
  decodeOid,
  encodeLength,
  explicit,
  generalizedTime,
  ia5String,
  implicit,
  integer,
  namedBits,
  nullValue,
  octetString,
  oid,
  printableString,
  readChildren,
  readElement,
  sequence,
  set,
  utcTime,
  utf8String,
  x509Time,
} from './der.ts';

const hex = (b: Buffer): string => b.toString('hex');

test('lengths: short form below 128, long form minimal above', () => {
  assert.equal(hex(encodeLength(0)), '00');
  assert.equal(hex(encodeLength(127)), '7f');
  assert.equal(hex(encodeLength(128)), '8180');
  assert.equal(hex(encodeLength(255)), '81ff');
  assert.equal(hex(encodeLength(256)), '820100');
  assert.equal(hex(encodeLength(65_536)), '83010000');
  assert.throws(() => encodeLength(-1), RangeError);
  // A 200-byte OCTET STRING carries the long form.
  const long = octetString(Buffer.alloc(200, 0xab));
  assert.equal(hex(long.subarray(0, 3)), '0481c8');
  assert.equal(long.length, 203);
});

test('INTEGER from numbers and bigints: minimal two\'s complement', () => {
  assert.equal(hex(integer(0)), '020100');
  assert.equal(hex(integer(1)), '020101');
  assert.equal(hex(integer(2)), '020102');
  assert.equal(hex(integer(127)), '02017f');
  assert.equal(hex(integer(128)), '02020080');
  assert.equal(hex(integer(255)), '020200ff');
  assert.equal(hex(integer(256)), '02020100');
  assert.equal(hex(integer(-1)), '0201ff');
  assert.equal(hex(integer(-128)), '020180');
  assert.equal(hex(integer(-129)), '0202ff7f');
  assert.equal(hex(integer(2n ** 64n)), '0209010000000000000000');
  assert.throws(() => integer(1.5), RangeError);
});

test('INTEGER from a Buffer: unsigned magnitude, leading zeros stripped, 0x00 added before a high bit', () => {
  assert.equal(hex(integer(Buffer.from('7f', 'hex'))), '02017f');
  assert.equal(hex(integer(Buffer.from('80', 'hex'))), '02020080');
  assert.equal(hex(integer(Buffer.from('000080', 'hex'))), '02020080');
  assert.equal(hex(integer(Buffer.from('00007f', 'hex'))), '02017f');
  assert.equal(hex(integer(Buffer.from('0000', 'hex'))), '020100');
  assert.equal(hex(integer(Buffer.alloc(0))), '020100');
  assert.equal(hex(integer(Buffer.from('ff'.repeat(16), 'hex'))), '021100' + 'ff'.repeat(16));
});

test('OBJECT IDENTIFIER: first two arcs folded, base-128 arcs', () => {
  assert.equal(hex(oid('1.2.840.10045.4.3.2')), '06082a8648ce3d040302'); // ecdsa-with-SHA256
  assert.equal(hex(oid('1.2.840.10045.2.1')), '06072a8648ce3d0201'); // id-ecPublicKey
  assert.equal(hex(oid('2.5.29.19')), '0603551d13'); // basicConstraints
  assert.equal(hex(oid('1.3.6.1.5.5.7.3.1')), '06082b06010505070301'); // serverAuth
  assert.equal(hex(oid('2.999.3')), '0603883703'); // X.690 example: first subidentifier 1079
  assert.equal(decodeOid(oid('1.2.840.10045.4.3.2').subarray(2)), '1.2.840.10045.4.3.2');
  assert.equal(decodeOid(oid('2.999.3').subarray(2)), '2.999.3');
  assert.throws(() => oid('1'), RangeError);
  assert.throws(() => oid('1.40'), RangeError);
  assert.throws(() => oid('1.2.x'), RangeError);
});

test('BOOLEAN, NULL, strings', () => {
  assert.equal(hex(boolean(true)), '0101ff');
  assert.equal(hex(boolean(false)), '010100');
  assert.equal(hex(nullValue()), '0500');
  assert.equal(hex(utf8String('weft')), '0c0477656674');
  assert.equal(hex(utf8String('é')), '0c02c3a9');
  assert.equal(hex(printableString('US')), '13025553');
  assert.throws(() => printableString('a@b'), RangeError);
  assert.equal(hex(ia5String('spiffe://x')), '160a7370696666653a2f2f78');
  assert.throws(() => ia5String('é'), RangeError);
  assert.equal(hex(octetString(Buffer.from('0102', 'hex'))), '04020102');
});

test('BIT STRING and named bits (keyUsage)', () => {
  assert.equal(hex(bitString(Buffer.from('0a3b5f291cd0', 'hex'), 4)), '0307040a3b5f291cd0'); // X.690 8.6.4.2
  assert.equal(hex(bitString(Buffer.alloc(0))), '030100');
  assert.throws(() => bitString(Buffer.alloc(0), 1), RangeError);
  assert.equal(hex(namedBits([0, 2])), '030205a0'); // digitalSignature + keyEncipherment
  assert.equal(hex(namedBits([5, 6])), '03020106'); // keyCertSign + cRLSign
  assert.equal(hex(namedBits([0])), '03020780');
  assert.equal(hex(namedBits([8])), '0303070080'); // decipherOnly spills into a second byte
  assert.equal(hex(namedBits([])), '030100');
});

test('times: UTCTime through 2049, GeneralizedTime from 2050', () => {
  const t = new Date(Date.UTC(2024, 0, 2, 3, 4, 5, 678));
  assert.equal(utcTime(t).toString('latin1', 2), '240102030405Z');
  assert.equal(hex(utcTime(t).subarray(0, 2)), '170d');
  assert.equal(x509Time(t)[0], 0x17);
  const late = new Date(Date.UTC(2049, 11, 31, 23, 59, 59));
  assert.equal(x509Time(late)[0], 0x17);
  const y2050 = new Date(Date.UTC(2050, 0, 1, 0, 0, 0));
  assert.equal(hex(x509Time(y2050)), '180f' + Buffer.from('20500101000000Z').toString('hex'));
  assert.throws(() => utcTime(y2050), RangeError);
  assert.equal(generalizedTime(t).toString('latin1', 2), '20240102030405Z');
  assert.throws(() => utcTime(new Date(NaN)), RangeError);
});

test('SEQUENCE, SET (sorted) and context tags', () => {
  assert.equal(hex(sequence()), '3000');
  assert.equal(hex(sequence(integer(1), boolean(true))), '30060201010101ff');
  // DER sorts SET OF members by encoding.
  assert.equal(hex(set(integer(2), integer(1))), '3106020101020102');
  assert.equal(hex(explicit(0, integer(2))), 'a003020102'); // [0] EXPLICIT Version v3
  assert.equal(hex(explicit(3, sequence())), 'a3023000');
  assert.equal(hex(implicit(6, Buffer.from('a'))), '860161'); // uniformResourceIdentifier
  assert.equal(hex(implicit(0, Buffer.from('0102', 'hex'))), '80020102'); // keyIdentifier
  assert.equal(hex(implicit(1, Buffer.alloc(0), true)), 'a100');
  assert.throws(() => explicit(31, sequence()), RangeError);
});

test('the reader walks what the encoder wrote, long lengths included', () => {
  const inner = octetString(Buffer.alloc(300, 1));
  const whole = sequence(integer(5), inner, explicit(3, utf8String('x')));
  const top = readElement(whole);
  assert.equal(top.identifier, 0x30);
  assert.equal(top.raw.length, whole.length);
  const kids = readChildren(top.content);
  assert.deepEqual(kids.map((k) => k.identifier), [0x02, 0x04, 0xa3]);
  assert.equal(kids[1]!.content.length, 300);
  assert.deepEqual(kids[1]!.raw, inner);
  assert.throws(() => readElement(whole.subarray(0, whole.length - 1)), RangeError);
  assert.throws(() => readElement(Buffer.from('3080', 'hex')), RangeError); // indefinite length
});
