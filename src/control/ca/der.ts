// The CA's byte layer: a minimal DER (ASN.1 Distinguished Encoding Rules) encoder, and a reader
// just deep enough to find fields in a certificate. x509.ts builds certificates from these pieces;
// Node's crypto can sign and parse certificates but cannot create them.

/** Universal tag numbers used here (X.680). */
const TAG = {
  BOOLEAN: 0x01,
  INTEGER: 0x02,
  BIT_STRING: 0x03,
  OCTET_STRING: 0x04,
  NULL: 0x05,
  OID: 0x06,
  UTF8_STRING: 0x0c,
  PRINTABLE_STRING: 0x13,
  IA5_STRING: 0x16,
  UTC_TIME: 0x17,
  GENERALIZED_TIME: 0x18,
  SEQUENCE: 0x30,
  SET: 0x31,
} as const;

const CONSTRUCTED = 0x20;
const CONTEXT = 0x80;

/** Definite length: short form below 128, else 0x80|n followed by n big-endian bytes, minimal. */
export function encodeLength(length: number): Buffer {
  if (!Number.isSafeInteger(length) || length < 0) throw new RangeError(`DER length must be a non-negative integer, got ${length}`);
  if (length < 0x80) return Buffer.from([length]);
  const bytes: number[] = [];
  for (let n = length; n > 0; n = Math.floor(n / 256)) bytes.unshift(n % 256);
  return Buffer.from([0x80 | bytes.length, ...bytes]);
}

/** One TLV with a single-byte identifier (tag numbers up to 30 are all this CA needs). */
export function tlv(identifier: number, content: Buffer): Buffer {
  return Buffer.concat([Buffer.from([identifier]), encodeLength(content.length), content]);
}

export function sequence(...items: Buffer[]): Buffer {
  return tlv(TAG.SEQUENCE, Buffer.concat(items));
}

/** SET OF: DER orders the elements by their encodings, so the same set always has the same bytes. */
export function set(...items: Buffer[]): Buffer {
  return tlv(TAG.SET, Buffer.concat([...items].sort(Buffer.compare)));
}

/**
 * INTEGER, two's complement, minimal. A Buffer is read as an unsigned big-endian magnitude (how
 * serial numbers and key material arrive), so a leading 0x00 is added when its top bit is set.
 */
export function integer(value: Buffer | bigint | number): Buffer {
  if (Buffer.isBuffer(value)) {
    let start = 0;
    while (start < value.length - 1 && value[start] === 0) start++;
    let bytes = value.length === 0 ? Buffer.from([0]) : value.subarray(start);
    if (bytes[0]! & 0x80) bytes = Buffer.concat([Buffer.from([0]), bytes]);
    return tlv(TAG.INTEGER, bytes);
  }
  if (typeof value === 'number' && !Number.isSafeInteger(value)) throw new RangeError(`DER INTEGER needs a safe integer, got ${value}`);
  let v = BigInt(value);
  const bytes: number[] = [];
  // Emit low bytes until what is left is pure sign extension of the byte already emitted.
  for (;;) {
    const byte = Number(v & 0xffn);
    bytes.unshift(byte);
    v >>= 8n;
    if ((v === 0n && !(byte & 0x80)) || (v === -1n && byte & 0x80)) break;
  }
  return tlv(TAG.INTEGER, Buffer.from(bytes));
}

export function boolean(value: boolean): Buffer {
  return tlv(TAG.BOOLEAN, Buffer.from([value ? 0xff : 0x00]));
}

export function nullValue(): Buffer {
  return tlv(TAG.NULL, Buffer.alloc(0));
}

/** OBJECT IDENTIFIER from dotted form (`1.2.840.10045.4.3.2`); arcs in base 128, high bit = more. */
export function oid(dotted: string): Buffer {
  if (!/^[0-2](\.(0|[1-9][0-9]*))+$/.test(dotted)) throw new RangeError(`not an OID: ${JSON.stringify(dotted)}`);
  const arcs = dotted.split('.').map((a) => BigInt(a));
  if (arcs[0]! < 2n && arcs[1]! > 39n) throw new RangeError(`OID second arc must be below 40 under ${arcs[0]}: ${dotted}`);
  const out: number[] = [];
  const push = (arc: bigint): void => {
    const chunk: number[] = [Number(arc & 0x7fn)];
    for (let v = arc >> 7n; v > 0n; v >>= 7n) chunk.unshift(Number(v & 0x7fn) | 0x80);
    out.push(...chunk);
  };
  push(arcs[0]! * 40n + arcs[1]!);
  for (const arc of arcs.slice(2)) push(arc);
  return tlv(TAG.OID, Buffer.from(out));
}

/** BIT STRING: first content byte says how many bits of the last byte are padding. */
export function bitString(bytes: Buffer, unusedBits = 0): Buffer {
  if (!Number.isInteger(unusedBits) || unusedBits < 0 || unusedBits > 7 || (bytes.length === 0 && unusedBits !== 0)) {
    throw new RangeError(`BIT STRING unused bits must be 0..7 (0 when empty), got ${unusedBits}`);
  }
  return tlv(TAG.BIT_STRING, Buffer.concat([Buffer.from([unusedBits]), bytes]));
}

/**
 * A named-bit BIT STRING (keyUsage): bit 0 is the most significant bit of the first byte, and DER
 * drops trailing zero bits, so `[0, 2]` is `03 02 05 a0`.
 */
export function namedBits(bits: readonly number[]): Buffer {
  if (bits.length === 0) return bitString(Buffer.alloc(0));
  const highest = Math.max(...bits);
  const bytes = Buffer.alloc(Math.floor(highest / 8) + 1);
  for (const bit of bits) {
    if (!Number.isInteger(bit) || bit < 0) throw new RangeError(`named bit must be a non-negative integer, got ${bit}`);
    bytes[bit >> 3]! |= 0x80 >> (bit & 7);
  }
  return bitString(bytes, 7 - (highest & 7));
}

export function octetString(bytes: Buffer): Buffer {
  return tlv(TAG.OCTET_STRING, bytes);
}

export function utf8String(text: string): Buffer {
  return tlv(TAG.UTF8_STRING, Buffer.from(text, 'utf8'));
}

export function printableString(text: string): Buffer {
  if (!/^[A-Za-z0-9 '()+,\-./:=?]*$/.test(text)) throw new RangeError(`not a PrintableString: ${JSON.stringify(text)}`);
  return tlv(TAG.PRINTABLE_STRING, Buffer.from(text, 'latin1'));
}

export function ia5String(text: string): Buffer {
  if (!/^[\x00-\x7f]*$/.test(text)) throw new RangeError(`IA5String takes ASCII only: ${JSON.stringify(text)}`);
  return tlv(TAG.IA5_STRING, Buffer.from(text, 'latin1'));
}

function timeDigits(date: Date): { year: number; rest: string } {
  if (Number.isNaN(date.getTime())) throw new RangeError('invalid date');
  const two = (n: number): string => String(n).padStart(2, '0');
  const rest = `${two(date.getUTCMonth() + 1)}${two(date.getUTCDate())}${two(date.getUTCHours())}${two(date.getUTCMinutes())}${two(date.getUTCSeconds())}Z`;
  return { year: date.getUTCFullYear(), rest };
}

/** UTCTime `YYMMDDHHMMSSZ`, years 1950–2049 only (RFC 5280 4.1.2.5.1). Milliseconds are dropped. */
export function utcTime(date: Date): Buffer {
  const { year, rest } = timeDigits(date);
  if (year < 1950 || year > 2049) throw new RangeError(`UTCTime covers 1950..2049, got ${year}`);
  return tlv(TAG.UTC_TIME, Buffer.from(`${String(year % 100).padStart(2, '0')}${rest}`, 'latin1'));
}

/** GeneralizedTime `YYYYMMDDHHMMSSZ`, no fractions (RFC 5280 4.1.2.5.2). */
export function generalizedTime(date: Date): Buffer {
  const { year, rest } = timeDigits(date);
  if (year < 0 || year > 9999) throw new RangeError(`GeneralizedTime covers 0..9999, got ${year}`);
  return tlv(TAG.GENERALIZED_TIME, Buffer.from(`${String(year).padStart(4, '0')}${rest}`, 'latin1'));
}

/** X.509 Time: UTCTime through 2049, GeneralizedTime from 2050 on, as RFC 5280 requires. */
export function x509Time(date: Date): Buffer {
  const year = date.getUTCFullYear();
  return year >= 1950 && year < 2050 ? utcTime(date) : generalizedTime(date);
}

/** `[n] EXPLICIT`: a constructed context tag wrapping the whole inner encoding. */
export function explicit(tagNumber: number, inner: Buffer): Buffer {
  checkTagNumber(tagNumber);
  return tlv(CONTEXT | CONSTRUCTED | tagNumber, inner);
}

/**
 * `[n] IMPLICIT`: the context tag replaces the inner tag; `content` is the inner value's content
 * octets. Constructed when the replaced type was (SEQUENCE), primitive otherwise (IA5String).
 */
export function implicit(tagNumber: number, content: Buffer, constructed = false): Buffer {
  checkTagNumber(tagNumber);
  return tlv(CONTEXT | (constructed ? CONSTRUCTED : 0) | tagNumber, content);
}

function checkTagNumber(n: number): void {
  if (!Number.isInteger(n) || n < 0 || n > 30) throw new RangeError(`context tag number must be 0..30, got ${n}`);
}

// ── reading ──────────────────────────────────────────────────────────────────────────────────

export interface Element {
  /** The identifier byte (tag class, constructed bit, tag number). */
  readonly identifier: number;
  /** Content octets. */
  readonly content: Buffer;
  /** The whole encoding, header included (what a Name is compared and copied as). */
  readonly raw: Buffer;
}

/** The element at `offset`; throws on anything this reader does not understand or that overruns. */
export function readElement(buf: Buffer, offset = 0): Element {
  const fail = (why: string): never => {
    throw new RangeError(`bad DER at offset ${offset}: ${why}`);
  };
  if (offset + 2 > buf.length) fail('truncated header');
  const identifier = buf[offset]!;
  if ((identifier & 0x1f) === 0x1f) fail('multi-byte tags are not supported');
  let pos = offset + 1;
  let length = buf[pos++]!;
  if (length & 0x80) {
    const n = length & 0x7f;
    if (n === 0 || n > 4) fail('indefinite or oversized length');
    if (pos + n > buf.length) fail('truncated length');
    length = 0;
    for (let i = 0; i < n; i++) length = length * 256 + buf[pos++]!;
  }
  if (pos + length > buf.length) fail('content overruns the buffer');
  return { identifier, content: buf.subarray(pos, pos + length), raw: buf.subarray(offset, pos + length) };
}

/** The elements inside a constructed element's content, in order. */
export function readChildren(content: Buffer): Element[] {
  const out: Element[] = [];
  for (let offset = 0; offset < content.length; ) {
    const el = readElement(content, offset);
    out.push(el);
    offset += el.raw.length;
  }
  return out;
}

/** Dotted form of an OID element's content. */
export function decodeOid(content: Buffer): string {
  const arcs: bigint[] = [];
  let v = 0n;
  for (const byte of content) {
    v = (v << 7n) | BigInt(byte & 0x7f);
    if (!(byte & 0x80)) {
      arcs.push(v);
      v = 0n;
    }
  }
  if (arcs.length === 0) return '';
  const first = arcs[0]! < 80n ? arcs[0]! / 40n : 2n;
  return [first, arcs[0]! - first * 40n, ...arcs.slice(1)].join('.');
}

export const DER_TAGS = TAG;
