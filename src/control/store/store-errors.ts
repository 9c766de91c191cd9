// What the API answers when the store, not the request, failed: the etcd client's errors for an
// etcd that cannot be reached or has no quorum become 503 WEFT_ERR_STORE_UNAVAILABLE (retry later)
// rather than 500 "internal error" (api/http-util.ts sendError asks here).

import { WeftError, errorMessage } from '../../lib/errors.ts';

export const STORE_UNAVAILABLE = 'WEFT_ERR_STORE_UNAVAILABLE';

/**
 * The etcd3 client's errors that mean "etcd is not answering now": gRPC UNAVAILABLE (no connection,
 * or no leader), DEADLINE_EXCEEDED (a call outlived its deadline), and cockatiel's broken circuit
 * (the client stops dialing a member after repeated failures). Matched by constructor name so that
 * the API need not load etcd3, which only `--store etcd://…` loads (store/open-store.ts).
 */
const UNAVAILABLE_ERRORS: ReadonlySet<string> = new Set(['GRPCUnavailableError', 'GRPCDeadlineExceededError', 'BrokenCircuitError']);

/**
 * `err` as 503 WEFT_ERR_STORE_UNAVAILABLE when it is the store's client saying etcd does not answer
 * (the message keeps the client's own words); undefined for any other error.
 */
export function storeUnavailable(err: unknown): WeftError | undefined {
  if (!(err instanceof Error) || !UNAVAILABLE_ERRORS.has(err.constructor.name)) return undefined;
  return new WeftError(STORE_UNAVAILABLE, `the store (etcd) is not answering: ${errorMessage(err)}; retry once etcd has a quorum again (a write that timed out may have been applied: read before retrying a conditional one)`, 503);
}
