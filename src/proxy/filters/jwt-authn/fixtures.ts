// Test helpers for the jwt-authn tests (unit and integration): key pairs made with jose, their
// public JWKS, and tokens signed with them. Never used outside tests.

import { SignJWT, exportJWK, generateKeyPair, type JWTPayload } from 'jose';

export interface TestKey {
  readonly kid: string;
  readonly alg: string;
  readonly publicJwk: Record<string, unknown>;
  sign(claims: JWTPayload, options?: { kid?: string; alg?: string; iatOffsetS?: number }): Promise<string>;
}

export async function testKey(kid: string, alg: 'RS256' | 'ES256' | 'EdDSA' = 'ES256'): Promise<TestKey> {
  const { publicKey, privateKey } = await generateKeyPair(alg, { extractable: true, ...(alg === 'EdDSA' ? { crv: 'Ed25519' } : {}) });
  const publicJwk = { ...(await exportJWK(publicKey)), kid, alg, use: 'sig' } as Record<string, unknown>;
  return {
    kid,
    alg,
    publicJwk,
    sign: (claims, options = {}) => new SignJWT(claims).setProtectedHeader({ alg: options.alg ?? alg, kid: options.kid ?? kid, typ: 'JWT' }).sign(privateKey),
  };
}

export function jwksOf(...keys: TestKey[]): { keys: Record<string, unknown>[] } {
  return { keys: keys.map((k) => k.publicJwk) };
}

/** Seconds since the epoch, as JWT time claims are written. */
export const epochS = (ms = Date.now()): number => Math.floor(ms / 1000);
