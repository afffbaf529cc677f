// One registry of weir's error classes, each with a stable `code` (undici lib/core/errors.js style).
// Control-plane code throws these; the data path never throws because of traffic: it answers the
// Envoy way and records a response flag instead.

export class WeirError extends Error {
  readonly code: string;
  constructor(message: string, code = 'WEIR_ERR') {
    super(message);
    this.name = 'WeirError';
    this.code = code;
  }
}

/** A configuration that failed validation. `errors` are path-prefixed ("virtual_hosts[0].domains: ..."). */
export class ConfigError extends WeirError {
  readonly errors: readonly string[];
  readonly source: string | undefined;
  constructor(errors: readonly string[], source?: string) {
    super(
      (source ? `${source}: ` : '') +
        (errors.length === 1 ? errors[0] : `${errors.length} errors:\n  ` + errors.join('\n  ')),
      'WEIR_ERR_CONFIG',
    );
    this.name = 'ConfigError';
    this.errors = errors;
    this.source = source;
  }
}

/** Bad command-line usage: unknown flag, missing value. */
export class UsageError extends WeirError {
  constructor(message: string) {
    super(message, 'WEIR_ERR_USAGE');
    this.name = 'UsageError';
  }
}

/** A regex pattern RE2 rejects (back-references, look-around, bad syntax). */
export class RegexError extends WeirError {
  constructor(message: string) {
    super(message, 'WEIR_ERR_REGEX');
    this.name = 'RegexError';
  }
}

/** The xDS client's protocol errors (bad type URL, undecodable resource). */
export class XdsError extends WeirError {
  constructor(message: string) {
    super(message, 'WEIR_ERR_XDS');
    this.name = 'XdsError';
  }
}

export const ERROR_CODES = Object.freeze({
  WeirError: 'WEIR_ERR',
  ConfigError: 'WEIR_ERR_CONFIG',
  UsageError: 'WEIR_ERR_USAGE',
  RegexError: 'WEIR_ERR_REGEX',
  XdsError: 'WEIR_ERR_XDS',
} as const);
