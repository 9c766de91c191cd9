// Errors every layer shares: a stable code (WEFT_ERR_<AREA>_<WHAT>), an HTTP status and, for
// validation failures, the list of field-path problems. Tests assert on `code`, never on text.

export interface FieldError {
  /** Dotted path into the input, e.g. `spec.rules[2].matches[0].path.value`. */
  readonly path: string;
  readonly message: string;
}

export class WeftError extends Error {
  readonly code: string;
  readonly status: number;
  readonly details: readonly FieldError[];

  constructor(code: string, message: string, status = 500, details: readonly FieldError[] = []) {
    super(message);
    this.name = 'WeftError';
    this.code = code;
    this.status = status;
    this.details = details;
  }

  toJSON(): { code: string; message: string; details?: readonly FieldError[] } {
    return this.details.length > 0
      ? { code: this.code, message: this.message, details: this.details }
      : { code: this.code, message: this.message };
  }
}

export function isWeftError(err: unknown): err is WeftError {
  return err instanceof WeftError;
}

/** Shorthand for the common 400 with field errors. */
export function invalid(code: string, message: string, details: readonly FieldError[]): WeftError {
  return new WeftError(code, message, 400, details);
}

export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
