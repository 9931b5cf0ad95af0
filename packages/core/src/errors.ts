/**
 * Error model shared by every e2ee-kit package.
 *
 * - Programmer misuse (wrong type, wrong length) throws the built-in `TypeError` / `RangeError`.
 * - Protocol and data failures throw `E2eeError` (or a subclass) with a stable string `code`.
 *
 * Messages are fixed, human-readable strings: they never carry key bytes, plaintext or identity keys,
 * and `cause` is only ever another error of ours or a store's own error.
 */

/** Stable codes used by core. Feature packages add their own codes (strings are open-ended). */
export const ErrorCode = {
  Decode: 'DECODE',
  Verification: 'VERIFICATION',
  InvalidSignature: 'INVALID_SIGNATURE',
  InvalidMac: 'INVALID_MAC',
  AeadTagMismatch: 'AEAD_TAG_MISMATCH',
  BadPadding: 'BAD_PADDING',
  InvalidKey: 'INVALID_KEY',
  InvalidKeyAgreement: 'INVALID_KEY_AGREEMENT',
  UntrustedIdentity: 'UNTRUSTED_IDENTITY',
  SessionNotFound: 'SESSION_NOT_FOUND',
  DuplicateMessage: 'DUPLICATE_MESSAGE',
  MessageGap: 'MESSAGE_GAP',
  Store: 'STORE',
  LockedOut: 'LOCKED_OUT',
  WrongPassword: 'WRONG_PASSWORD',
  Unsupported: 'UNSUPPORTED',
} as const;

export type CoreErrorCode = (typeof ErrorCode)[keyof typeof ErrorCode];

export interface E2eeErrorOptions {
  /** Another error that led to this one. Must not be (or contain) secret material. */
  cause?: unknown;
}

export class E2eeError extends Error {
  /** Stable machine-readable code, e.g. `DECODE`. Never changes meaning across releases. */
  readonly code: string;

  constructor(code: string, message: string, options?: E2eeErrorOptions) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.name = new.target.name;
  }

  /** True if `err` is an `E2eeError` (from any copy of this package) and, when given, has `code`. */
  static is(err: unknown, code?: string): err is E2eeError {
    if (err === null || typeof err !== 'object') return false;
    const isOurs = err instanceof E2eeError || (err as { [E2EE_BRAND]?: unknown })[E2EE_BRAND] === true;
    if (!isOurs) return false;
    return code === undefined || (err as E2eeError).code === code;
  }

  override toString(): string {
    return `${this.name} [${this.code}]: ${this.message}`;
  }
}

/** Brand so `E2eeError.is` recognises errors from a second copy of the package (dual ESM/CJS load). */
const E2EE_BRAND = Symbol.for('@e2ee-kit/core/E2eeError');
Object.defineProperty(E2eeError.prototype, E2EE_BRAND, { value: true });

/** Malformed bytes: truncated, oversized, wrong tag, wrong version. */
export class DecodeError extends E2eeError {
  constructor(message: string, options?: E2eeErrorOptions & { code?: string }) {
    super(options?.code ?? ErrorCode.Decode, message, options);
  }
}

/** A signature, MAC or AEAD tag did not verify. */
export class VerificationError extends E2eeError {
  constructor(message: string, options?: E2eeErrorOptions & { code?: string }) {
    super(options?.code ?? ErrorCode.Verification, message, options);
  }
}

/** A key that is structurally valid bytes but unusable (wrong type byte, low order, all-zero DH). */
export class InvalidKeyError extends E2eeError {
  constructor(message: string, options?: E2eeErrorOptions & { code?: string }) {
    super(options?.code ?? ErrorCode.InvalidKey, message, options);
  }
}

/** A peer's identity key is not trusted by the identity store. Carries the address, never the key. */
export class UntrustedIdentityError extends E2eeError {
  readonly address: { readonly name: string; readonly deviceId: number };
  constructor(address: { name: string; deviceId: number }, options?: E2eeErrorOptions) {
    super(ErrorCode.UntrustedIdentity, `untrusted identity for ${address.name}.${address.deviceId}`, options);
    this.address = { name: address.name, deviceId: address.deviceId };
  }
}

export class SessionNotFoundError extends E2eeError {
  readonly address: { readonly name: string; readonly deviceId: number };
  constructor(address: { name: string; deviceId: number }, options?: E2eeErrorOptions) {
    super(ErrorCode.SessionNotFound, `no session for ${address.name}.${address.deviceId}`, options);
    this.address = { name: address.name, deviceId: address.deviceId };
  }
}

/** A message that was already decrypted (its key is gone). Nothing was changed. */
export class DuplicateMessageError extends E2eeError {
  constructor(message = 'message already received', options?: E2eeErrorOptions) {
    super(ErrorCode.DuplicateMessage, message, options);
  }
}

/** A counter or iteration too far ahead of the chain: refused without deriving the skipped keys. */
export class MessageGapError extends E2eeError {
  constructor(message = 'message too far in the future', options?: E2eeErrorOptions) {
    super(ErrorCode.MessageGap, message, options);
  }
}

/** A store call failed. `cause` is the store's own error. Stored state is unchanged by us. */
export class StoreError extends E2eeError {
  constructor(message: string, options?: E2eeErrorOptions) {
    super(ErrorCode.Store, message, options);
  }
}

/** Too many failed attempts; retry after `until`. */
export class LockedOutError extends E2eeError {
  readonly until: Date;
  constructor(until: Date, options?: E2eeErrorOptions) {
    super(ErrorCode.LockedOut, `locked out until ${until.toISOString()}`, options);
    this.until = until;
  }
}

export class WrongPasswordError extends E2eeError {
  constructor(message = 'wrong password or key', options?: E2eeErrorOptions) {
    super(ErrorCode.WrongPassword, message, options);
  }
}

/** The runtime lacks something this call needs (e.g. WebAssembly for a provider). */
export class UnsupportedError extends E2eeError {
  constructor(message: string, options?: E2eeErrorOptions) {
    super(ErrorCode.Unsupported, message, options);
  }
}
