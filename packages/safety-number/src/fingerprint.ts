/**
 * libsignal's `Fingerprint` (versions 1 and 2): per party,
 *
 *   h = SHA-512(0x00 0x00 ‖ key33 ‖ identifier ‖ key33);  repeat (iterations − 1) times: h = SHA-512(h ‖ key33)
 *
 * 30 digits from h[0..30] per party, the smaller half first (so both sides show the same 60 digits),
 * and the scannable payload from h[0..32] of each side.
 */
import {
  assertBytes,
  type CryptoProvider,
  constantTimeEqual,
  copyBytes,
  DecodeError,
  defaultSha512IterateSync,
  type PublicKey,
} from '@e2ee-kit/core';
import {
  digitsOfHash,
  type FormatOptions,
  formatSafetyNumber,
  parseSafetyNumber,
  safetyNumberGroups,
} from './display.js';
import {
  assertVersion,
  type CompareResult,
  INSPECT,
  MATCH,
  MISMATCH,
  malformed,
  SCANNABLE_FINGERPRINT_LENGTH,
  ScannableFingerprint,
} from './scannable.js';

/** Iterations Signal's apps use (Java docs: > 112 bits of work against a targeted collision). */
export const DEFAULT_ITERATIONS = 5200;
/** libsignal refuses fewer (`Invalid fingerprint iterations 1`). */
export const MIN_ITERATIONS = 2;
/** libsignal refuses more (`Invalid fingerprint iterations 1000001`). */
export const MAX_ITERATIONS = 1_000_000;

/**
 * The version written into the scannable payload. It does not change the 60 digits. By Signal
 * convention, version 1 hashes the E.164 phone number (UTF-8) and version 2 the 16-byte ACI.
 */
export const FingerprintVersion = { PhoneNumber: 1, ServiceId: 2 } as const;

const SHA512_LENGTH = 64;
// libsignal's serialized Curve25519 public key: type byte 0x05 ‖ 32-byte u. Local copies of core's
// DJB_TYPE / PUBLIC_KEY_LENGTH: importing those would bundle core's key classes into the digits path.
const PUBLIC_KEY_LENGTH = 33;
const DJB_TYPE = 0x05;

/** An identity public key: a core `PublicKey` or its 33-byte serialization (`0x05 ‖ u`). */
export type IdentityKeyInput = PublicKey | Uint8Array;

export interface SafetyNumberParty {
  /** Stable identifier bytes: see `aciIdentifier` (version 2) and `e164Identifier` (version 1). */
  readonly identifier: Uint8Array;
  readonly identityKey: IdentityKeyInput;
}

export interface SafetyNumberOptions {
  /** This device's account. */
  readonly local: SafetyNumberParty;
  /** The contact whose identity is being verified. */
  readonly remote: SafetyNumberParty;
  /** Scannable payload version (any uint32; Signal uses 2). Default 2. */
  readonly version?: number;
  /** SHA-512 rounds per party, 2–1 000 000. Default 5200, as Signal. */
  readonly iterations?: number;
  readonly provider?: CryptoProvider;
}

/**
 * The 33 bytes libsignal hashes, checked as `PublicKey.deserialize` checks them (length, then type
 * byte). Done here rather than through `PublicKey` so the digits path does not bundle the Edwards
 * curve code behind `PublicKey.isCanonical`.
 */
function serializedKey(bytes: Uint8Array): Uint8Array {
  if (bytes.length !== PUBLIC_KEY_LENGTH) throw new DecodeError('public key must be 33 bytes');
  if (bytes[0] !== DJB_TYPE) throw new DecodeError('unknown public key type', { code: 'INVALID_KEY' });
  // Not `bytes.slice()`: for a Buffer that is a view of the caller's memory, and a subclass may
  // override it to return other bytes than the ones just checked.
  return copyBytes(bytes);
}

function keyBytes(key: unknown, name: string): Uint8Array {
  if (key instanceof Uint8Array) return serializedKey(key);
  // A PublicKey (from this copy of core or another: dual ESM/CJS load) by what it serializes to.
  if (key !== null && typeof key === 'object' && typeof (key as PublicKey).serialize === 'function') {
    const bytes = (key as PublicKey).serialize();
    if (bytes instanceof Uint8Array && bytes.length === PUBLIC_KEY_LENGTH) return serializedKey(bytes);
  }
  throw new TypeError(`${name} must be a PublicKey or its 33-byte serialization`);
}

function checkParty(party: unknown, name: string): { identifier: Uint8Array; key: Uint8Array } {
  if (party === null || typeof party !== 'object') throw new TypeError(`${name} must be an object`);
  const { identifier, identityKey } = party as SafetyNumberParty;
  assertBytes(identifier, `${name}.identifier`);
  return { identifier, key: keyBytes(identityKey, `${name}.identityKey`) };
}

type HashProvider = Pick<CryptoProvider, 'sha512Sync' | 'sha512IterateSync'>;

/**
 * One party's 64-byte hash: the provider's iterated SHA-512 when it has one (every built-in provider:
 * the same bytes without a call per round), else a loop over `sha512Sync(h ‖ key33)`.
 */
function partyHash(
  provider: HashProvider,
  iterations: number,
  identifier: Uint8Array,
  key: Uint8Array,
): Uint8Array {
  const first = new Uint8Array(2 + key.length + identifier.length + key.length);
  first.set(key, 2);
  first.set(identifier, 2 + key.length);
  first.set(key, 2 + key.length + identifier.length);
  if (typeof provider.sha512IterateSync === 'function') {
    return digest(provider.sha512IterateSync(first, key, iterations));
  }
  // One input buffer reused for every round: a hash call per part costs more than the copy. Each
  // round's digest is checked: one of another length would overwrite the key bytes after it (or
  // leave stale bytes) and give other digits without an error.
  let h = digest(provider.sha512Sync(first));
  const round = new Uint8Array(SHA512_LENGTH + key.length);
  round.set(key, SHA512_LENGTH);
  for (let i = 1; i < iterations; i++) {
    round.set(h);
    h = digest(provider.sha512Sync(round));
  }
  return h;
}

function digest(h: unknown): Uint8Array {
  if (!(h instanceof Uint8Array) || h.length !== SHA512_LENGTH) {
    throw new TypeError("the provider's SHA-512 must return 64 bytes");
  }
  return h;
}

// `sha512Sync` is never called when `sha512IterateSync` is there: left out, it stays out of the bundle.
const DEFAULT_HASH = { sha512IterateSync: defaultSha512IterateSync } as HashProvider;

/** A passed provider: only its `sha512Sync` (and `sha512IterateSync`, if any) is used, so that is what is checked. */
function checkedProvider(provider: unknown): HashProvider {
  if (typeof (provider as Partial<CryptoProvider> | null)?.sha512Sync !== 'function') {
    throw new TypeError('provider must be a CryptoProvider');
  }
  return provider as CryptoProvider;
}

/** A computed safety number: the 60 digits both people see and this side's QR payload. */
export class SafetyNumber {
  /** The 60 digits, identical on both sides (smaller 30-digit half first). */
  readonly digits: string;
  /** This side's QR payload. */
  readonly scannable: ScannableFingerprint;
  readonly iterations: number;
  /** This side's 30 digits and the other side's (as computed here). */
  readonly localDigits: string;
  readonly remoteDigits: string;

  private constructor(
    localDigits: string,
    remoteDigits: string,
    scannable: ScannableFingerprint,
    iterations: number,
  ) {
    this.localDigits = localDigits;
    this.remoteDigits = remoteDigits;
    this.digits = localDigits < remoteDigits ? localDigits + remoteDigits : remoteDigits + localDigits;
    this.scannable = scannable;
    this.iterations = iterations;
  }

  /** @internal Use `computeSafetyNumber`. */
  static _create(
    localHash: Uint8Array,
    remoteHash: Uint8Array,
    version: number,
    iterations: number,
  ): SafetyNumber {
    return new SafetyNumber(
      digitsOfHash(localHash),
      digitsOfHash(remoteHash),
      ScannableFingerprint.of(
        version,
        localHash.subarray(0, SCANNABLE_FINGERPRINT_LENGTH),
        remoteHash.subarray(0, SCANNABLE_FINGERPRINT_LENGTH),
      ),
      iterations,
    );
  }

  get version(): number {
    return this.scannable.version;
  }

  /** The 12 groups of 5 digits. */
  groups(): string[] {
    return safetyNumberGroups(this.digits);
  }

  /** `"30035 44776 …"`; pass `{ groupsPerLine: 4 }` for Signal's 3 × 4 layout. */
  format(options?: FormatOptions): string {
    return formatSafetyNumber(this.digits, options);
  }

  /** Compares the payload scanned from the other phone (see `ScannableFingerprint.compare`). */
  compare(scanned: Uint8Array | ScannableFingerprint): CompareResult {
    return this.scannable.compare(scanned);
  }

  /**
   * Compares digits the person typed or pasted (read by `parseSafetyNumber`) with ours, in constant
   * time: `match`, `mismatch`, or `malformed` with the `SafetyNumberFormatError`.
   */
  compareDigits(typed: string): CompareResult {
    if (typeof typed !== 'string') throw new TypeError('typed safety number must be a string');
    let parsed: string;
    try {
      parsed = parseSafetyNumber(typed);
    } catch (err) {
      if (err instanceof DecodeError) return malformed(err);
      throw err;
    }
    // 60 ASCII digits each (parsed and ours), compared as bytes in constant time.
    const bytes = (digits: string) => Uint8Array.from(digits, (c) => c.charCodeAt(0));
    return constantTimeEqual(bytes(parsed), bytes(this.digits)) ? MATCH : MISMATCH;
  }

  /** The 60 digits (a safety number is meant to be shown; it reveals no key). */
  toString(): string {
    return this.digits;
  }
  toJSON(): string {
    return this.digits;
  }
  [INSPECT](): string {
    return `SafetyNumber(${this.format()})`;
  }
}

/**
 * Computes the safety number between this device's account (`local`) and a contact (`remote`),
 * byte-for-byte as libsignal's `Fingerprint.new(iterations, version, localId, localKey, remoteId,
 * remoteKey)`. Synchronous: 2 × `iterations` SHA-512 rounds through `provider.sha512IterateSync`, or
 * `provider.sha512Sync` for a provider without it.
 */
export function computeSafetyNumber(options: SafetyNumberOptions): SafetyNumber {
  if (options === null || typeof options !== 'object') throw new TypeError('options must be an object');
  const version = options.version ?? FingerprintVersion.ServiceId;
  assertVersion(version);
  const iterations = options.iterations ?? DEFAULT_ITERATIONS;
  if (!Number.isInteger(iterations) || iterations < MIN_ITERATIONS || iterations > MAX_ITERATIONS) {
    throw new RangeError(`iterations must be an integer from ${MIN_ITERATIONS} to ${MAX_ITERATIONS}`);
  }
  const local = checkParty(options.local, 'local');
  const remote = checkParty(options.remote, 'remote');
  // No provider: the default provider's SHA-512 alone (importing the whole default provider would
  // bundle every primitive into an app that only shows digits).
  const provider = options.provider === undefined ? DEFAULT_HASH : checkedProvider(options.provider);
  const localHash = partyHash(provider, iterations, local.identifier, local.key);
  const remoteHash = partyHash(provider, iterations, remote.identifier, remote.key);
  return SafetyNumber._create(localHash, remoteHash, version, iterations);
}
