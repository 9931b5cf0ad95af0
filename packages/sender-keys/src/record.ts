/**
 * `SenderKeyRecord`: every sender-key state kept for one (sender address, distribution id).
 *
 * Persisted format (this package's, versioned): `00 "E2SK" ‖ version(1) ‖ protobuf`. The leading zero
 * byte is never valid protobuf, so neither libsignal's reader nor `fromLibsignal` mistakes one for
 * the other. The protobuf's
 * states use libsignal's `SenderKeyStateStructure` field numbers 1–5 (`storage.proto`, proto3
 * encoding), plus fields of our own that libsignal would skip:
 *
 * ```
 * Record { 1: repeated State (index 0 = current), 2: repeated Retired (version 2; retired-chains.ts) }
 * State  { 1: chain_id, 2: {1: iteration, 2: chain key}, 3: {1: public 33 B, 2: private 32 B,
 *          3: ed25519 seed 32 B, 4: ed25519 sign bit}, 4: repeated {1: iteration, 2: seed},
 *          5: message_version, 6: superseded_at_ms, 7: created_at_ms, 8: holders,
 *          9: rotation reason (version 2; 1 created, 2 member removed, 3 expired, 4 requested) }
 * Holders { 1: repeated Device { 1: name, 2: device_id }, 2: repeated uint32 (field-1 positions needing it again) }
 * ```
 *
 * `toLibsignal()` / `fromLibsignal()` convert to and from libsignal's own `SenderKeyRecord` bytes.
 * Records are immutable: every change builds a new record, so a failed operation cannot leave a
 * half-changed object behind in a store that caches objects.
 */
import {
  assertBytes,
  copyBytes,
  DecodeError,
  ProtoReader,
  ProtoWriter,
  type PublicKey,
  redact,
  WireType,
} from '@e2ee-kit/core';
import {
  MAX_MESSAGE_KEYS,
  MAX_RECORD_HOLDERS_BYTES,
  MAX_RECORD_MESSAGE_KEYS,
  MAX_SENDER_KEY_RECORD_BYTES,
  MAX_SENDER_KEY_STATES,
  SENDER_KEY_MESSAGE_VERSION,
} from './constants.js';
import type { RotationReason } from './group-types.js';
import { brandRecord } from './record-brand.js';
import {
  checkRetiredCount,
  decodeRetired,
  encodeRetired,
  findRetired,
  type RetiredChain,
  retireDropped,
} from './retired-chains.js';
import { decodeState, encodeState } from './state-codec.js';
import { readTagged, writeTagged } from './tagged.js';

const INSPECT = Symbol.for('nodejs.util.inspect.custom');

/** Type tag of a persisted record: `00` then ASCII "E2SK". */
export const SENDER_KEY_RECORD_TAG = Uint8Array.of(0x00, 0x45, 0x32, 0x53, 0x4b);
/**
 * Format version written by this release. Readers accept every version listed in `test/fixtures`.
 * 2 added the retired-chain markers (record field 2) and own states' rotation reason (state field
 * 9); a version-1 record is read as one without either.
 * Written as a new version so that an earlier release refuses the record instead of silently
 * dropping the markers on its next write.
 */
export const SENDER_KEY_RECORD_VERSION = 2;

/** A skipped message key: its iteration and the 32-byte message-key seed. */
export interface SkippedKey {
  readonly iteration: number;
  readonly seed: Uint8Array;
}

/** @internal One state. Immutable by convention: never modify a field of a state taken from a record. */
export interface SenderKeyStateData {
  readonly chainId: number;
  /** As stored; 0 means 3 (libsignal's rule). */
  readonly messageVersion: number;
  readonly iteration: number;
  readonly chainKey: Uint8Array;
  readonly signingPublic: PublicKey;
  /** The X25519 private signing key (clamped), on the sender's own states only. */
  readonly signingPrivate: Uint8Array | undefined;
  /** Ed25519 seed whose Montgomery form is `signingPublic` (our states only; enables plain Ed25519 signing). */
  readonly edSeed: Uint8Array | undefined;
  /** 0 or 1: the sign bit of the Edwards form of the public key, for `edSeed` signatures. */
  readonly edSignBit: number;
  /** Skipped message keys, oldest first. */
  readonly skipped: readonly SkippedKey[];
  /** When this state stopped being the current one (ms since the epoch); 0 while it is current. */
  readonly supersededAt: number;
  /** When the sender created this chain (own states; 0 when unknown). */
  readonly createdAt: number;
  /** Own states: encoded list of member devices that hold this chain (decoded on demand). */
  readonly holders: Uint8Array | undefined;
  /**
   * Own states made by `prepareSend`: why. Reported again by a `prepareSend` that finds no holder
   * list saved for the chain yet (the call that rotated failed after storing the chain).
   */
  readonly rotation: RotationReason | undefined;
}

export function effectiveVersion(state: SenderKeyStateData): number {
  return state.messageVersion === 0 ? SENDER_KEY_MESSAGE_VERSION : state.messageVersion;
}

function encodeBody(
  states: readonly SenderKeyStateData[],
  retired: readonly RetiredChain[],
  ours: boolean,
): Uint8Array {
  const w = new ProtoWriter();
  for (const s of states) w.bytes(1, encodeState(s, ours));
  if (ours) encodeRetired(w, retired);
  return w.finish();
}

function decodeBody(bytes: Uint8Array, ours: boolean) {
  // Refused before parsing: no record within the caps is this long.
  if (bytes.length > MAX_SENDER_KEY_RECORD_BYTES) throw new DecodeError('sender key record too long');
  const r = new ProtoReader(bytes);
  const states: SenderKeyStateData[] = [];
  const retired: RetiredChain[] = [];
  let holders = 0;
  for (let h = r.next(); h; h = r.next()) {
    if (h.field === 1) {
      r.expect(h, WireType.LengthDelimited);
      if (states.length >= MAX_SENDER_KEY_STATES) throw new DecodeError('too many sender key states');
      const state = decodeState(r.bytes(), ours);
      holders += state.holders?.length ?? 0;
      if (holders > MAX_RECORD_HOLDERS_BYTES) throw new DecodeError('key holder list too long');
      states.push(state);
    } else if (ours && h.field === 2) {
      r.expect(h, WireType.LengthDelimited);
      retired.push(decodeRetired(r.bytes(), retired.length));
    } else r.skip(h.wireType);
  }
  return { states, retired };
}

/**
 * The record caps, checked whenever a record is built (after keys were skipped or a state was
 * added): ≤ 5 states, ≤ 2,000 skipped keys each and ≤ 10,000 in all, 32-byte seeds, a bounded
 * key-holder list. Together they keep `serialize()` under `MAX_SENDER_KEY_RECORD_BYTES`.
 */
function checkCaps(states: readonly SenderKeyStateData[]): void {
  if (states.length > MAX_SENDER_KEY_STATES) throw new RangeError('too many sender key states');
  let keys = 0;
  let holders = 0;
  for (const s of states) {
    if (s.skipped.length > MAX_MESSAGE_KEYS) throw new RangeError('too many skipped message keys in a state');
    keys += s.skipped.length;
    holders += s.holders?.length ?? 0;
  }
  // Per record, not per state: five full lists would serialize past MAX_SENDER_KEY_RECORD_BYTES, a
  // record written and never read back.
  if (holders > MAX_RECORD_HOLDERS_BYTES) {
    throw new RangeError(
      `key holder list over ${MAX_RECORD_HOLDERS_BYTES} bytes: give the store key-holder methods`,
    );
  }
  if (keys > MAX_RECORD_MESSAGE_KEYS) throw new RangeError('too many skipped message keys in the record');
}

// ---------------------------------------------------------------------------------------------

/** States hold chain keys, signing keys and message-key seeds: each prints as `[SenderKeyState]`. */
function redactState(state: SenderKeyStateData): SenderKeyStateData {
  return redact(Object.isExtensible(state) ? state : { ...state }, '[SenderKeyState]');
}

export class SenderKeyRecord {
  readonly #states: readonly SenderKeyStateData[];
  readonly #retired: readonly RetiredChain[];

  private constructor(states: readonly SenderKeyStateData[], retired: readonly RetiredChain[] = []) {
    this.#states = Object.freeze(states.map(redactState));
    this.#retired = Object.freeze(retired.map((r) => Object.freeze({ ...r })));
  }

  /** @internal A record of `states` with no retired-chain markers. */
  static fromStates(states: readonly SenderKeyStateData[]): SenderKeyRecord {
    checkCaps(states);
    return new SenderKeyRecord(states);
  }

  /**
   * @internal This record with `states` instead of its own: its retired-chain markers are kept, and
   * every state it had that `states` lacks (dropped, pushed out, replaced under its chain id) is
   * marked retired. Every change of a stored record goes through here, so no marker is lost.
   */
  withStates(states: readonly SenderKeyStateData[]): SenderKeyRecord {
    checkCaps(states);
    const retired = retireDropped(this.#retired, this.#states, states);
    checkRetiredCount(retired);
    return new SenderKeyRecord(states, retired);
  }

  /** A record with no state. */
  static empty(): SenderKeyRecord {
    return new SenderKeyRecord([]);
  }

  /** Reads a record written by `serialize()` (any format version this package ever wrote). */
  static deserialize(bytes: Uint8Array): SenderKeyRecord {
    assertBytes(bytes, 'sender key record');
    if (bytes.length > MAX_SENDER_KEY_RECORD_BYTES) throw new DecodeError('sender key record too long');
    const { version, body } = readTagged(bytes, SENDER_KEY_RECORD_TAG, 'sender key record', [1, 2]);
    const { states, retired } = decodeBody(body, true);
    if (version < 2 && retired.length > 0)
      throw new DecodeError('retired chain markers in a version 1 record');
    return new SenderKeyRecord(states, retired);
  }

  serialize(): Uint8Array {
    // Version 1 while nothing of version 2 is in the record (its body is then a version-1 body): a
    // tab still running an earlier release during an update keeps reading it. Version 2 from the
    // first marker or rotation reason, which an earlier release must refuse rather than drop.
    const needsV2 = this.#retired.length > 0 || this.#states.some((s) => s.rotation !== undefined);
    return writeTagged(
      SENDER_KEY_RECORD_TAG,
      needsV2 ? SENDER_KEY_RECORD_VERSION : 1,
      encodeBody(this.#states, this.#retired, true),
    );
  }

  /**
   * Imports libsignal's `SenderKeyRecord.serialize()` bytes (migration from libsignal). States other
   * than the current one are treated as replaced at `now` (their rotation grace starts then).
   */
  static fromLibsignal(bytes: Uint8Array, options: { now?: number } = {}): SenderKeyRecord {
    assertBytes(bytes, 'libsignal sender key record');
    const now = options.now ?? Date.now();
    if (typeof now !== 'number' || !Number.isSafeInteger(now) || now < 0) {
      throw new RangeError('now must be a non-negative integer (ms since the epoch)');
    }
    const states = decodeBody(bytes, false).states.map((s, i) => (i === 0 ? s : { ...s, supersededAt: now }));
    return new SenderKeyRecord(states);
  }

  /** libsignal's `SenderKeyRecord` bytes (`storage.proto`), readable by `SenderKeyRecord.deserialize` there. */
  toLibsignal(): Uint8Array {
    return encodeBody(this.#states, [], false);
  }

  /** Chain ids of the stored states, current first. */
  get chainIds(): number[] {
    return this.#states.map((s) => s.chainId);
  }

  /** Number of stored states (at most 5). */
  get size(): number {
    return this.#states.length;
  }

  /** @internal */
  get states(): readonly SenderKeyStateData[] {
    return this.#states;
  }

  /**
   * Chains this record retired, oldest first (at most `MAX_RETIRED_CHAINS`): an SKDM of one of them
   * is ignored unless it is at or past the iteration the chain had reached here.
   */
  get retiredChains(): RetiredChain[] {
    return this.#retired.map((r) => ({ ...r, keyPrint: copyBytes(r.keyPrint) }));
  }

  /** @internal The marker of chain (`chainId`, `signingKey`) if this record retired it. */
  retiredChain(chainId: number, signingKey: PublicKey): RetiredChain | undefined {
    return findRetired(this.#retired, chainId, signingKey);
  }

  toString(): string {
    return `[SenderKeyRecord ${this.#states.length} state(s)]`;
  }
  toJSON(): string {
    return this.toString();
  }
  [INSPECT](): string {
    return this.toString();
  }
}
brandRecord(SenderKeyRecord, 'SenderKeyRecord');
