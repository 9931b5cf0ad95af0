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
 * Record { 1: repeated State (index 0 = current) }
 * State  { 1: chain_id, 2: {1: iteration, 2: chain key}, 3: {1: public 33 B, 2: private 32 B,
 *          3: ed25519 seed 32 B, 4: ed25519 sign bit}, 4: repeated {1: iteration, 2: seed},
 *          5: message_version, 6: superseded_at_ms, 7: created_at_ms, 8: holders }
 * Holders { 1: repeated Device { 1: name, 2: device_id }, 2: repeated uint32 (field-1 positions needing it again) }
 * ```
 *
 * `toLibsignal()` / `fromLibsignal()` convert to and from libsignal's own `SenderKeyRecord` bytes.
 * Records are immutable: every change builds a new record, so a failed operation cannot leave a
 * half-changed object behind in a store that caches objects.
 */
import {
  assertBytes,
  DecodeError,
  ProtoReader,
  ProtoWriter,
  PublicKey,
  redact,
  WireType,
} from '@e2ee-kit/core';
import {
  CHAIN_KEY_LENGTH,
  MAX_MESSAGE_KEYS,
  MAX_RECORD_HOLDERS_BYTES,
  MAX_RECORD_MESSAGE_KEYS,
  MAX_SENDER_KEY_RECORD_BYTES,
  MAX_SENDER_KEY_STATES,
  SENDER_KEY_MESSAGE_VERSION,
} from './constants.js';
import { readTagged, writeTagged } from './tagged.js';

const INSPECT = Symbol.for('nodejs.util.inspect.custom');

/** Type tag of a persisted record: `00` then ASCII "E2SK". */
export const SENDER_KEY_RECORD_TAG = Uint8Array.of(0x00, 0x45, 0x32, 0x53, 0x4b);
/** Format version written by this release. Readers accept every version listed in `test/fixtures`. */
export const SENDER_KEY_RECORD_VERSION = 1;

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
}

export function effectiveVersion(state: SenderKeyStateData): number {
  return state.messageVersion === 0 ? SENDER_KEY_MESSAGE_VERSION : state.messageVersion;
}

// ---------------------------------------------------------------------------------------------
// encoding

/** Length of a varint for a non-negative safe integer. */
function varintLength(v: number): number {
  let n = 1;
  while (v >= 0x80) {
    v = Math.floor(v / 0x80);
    n++;
  }
  return n;
}

function writeVarint(out: Uint8Array, pos: number, v: number): number {
  while (v >= 0x80) {
    out[pos++] = (v % 0x80) | 0x80;
    v = Math.floor(v / 0x80);
  }
  out[pos++] = v;
  return pos;
}

/** Repeated field 4 of a state, written directly (it can hold 2,000 entries). */
function encodeSkipped(skipped: readonly SkippedKey[]): Uint8Array {
  let total = 0;
  const inner: number[] = new Array(skipped.length);
  for (let i = 0; i < skipped.length; i++) {
    const k = skipped[i] as SkippedKey;
    const len = (k.iteration === 0 ? 0 : 1 + varintLength(k.iteration)) + 2 + k.seed.length;
    inner[i] = len;
    total += 1 + varintLength(len) + len;
  }
  const out = new Uint8Array(total);
  let pos = 0;
  for (let i = 0; i < skipped.length; i++) {
    const k = skipped[i] as SkippedKey;
    out[pos++] = 0x22; // field 4, length-delimited
    pos = writeVarint(out, pos, inner[i] as number);
    if (k.iteration !== 0) {
      out[pos++] = 0x08;
      pos = writeVarint(out, pos, k.iteration);
    }
    out[pos++] = 0x12;
    out[pos++] = k.seed.length;
    out.set(k.seed, pos);
    pos += k.seed.length;
  }
  return out;
}

function encodeState(s: SenderKeyStateData, ours: boolean): Uint8Array {
  const head = new ProtoWriter();
  if (s.chainId !== 0) head.uint32(1, s.chainId);
  const chain = new ProtoWriter();
  if (s.iteration !== 0) chain.uint32(1, s.iteration);
  chain.bytes(2, s.chainKey);
  head.bytes(2, chain.finish());
  const signing = new ProtoWriter().bytes(1, s.signingPublic.serialize());
  if (s.signingPrivate !== undefined) signing.bytes(2, s.signingPrivate);
  if (ours && s.edSeed !== undefined) {
    signing.bytes(3, s.edSeed);
    if (s.edSignBit !== 0) signing.uint32(4, s.edSignBit);
  }
  head.bytes(3, signing.finish());
  const tail = new ProtoWriter();
  if (s.messageVersion !== 0) tail.uint32(5, s.messageVersion);
  if (ours) {
    if (s.supersededAt !== 0) tail.uint64(6, s.supersededAt);
    if (s.createdAt !== 0) tail.uint64(7, s.createdAt);
    if (s.holders !== undefined) tail.bytes(8, s.holders);
  }
  const a = head.finish();
  const b = encodeSkipped(s.skipped);
  const c = tail.finish();
  const out = new Uint8Array(a.length + b.length + c.length);
  out.set(a, 0);
  out.set(b, a.length);
  out.set(c, a.length + b.length);
  return out;
}

function encodeBody(states: readonly SenderKeyStateData[], ours: boolean): Uint8Array {
  const w = new ProtoWriter();
  for (const s of states) w.bytes(1, encodeState(s, ours));
  return w.finish();
}

// ---------------------------------------------------------------------------------------------
// decoding

function readSafeUint64(r: ProtoReader): number {
  const v = r.uint64();
  if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw new DecodeError('sender key record timestamp out of range');
  return Number(v);
}

/** `{1: iteration, 2: 32-byte key}`: both the chain key and a skipped message key. */
function decodeKeyAt(bytes: Uint8Array, what: string): { iteration: number; key: Uint8Array } {
  const r = new ProtoReader(bytes);
  let iteration = 0;
  let key: Uint8Array | undefined;
  for (let h = r.next(); h; h = r.next()) {
    if (h.field === 1) {
      r.expect(h, WireType.Varint);
      iteration = r.uint32();
    } else if (h.field === 2) {
      r.expect(h, WireType.LengthDelimited);
      key = r.bytes();
    } else r.skip(h.wireType);
  }
  if (key === undefined || key.length !== CHAIN_KEY_LENGTH) throw new DecodeError(`${what} must be 32 bytes`);
  return { iteration, key };
}

function decodeSigning(bytes: Uint8Array, ours: boolean) {
  const r = new ProtoReader(bytes);
  let pub: Uint8Array | undefined;
  let priv: Uint8Array | undefined;
  let edSeed: Uint8Array | undefined;
  let edSignBit = 0;
  for (let h = r.next(); h; h = r.next()) {
    if (h.field === 1) {
      r.expect(h, WireType.LengthDelimited);
      pub = r.bytes();
    } else if (h.field === 2) {
      r.expect(h, WireType.LengthDelimited);
      priv = r.bytes();
    } else if (ours && h.field === 3) {
      r.expect(h, WireType.LengthDelimited);
      edSeed = r.bytes();
    } else if (ours && h.field === 4) {
      r.expect(h, WireType.Varint);
      edSignBit = r.uint32();
    } else r.skip(h.wireType);
  }
  if (pub === undefined) throw new DecodeError('sender key state has no signing key');
  const signingPublic = PublicKey.deserialize(pub);
  // proto3: an empty private key is "absent" (a receiver's state).
  if (priv !== undefined && priv.length === 0) priv = undefined;
  if (priv !== undefined && priv.length !== 32)
    throw new DecodeError('sender key private key must be 32 bytes');
  if (edSeed !== undefined && edSeed.length === 0) edSeed = undefined;
  if (edSeed !== undefined && (edSeed.length !== 32 || priv === undefined)) {
    throw new DecodeError('sender key signing seed is malformed');
  }
  if (edSignBit > 1) throw new DecodeError('sender key signing sign bit is malformed');
  return { signingPublic, signingPrivate: priv, edSeed, edSignBit };
}

function decodeState(bytes: Uint8Array, ours: boolean): SenderKeyStateData {
  const r = new ProtoReader(bytes);
  let chainId = 0;
  let chain: { iteration: number; key: Uint8Array } | undefined;
  let signing: ReturnType<typeof decodeSigning> | undefined;
  const skipped: SkippedKey[] = [];
  let messageVersion = 0;
  let supersededAt = 0;
  let createdAt = 0;
  let holders: Uint8Array | undefined;
  for (let h = r.next(); h; h = r.next()) {
    switch (h.field) {
      case 1:
        r.expect(h, WireType.Varint);
        chainId = r.uint32();
        break;
      case 2:
        r.expect(h, WireType.LengthDelimited);
        chain = decodeKeyAt(r.bytes(), 'sender chain key');
        break;
      case 3:
        r.expect(h, WireType.LengthDelimited);
        signing = decodeSigning(r.bytes(), ours);
        break;
      case 4:
        r.expect(h, WireType.LengthDelimited);
        if (skipped.length >= MAX_MESSAGE_KEYS) throw new DecodeError('too many skipped message keys');
        {
          const k = decodeKeyAt(r.bytes(), 'skipped message key');
          skipped.push({ iteration: k.iteration, seed: k.key });
        }
        break;
      case 5:
        r.expect(h, WireType.Varint);
        messageVersion = r.uint32();
        break;
      default:
        if (ours && h.field === 6) {
          r.expect(h, WireType.Varint);
          supersededAt = readSafeUint64(r);
        } else if (ours && h.field === 7) {
          r.expect(h, WireType.Varint);
          createdAt = readSafeUint64(r);
        } else if (ours && h.field === 8) {
          r.expect(h, WireType.LengthDelimited);
          holders = r.bytes();
          if (holders.length > MAX_RECORD_HOLDERS_BYTES) throw new DecodeError('key holder list too long');
        } else r.skip(h.wireType);
    }
  }
  if (chain === undefined) throw new DecodeError('sender key state has no chain key');
  if (signing === undefined) throw new DecodeError('sender key state has no signing key');
  return {
    chainId,
    messageVersion,
    iteration: chain.iteration,
    chainKey: chain.key,
    ...signing,
    skipped,
    supersededAt,
    createdAt,
    holders,
  };
}

function decodeBody(bytes: Uint8Array, ours: boolean): SenderKeyStateData[] {
  // Refused before parsing: no record within the caps is this long.
  if (bytes.length > MAX_SENDER_KEY_RECORD_BYTES) throw new DecodeError('sender key record too long');
  const r = new ProtoReader(bytes);
  const states: SenderKeyStateData[] = [];
  for (let h = r.next(); h; h = r.next()) {
    if (h.field === 1) {
      r.expect(h, WireType.LengthDelimited);
      if (states.length >= MAX_SENDER_KEY_STATES) throw new DecodeError('too many sender key states');
      states.push(decodeState(r.bytes(), ours));
    } else r.skip(h.wireType);
  }
  return states;
}

/**
 * The record caps, checked whenever a record is built (after keys were skipped or a state was
 * added): ≤ 5 states, ≤ 2,000 skipped keys each and ≤ 10,000 in all, 32-byte seeds, a bounded
 * key-holder list. Together they keep `serialize()` under `MAX_SENDER_KEY_RECORD_BYTES`.
 */
function checkCaps(states: readonly SenderKeyStateData[]): void {
  if (states.length > MAX_SENDER_KEY_STATES) throw new RangeError('too many sender key states');
  let keys = 0;
  for (const s of states) {
    if (s.skipped.length > MAX_MESSAGE_KEYS) throw new RangeError('too many skipped message keys in a state');
    keys += s.skipped.length;
    if (s.holders !== undefined && s.holders.length > MAX_RECORD_HOLDERS_BYTES) {
      throw new RangeError(
        `key holder list over ${MAX_RECORD_HOLDERS_BYTES} bytes: give the store key-holder methods`,
      );
    }
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

  private constructor(states: readonly SenderKeyStateData[]) {
    this.#states = Object.freeze(states.map(redactState));
  }

  /** @internal */
  static fromStates(states: readonly SenderKeyStateData[]): SenderKeyRecord {
    checkCaps(states);
    return new SenderKeyRecord(states);
  }

  /** A record with no state. */
  static empty(): SenderKeyRecord {
    return new SenderKeyRecord([]);
  }

  /** Reads a record written by `serialize()` (any format version this package ever wrote). */
  static deserialize(bytes: Uint8Array): SenderKeyRecord {
    assertBytes(bytes, 'sender key record');
    if (bytes.length > MAX_SENDER_KEY_RECORD_BYTES) throw new DecodeError('sender key record too long');
    const { body } = readTagged(bytes, SENDER_KEY_RECORD_TAG, 'sender key record', [1]);
    return new SenderKeyRecord(decodeBody(body, true));
  }

  serialize(): Uint8Array {
    return writeTagged(SENDER_KEY_RECORD_TAG, SENDER_KEY_RECORD_VERSION, encodeBody(this.#states, true));
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
    const states = decodeBody(bytes, false).map((s, i) => (i === 0 ? s : { ...s, supersededAt: now }));
    return new SenderKeyRecord(states);
  }

  /** libsignal's `SenderKeyRecord` bytes (`storage.proto`), readable by `SenderKeyRecord.deserialize` there. */
  toLibsignal(): Uint8Array {
    return encodeBody(this.#states, false);
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
