// How callers authenticate to the control plane's API, shared by both sides: bearer tokens (admin
// and join tokens), and a proxy's proof of possession of its certificate's key — a short-lived JWS
// (RFC 7515) carrying the certificate chain (`x5c`) and the request, after the manner of DPoP (RFC 9449).

/** `Authorization: Weft-Proof <compact JWS>`. */
export const PROOF_SCHEME = 'Weft-Proof';
/** The JWS `typ` header of a proof, so that no other JWT can be passed off as one. */
export const PROOF_TYPE = 'weft-proof+jwt';
/** A proof is accepted this long after (and before, for clock skew) its `iat`, seconds. */
export const PROOF_MAX_AGE_SECONDS = 60;
/** A proof larger than this (a chain of three P-256 or RSA certificates fits well; Node refuses heads over 16 KiB anyway) is refused unread, bytes. */
export const MAX_PROOF_BYTES = 12 * 1024;
/** Environment variable read by `weft proxy` and `weft run` for `--join-token`. */
export const JOIN_TOKEN_ENV = 'WEFT_JOIN_TOKEN';

/** The JWS payload of a proof (names as in DPoP, RFC 9449 §4.2). */
export interface ProofClaims {
  /** The request's method. */
  readonly htm: string;
  /** The request's target: path and query, as sent (`/v1/catalog/instances`). */
  readonly htu: string;
  /** Issued at, epoch seconds. */
  readonly iat: number;
  /** Unique per proof; a proof seen twice is refused. */
  readonly jti: string;
}
