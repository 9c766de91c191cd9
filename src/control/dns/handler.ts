// DNS interface of the control plane: one query message in, one response message out (or none),
// the same for UDP and TCP. Decodes and encodes with dns-packet; checks the header rules (RFC 1035,
// 6891 EDNS0), asks answers.ts for the records and fits the response to the transport (truncation).

import dnsPacket, { type Answer, type DecodedPacket, type OptAnswer, type Packet, type Question } from 'dns-packet';
import { buildAnswer } from './answers.ts';
import type { DnsCatalogView } from './catalog-view.ts';

/** Queries longer than this are answered FORMERR: a real query is a question and an OPT record. */
export const MAX_QUERY_BYTES = 4096;
/**
 * The largest UDP response weft sends and the payload size its OPT record advertises: 1232 bytes,
 * DNS Flag Day 2020's size that avoids IP fragmentation. Without EDNS0 the limit is 512 (RFC 1035 §4.2.1).
 */
export const MAX_UDP_PAYLOAD = 1232;
/** A TCP message is framed by a 16-bit length (RFC 1035 §4.2.2, RFC 7766 §8). */
export const MAX_TCP_MESSAGE = 65535;

/** RCODEs as the metrics label them; BADVERS is the extended RCODE 16 (RFC 6891 §6.1.3). */
export type Rcode = 'NOERROR' | 'FORMERR' | 'SERVFAIL' | 'NXDOMAIN' | 'NOTIMP' | 'REFUSED' | 'BADVERS';
const RCODE_VALUES: Readonly<Record<Rcode, number>> = { NOERROR: 0, FORMERR: 1, SERVFAIL: 2, NXDOMAIN: 3, NOTIMP: 4, REFUSED: 5, BADVERS: 16 };

/** Question types with a metrics label of their own; the rest count as `other` (bounded labels). */
const TYPE_LABELS = new Set(['A', 'AAAA', 'SRV', 'SOA', 'NS', 'ANY', 'PTR', 'TXT', 'CNAME', 'MX']);

export interface DnsHandlerOptions {
  readonly view: DnsCatalogView;
  /** TTL of answers and of negative caching (SOA minimum), seconds. */
  readonly ttlSeconds: number;
  /**
   * Called once per response sent: `type` is the question type (`A` … or `other`; `none` when
   * the message had no readable question), `rcode` the response code.
   */
  readonly onResponse?: (type: string, rcode: Rcode) => void;
  /** Called when building an answer threw (a bug): the client got SERVFAIL. */
  readonly onError?: (err: unknown) => void;
}

/** The transport a message came over: decides the response size limit. */
export type DnsTransport = 'udp' | 'tcp';

/**
 * Answers DNS query messages. `handle` never throws: a message it cannot read gets FORMERR if its
 * header (12 bytes) is there, and no response otherwise; a message that is itself a response gets
 * none (so two servers cannot bounce errors at each other).
 */
export class DnsHandler {
  readonly #options: DnsHandlerOptions;
  #rotation = 0;

  constructor(options: DnsHandlerOptions) {
    this.#options = options;
  }

  /** The response to `message` as wire bytes, or undefined when nothing should be sent. */
  handle(message: Buffer, transport: DnsTransport): Buffer | undefined {
    // The 12-byte header is needed to say anything at all: its ID ties a response to the query.
    if (message.length < 12) return undefined;
    // Read from the raw header, before decoding: these hold whatever the body is.
    if (isResponse(message)) return undefined;
    if (headerOpcode(message) !== 0) return this.#error(message, 'NOTIMP'); // IQUERY, STATUS, NOTIFY, UPDATE …
    if (message.length > MAX_QUERY_BYTES) return this.#error(message, 'FORMERR');
    let query: DecodedPacket;
    try {
      query = dnsPacket.decode(message);
    } catch {
      return this.#error(message, 'FORMERR');
    }
    const questions = query.questions ?? [];
    // RFC 9619: a query has exactly one question.
    if (questions.length !== 1) return this.#error(message, 'FORMERR', questions[0]?.type);
    const question = questions[0];
    // dns-packet hands names over as dotted text; one it cannot write back the same (empty labels,
    // bytes that are not printable ASCII) would corrupt the echoed question.
    if (!isPlainName(question.name)) return this.#error(message, 'FORMERR', question.type);
    const opts = (query.additionals ?? []).filter((a): a is OptAnswer => a.type === 'OPT');
    if (opts.length > 1) return this.#error(message, 'FORMERR', question.type); // RFC 6891 §6.1.1
    const opt = opts[0];
    const response: Packet = { id: query.id, type: 'response', questions: [question], answers: [], authorities: [], additionals: [] };
    let flags = query.flag_rd ? dnsPacket.RECURSION_DESIRED : 0;
    let rcode: Rcode;
    if (opt && opt.ednsVersion > 0) {
      rcode = 'BADVERS';
    } else if (question.class !== 'IN' && question.class !== 'ANY') {
      rcode = 'REFUSED';
    } else if (question.type === 'AXFR' || question.type === 'IXFR') {
      rcode = 'REFUSED'; // no zone transfers: the zones are the live catalog
    } else {
      try {
        const built = buildAnswer(question.name, question.type, this.#options.view, { ttlSeconds: this.#options.ttlSeconds, rotation: this.#rotation++ });
        rcode = built.rcode;
        if (built.authoritative) flags |= dnsPacket.AUTHORITATIVE_ANSWER;
        response.answers = built.answers;
        response.authorities = built.authorities;
        response.additionals = built.additionals;
      } catch (err) {
        this.#options.onError?.(err);
        rcode = 'SERVFAIL';
      }
    }
    const code = RCODE_VALUES[rcode];
    if (opt) {
      // RFC 6891 §6.1.1: a query with OPT gets OPT back; the upper 8 bits of a 12-bit RCODE live in it.
      response.additionals!.push({
        name: '.',
        type: 'OPT',
        udpPayloadSize: MAX_UDP_PAYLOAD,
        extendedRcode: code >> 4,
        ednsVersion: 0,
        // RFC 3225 §3: the DO bit is copied from the query.
        flags: opt.flags & dnsPacket.DNSSEC_OK,
        flag_do: opt.flag_do,
        options: [],
      });
    }
    const limit = transport === 'tcp' ? MAX_TCP_MESSAGE : opt ? Math.min(Math.max(opt.udpPayloadSize, 512), MAX_UDP_PAYLOAD) : 512;
    let wire: Buffer;
    try {
      if (fitResponse(response, limit)) flags |= dnsPacket.TRUNCATED_RESPONSE;
      response.flags = flags | (code & 0xf);
      wire = dnsPacket.encode(response);
    } catch (err) {
      // A question name dns-packet decoded but cannot encode back (odd bytes in labels).
      this.#options.onError?.(err);
      return this.#error(message, 'FORMERR', question.type);
    }
    this.#options.onResponse?.(typeLabel(question.type), rcode);
    return wire;
  }

  /** A bare error response: the query's ID, opcode and RD bit, the RCODE, no sections. */
  #error(message: Buffer, rcode: Rcode, qtype?: string): Buffer {
    // Read from the raw header: the message may not decode at all.
    const id = message.readUInt16BE(0);
    const opcodeAndRd = message.readUInt16BE(2) & 0x7900;
    this.#options.onResponse?.(qtype === undefined ? 'none' : typeLabel(qtype), rcode);
    return dnsPacket.encode({ id, type: 'response', flags: opcodeAndRd | RCODE_VALUES[rcode], questions: [], answers: [], authorities: [], additionals: [] });
  }
}

/**
 * True for a name dns-packet encodes back to the bytes it decoded: labels of 1–63 printable ASCII
 * characters, 253 in all (RFC 1035 §2.3.4), or the root `.`.
 */
function isPlainName(name: string): boolean {
  if (name === '.') return true;
  if (name.length > 253 || !/^[\x21-\x7e]+$/.test(name)) return false;
  for (const label of name.split('.')) if (label.length === 0 || label.length > 63) return false;
  return true;
}

/** The QR bit (RFC 1035 §4.1.1). */
function isResponse(message: Buffer): boolean {
  return (message[2] & 0x80) !== 0;
}

/** The 4-bit OPCODE (RFC 1035 §4.1.1): 0 is a standard query. */
function headerOpcode(message: Buffer): number {
  return (message[2] >> 3) & 0xf;
}

function typeLabel(qtype: string): string {
  return TYPE_LABELS.has(qtype) ? qtype : 'other';
}

/**
 * Fits a response into `limit` bytes, in place; returns true when answer records had to go (the
 * caller sets TC, RFC 1035 §4.1.1, RFC 2181 §9). Additional records other than OPT go first and
 * silently: they are optional, and RFC 2181 §9 says their absence alone does not set TC. Then as
 * many whole answer records as fit are kept, so a client that ignores TC still gets some
 * (CoreDNS does the same); one that honours it retries over TCP (RFC 7766).
 */
export function fitResponse(response: Packet, limit: number): boolean {
  if (dnsPacket.encodingLength(response) <= limit) return false;
  response.additionals = (response.additionals ?? []).filter((a) => a.type === 'OPT');
  if (dnsPacket.encodingLength(response) <= limit) return false;
  const answers = response.answers ?? [];
  // The largest prefix of the answers that fits: binary search, since the encoded size grows with it.
  let lo = 0;
  let hi = answers.length;
  while (lo < hi) {
    const mid = Math.ceil((lo + hi) / 2);
    response.answers = answers.slice(0, mid);
    if (dnsPacket.encodingLength(response) <= limit) lo = mid;
    else hi = mid - 1;
  }
  response.answers = answers.slice(0, lo);
  if (dnsPacket.encodingLength(response) > limit) response.authorities = [];
  return true;
}

export type { Answer, Question };
