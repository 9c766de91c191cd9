// The hash of consistent hashing: MurmurHash3 x86_32 (Austin Appleby's public-domain reference,
// SMHasher) over a string's UTF-8 bytes. Used per request for the hash key and per snapshot for
// ring points and Maglev permutations. 32 bits are plenty for rings of up to 8M points.

/** MurmurHash3_x86_32 of `s`'s UTF-8 bytes with `seed`; an unsigned 32-bit integer. */
export function murmur3(s: string, seed = 0): number {
  // ASCII strings (header values, cookies, ids) are hashed straight from their char codes; others
  // are encoded first (an allocation, on a rare path).
  for (let i = 0; i < s.length; i++) if (s.charCodeAt(i) > 0x7f) return murmur3Bytes(Buffer.from(s, 'utf8'), seed);
  return murmur3Ascii(s, seed);
}

const C1 = 0xcc9e2d51;
const C2 = 0x1b873593;

function mixK(k: number): number {
  k = Math.imul(k, C1);
  k = (k << 15) | (k >>> 17);
  return Math.imul(k, C2);
}

function mixH(h: number, k: number): number {
  h ^= mixK(k);
  h = (h << 13) | (h >>> 19);
  return (Math.imul(h, 5) + 0xe6546b64) | 0;
}

function finish(h: number, length: number): number {
  h ^= length;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

function murmur3Ascii(s: string, seed: number): number {
  const n = s.length;
  const blocks = n & ~3;
  let h = seed | 0;
  for (let i = 0; i < blocks; i += 4) {
    h = mixH(h, s.charCodeAt(i) | (s.charCodeAt(i + 1) << 8) | (s.charCodeAt(i + 2) << 16) | (s.charCodeAt(i + 3) << 24));
  }
  let k = 0;
  switch (n & 3) {
    case 3: k ^= s.charCodeAt(blocks + 2) << 16; // falls through
    case 2: k ^= s.charCodeAt(blocks + 1) << 8; // falls through
    case 1: k ^= s.charCodeAt(blocks); h ^= mixK(k);
  }
  return finish(h, n);
}

/** MurmurHash3_x86_32 of bytes. */
export function murmur3Bytes(b: Uint8Array, seed: number): number {
  const n = b.length;
  const blocks = n & ~3;
  let h = seed | 0;
  for (let i = 0; i < blocks; i += 4) h = mixH(h, b[i] | (b[i + 1] << 8) | (b[i + 2] << 16) | (b[i + 3] << 24));
  let k = 0;
  switch (n & 3) {
    case 3: k ^= b[blocks + 2] << 16; // falls through
    case 2: k ^= b[blocks + 1] << 8; // falls through
    case 1: k ^= b[blocks]; h ^= mixK(k);
  }
  return finish(h, n);
}
