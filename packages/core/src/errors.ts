/**
 * Error model shared by every e2ee-kit package.
 *
 * - Programmer misuse (wrong type, wrong length) throws the built-in `TypeError` / `RangeError`.
 * - Protocol and data failures throw `E2eeError` (or a subclass) with a stable string `code`.
 *
 * Messages are fixed, human-readable strings: they never carry key bytes, plaintext or identity keys,
 * and `cause` is only ever another error of ours or a store's own error.
 *
 * Every class sets `name` to a string literal in its constructor (not `new.target.name`): bundlers
 * rename classes (`_E2eeError`), and an error must print as what it is in any build.
 */

/** Stable codes used by core. Feature packages add their own codes (see `E2eeErrorCodeMap`). */
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

/**
 * Which class an error with a given `code` is: `E2eeError.is(err, code)` narrows to
 * `E2eeErrorCodeMap[code]`. The keys are every code any loaded e2ee-kit package can throw.
 *
 * Feature packages add their codes by module augmentation:
 *
 * ```ts
 * declare module '@e2ee-kit/core' {
 *   interface E2eeErrorCodeMap extends Record<MyPackageErrorCode, E2eeError> {
 *     MY_CODE: MyError;
 *   }
 * }
 * ```
 *
 * The `Record<…, E2eeError>` base makes every new code of a package's code object join the union at
 * once (as a plain `E2eeError`); a property names the subclass where one class owns the code. A code
 * is declared by the package that owns it, once.
 */
export interface E2eeErrorCodeMap extends Record<CoreErrorCode, E2eeError> {
  DECODE: DecodeError;
  VERIFICATION: VerificationError;
  INVALID_SIGNATURE: VerificationError;
  INVALID_MAC: VerificationError;
  AEAD_TAG_MISMATCH: VerificationError;
  BAD_PADDING: VerificationError;
  /** An unknown key type byte is a `DecodeError`; a key that parses but cannot be used, an `InvalidKeyError`. */
  INVALID_KEY: DecodeError | InvalidKeyError;
  INVALID_KEY_AGREEMENT: InvalidKeyError;
  UNTRUSTED_IDENTITY: UntrustedIdentityError;
  SESSION_NOT_FOUND: SessionNotFoundError;
  DUPLICATE_MESSAGE: DuplicateMessageError;
  MESSAGE_GAP: MessageGapError;
  STORE: StoreError;
  LOCKED_OUT: LockedOutError;
  WRONG_PASSWORD: WrongPasswordError;
  UNSUPPORTED: UnsupportedError;
}

/** Every code an `E2eeError` of the loaded packages can carry: core's and each feature package's. */
export type E2eeErrorCode = keyof E2eeErrorCodeMap & string;

export interface E2eeErrorOptions {
  /** Another error that led to this one. Must not be (or contain) secret material. */
  cause?: unknown;
}

export class E2eeError extends Error {
  /** Stable machine-readable code, e.g. `DECODE`. Never changes meaning across releases. */
  readonly code: E2eeErrorCode;

  constructor(code: E2eeErrorCode, message: string, options?: E2eeErrorOptions) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.name = 'E2eeError';
  }

  /**
   * True if `err` is an `E2eeError` (from any copy of this package: the ESM and the CommonJS build
   * are recognised by a brand, not only by `instanceof`) and, when given, has `code`. With a code it
   * narrows to the class that code belongs to (`LOCKED_OUT` → `LockedOutError` with `until`).
   */
  static is(err: unknown): err is E2eeError;
  static is<C extends E2eeErrorCode>(err: unknown, code: C): err is E2eeErrorCodeMap[C];
  static is(err: unknown, code?: E2eeErrorCode): boolean {
    if (!isE2eeError(err)) return false;
    return code === undefined || err.code === code;
  }

  override toString(): string {
    return `${this.name} [${this.code}]: ${this.message}`;
  }
}

/** Brand so `E2eeError.is` recognises errors from a second copy of the package (dual ESM/CJS load). */
const E2EE_BRAND = Symbol.for('@e2ee-kit/core/E2eeError');
Object.defineProperty(E2eeError.prototype, E2EE_BRAND, { value: true });

// Outside the class on purpose: a class body that names its own class makes esbuild emit
// `var E2eeError = class _E2eeError`, and `err.constructor.name` would then be `_E2eeError`.
function isE2eeError(err: unknown): err is E2eeError {
  if (err === null || typeof err !== 'object') return false;
  return err instanceof E2eeError || (err as { [E2EE_BRAND]?: unknown })[E2EE_BRAND] === true;
}

// The classes below (and the providers) write their codes as literals, not `ErrorCode.X`: a property
// read keeps the whole `ErrorCode` table in every bundle that throws one error. The literals are
// checked against `E2eeErrorCode`, so a typo does not compile.

/** Malformed bytes: truncated, oversized, wrong tag, wrong version. */
export class DecodeError extends E2eeError {
  constructor(message: string, options?: E2eeErrorOptions & { code?: E2eeErrorCode }) {
    super(options?.code ?? 'DECODE', message, options);
    this.name = 'DecodeError';
  }
}

/** A signature, MAC or AEAD tag did not verify. */
export class VerificationError extends E2eeError {
  constructor(message: string, options?: E2eeErrorOptions & { code?: E2eeErrorCode }) {
    super(options?.code ?? 'VERIFICATION', message, options);
    this.name = 'VerificationError';
  }
}

/** A key that is structurally valid bytes but unusable (wrong type byte, low order, all-zero DH). */
export class InvalidKeyError extends E2eeError {
  constructor(message: string, options?: E2eeErrorOptions & { code?: E2eeErrorCode }) {
    super(options?.code ?? 'INVALID_KEY', message, options);
    this.name = 'InvalidKeyError';
  }
}

/** A peer's identity key is not trusted by the identity store. Carries the address, never the key. */
export class UntrustedIdentityError extends E2eeError {
  readonly address: { readonly name: string; readonly deviceId: number };
  constructor(address: { name: string; deviceId: number }, options?: E2eeErrorOptions) {
    super('UNTRUSTED_IDENTITY', `untrusted identity for ${address.name}.${address.deviceId}`, options);
    this.name = 'UntrustedIdentityError';
    this.address = { name: address.name, deviceId: address.deviceId };
  }
}

export class SessionNotFoundError extends E2eeError {
  readonly address: { readonly name: string; readonly deviceId: number };
  constructor(address: { name: string; deviceId: number }, options?: E2eeErrorOptions) {
    super('SESSION_NOT_FOUND', `no session for ${address.name}.${address.deviceId}`, options);
    this.name = 'SessionNotFoundError';
    this.address = { name: address.name, deviceId: address.deviceId };
  }
}

/** A message that was already decrypted (its key is gone). Nothing was changed. */
export class DuplicateMessageError extends E2eeError {
  constructor(message = 'message already received', options?: E2eeErrorOptions) {
    super('DUPLICATE_MESSAGE', message, options);
    this.name = 'DuplicateMessageError';
  }
}

/** A counter or iteration too far ahead of the chain: refused without deriving the skipped keys. */
export class MessageGapError extends E2eeError {
  constructor(message = 'message too far in the future', options?: E2eeErrorOptions) {
    super('MESSAGE_GAP', message, options);
    this.name = 'MessageGapError';
  }
}

/** A store call failed. `cause` is the store's own error. Stored state is unchanged by us. */
export class StoreError extends E2eeError {
  constructor(message: string, options?: E2eeErrorOptions) {
    super('STORE', message, options);
    this.name = 'StoreError';
  }
}

/** Too many failed attempts; retry after `until`. */
export class LockedOutError extends E2eeError {
  readonly until: Date;
  constructor(until: Date, options?: E2eeErrorOptions) {
    super('LOCKED_OUT', `locked out until ${until.toISOString()}`, options);
    this.name = 'LockedOutError';
    this.until = until;
  }
}

export class WrongPasswordError extends E2eeError {
  constructor(message = 'wrong password or key', options?: E2eeErrorOptions) {
    super('WRONG_PASSWORD', message, options);
    this.name = 'WrongPasswordError';
  }
}

/** The runtime lacks something this call needs (e.g. WebAssembly for a provider). */
export class UnsupportedError extends E2eeError {
  constructor(message: string, options?: E2eeErrorOptions) {
    super('UNSUPPORTED', message, options);
    this.name = 'UnsupportedError';
  }
}
