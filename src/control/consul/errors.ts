// Errors of the Consul-compatible API: Consul answers errors as plain text with a status code
// (`400 Missing service name`), not weft's JSON error shape, and its clients show that text.

import { WeftError } from '../../lib/errors.ts';

// Each helper makes a WeftError that the Consul listener answers as `status` with the message as a
// text/plain body. The code (WEFT_ERR_CONSUL_*) is for logs and tests; Consul clients see the text.

/** 400 with Consul's wording for a body its decoder refuses: `Request decode failed: ...`. */
export function decodeFailed(message: string): WeftError {
  return new WeftError('WEFT_ERR_CONSUL_DECODE', `Request decode failed: ${message}`, 400);
}

/** 400 for input Consul would accept but weft cannot honour (named, never silently dropped). */
export function unsupported(message: string): WeftError {
  return new WeftError('WEFT_ERR_CONSUL_UNSUPPORTED', message, 400);
}

export function badRequest(message: string): WeftError {
  return new WeftError('WEFT_ERR_CONSUL_INVALID', message, 400);
}

export function notFound(message: string): WeftError {
  return new WeftError('WEFT_ERR_CONSUL_NOT_FOUND', message, 404);
}
