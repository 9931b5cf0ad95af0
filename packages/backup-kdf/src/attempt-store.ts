/**
 * Where `LocalBackoffPolicy` keeps its counts: the store interface, an in-memory store, and the
 * record format (bytes) of one budget. The policy itself (what counts, when to lock) is attempts.ts.
 */
import { constantTimeEqual, copyBytes, DecodeError, redact } from '@e2ee-kit/core';

/** Where `LocalBackoffPolicy` keeps its counters: Keychain/Keystore, IndexedDB, a file… (bytes in, bytes out). */
export interface AttemptStore {
  get(key: string): Promise<Uint8Array | undefined>;
  set(key: string, value: Uint8Array): Promise<void>;
  /**
   * Optional, needed when several tabs, workers or processes share the store: writes `value` only
   * if the stored bytes are still exactly `expected` (`undefined`: no record), atomically, and
   * resolves whether it wrote. Without it `LocalBackoffPolicy` reads and writes with `get`/`set`,
   * which is exact within one JavaScript realm only (two contexts updating one record at once
   * would lose one of the two failures).
   */
  compareAndSet?(key: string, expected: Uint8Array | undefined, value: Uint8Array): Promise<boolean>;
}

/** Keeps bytes in memory (lost on restart: use a persistent store in apps). */
export class MemoryAttemptStore implements AttemptStore {
  readonly #map = new Map<string, Uint8Array>();
  async get(key: string): Promise<Uint8Array | undefined> {
    const v = this.#map.get(key);
    return v && copyBytes(v);
  }
  async set(key: string, value: Uint8Array): Promise<void> {
    this.#map.set(key, copyBytes(value));
  }
  async compareAndSet(key: string, expected: Uint8Array | undefined, value: Uint8Array): Promise<boolean> {
    const stored = this.#map.get(key);
    if (
      stored === undefined || expected === undefined
        ? stored !== expected
        : !constantTimeEqual(stored, expected)
    )
      return false;
    this.#map.set(key, copyBytes(value));
    return true;
  }
}

redact(MemoryAttemptStore, '[MemoryAttemptStore]');

/**
 * Slots whose failures a record tracks one by one. Beyond this, the oldest slot's failures move to
 * a count that no success clears (reaching it takes this many distinct failing slots, hence many
 * lockouts); the record stays ≤ 15 + 20 × this many bytes.
 */
export const MAX_TRACKED_SLOTS = 32;

const RECORD_TAG = 0xa7;
/** v1 (0.1.0): `tag ‖ 01 ‖ failures u32 ‖ lockedUntil f64`, 14 bytes, one record per `<backup id>:<method>`. */
const RECORD_V1 = 1;
/** v2: `tag ‖ 02 ‖ lockedUntil f64 ‖ unattributed u32 ‖ n u8 ‖ n × (slot id 16 ‖ failures u32)`. */
const RECORD_V2 = 2;
const SLOT_ID_LENGTH = 16;

export interface AttemptRecord {
  lockedUntilMs: number;
  /** Failures no success can clear (folded out of the per-slot list, or read from a v1 record). */
  unattributed: number;
  /** Per-slot failures, oldest slot first. */
  slots: Map<string, number>;
}

export const emptyRecord = (): AttemptRecord => ({ lockedUntilMs: 0, unattributed: 0, slots: new Map() });

export function totalOf(r: AttemptRecord): number {
  let n = r.unattributed;
  for (const v of r.slots.values()) n += v;
  return n;
}

function idHex(b: Uint8Array, o: number): string {
  let s = '';
  for (let i = o; i < o + SLOT_ID_LENGTH; i++) s += b[i]!.toString(16).padStart(2, '0');
  return s;
}

export function encodeRecord(r: AttemptRecord): Uint8Array {
  const b = new Uint8Array(15 + r.slots.size * (SLOT_ID_LENGTH + 4));
  const v = new DataView(b.buffer);
  b[0] = RECORD_TAG;
  b[1] = RECORD_V2;
  v.setFloat64(2, r.lockedUntilMs);
  v.setUint32(10, Math.min(r.unattributed, 0xffff_ffff));
  b[14] = r.slots.size;
  let o = 15;
  for (const [id, n] of r.slots) {
    for (let i = 0; i < SLOT_ID_LENGTH; i++) b[o + i] = Number.parseInt(id.slice(2 * i, 2 * i + 2), 16);
    v.setUint32(o + SLOT_ID_LENGTH, Math.min(n, 0xffff_ffff));
    o += SLOT_ID_LENGTH + 4;
  }
  return b;
}

export function decodeRecord(b: Uint8Array): AttemptRecord {
  const bad = () => new DecodeError('attempt record is malformed');
  if (!(b instanceof Uint8Array) || b.length < 2 || b[0] !== RECORD_TAG) throw bad();
  const v = new DataView(b.buffer, b.byteOffset, b.byteLength);
  const checkTime = (t: number) => {
    if (!Number.isFinite(t) || t < 0) throw bad();
    return t;
  };
  if (b[1] === RECORD_V1) {
    if (b.length !== 14) throw bad();
    return { lockedUntilMs: checkTime(v.getFloat64(6)), unattributed: v.getUint32(2), slots: new Map() };
  }
  if (b[1] !== RECORD_V2 || b.length < 15) throw bad();
  const n = b[14]!;
  if (n > MAX_TRACKED_SLOTS || b.length !== 15 + n * (SLOT_ID_LENGTH + 4)) throw bad();
  const slots = new Map<string, number>();
  for (let i = 0, o = 15; i < n; i++, o += SLOT_ID_LENGTH + 4) {
    const id = idHex(b, o);
    if (slots.has(id)) throw bad();
    slots.set(id, v.getUint32(o + SLOT_ID_LENGTH));
  }
  return { lockedUntilMs: checkTime(v.getFloat64(2)), unattributed: v.getUint32(10), slots };
}
