/**
 * The byte form of `RetryPolicy`'s counters, so loop protection survives an app restart (without it,
 * two broken peers that restart get fresh limits and can storm again). Only state is written — the
 * limits themselves stay the app's configuration, given again when the state is read back.
 *
 * Layout v1 (all integers big-endian):
 *   tag 0x52 ‖ version 0x01 ‖ 5 tables, each `count u32 ‖ entries`, in this order:
 *   receipts per message, receipts per address, answers per message, answers per address, resets.
 *   address  = `length u16 ‖ UTF-8 of "name.deviceId"` (1..MAX_ADDRESS_BYTES bytes)
 *   message  = address ‖ timestamp i64 ‖ count u32
 *   per-addr = address ‖ count u32 ‖ last i64
 *   reset    = address ‖ last i64
 * Entries are written oldest first, the order in which the policy forgets them.
 */
import { DecodeError, fromUtf8, utf8, validateAddress } from '@e2ee-kit/core';

export interface MessageCount {
  readonly address: string;
  readonly timestamp: number;
  readonly count: number;
}
export interface AddressCount {
  readonly address: string;
  readonly count: number;
  readonly last: number;
}
export interface LastReset {
  readonly address: string;
  readonly last: number;
}
export interface LimiterState {
  readonly messages: readonly MessageCount[];
  readonly addresses: readonly AddressCount[];
}
export interface RetryPolicyState {
  readonly requests: LimiterState;
  readonly responses: LimiterState;
  readonly resets: readonly LastReset[];
}

const TAG = 0x52;
export const RETRY_POLICY_STATE_VERSION = 1;
/** An address name is at most 1,024 UTF-16 units (≤ 3 UTF-8 bytes each) plus `.127`. */
const MAX_ADDRESS_BYTES = 3 * 1024 + 4;
/** Smallest encoded entry of each table: an address of one byte plus its fixed fields. */
const MIN_MESSAGE = 2 + 1 + 8 + 4;
const MIN_ADDRESS = 2 + 1 + 4 + 8;
const MIN_RESET = 2 + 1 + 8;

export function encodeRetryPolicyState(state: RetryPolicyState): Uint8Array {
  const w = new Writer();
  w.u8(TAG);
  w.u8(RETRY_POLICY_STATE_VERSION);
  for (const limiter of [state.requests, state.responses]) {
    w.u32(limiter.messages.length);
    for (const m of limiter.messages) {
      w.address(m.address);
      w.i64(m.timestamp);
      w.u32(m.count);
    }
    w.u32(limiter.addresses.length);
    for (const a of limiter.addresses) {
      w.address(a.address);
      w.u32(a.count);
      w.i64(a.last);
    }
  }
  w.u32(state.resets.length);
  for (const r of state.resets) {
    w.address(r.address);
    w.i64(r.last);
  }
  return w.finish();
}

/** Reads a v1 state; any malformed input is a `DecodeError`, with work linear in its length. */
export function decodeRetryPolicyState(bytes: Uint8Array): RetryPolicyState {
  if (!(bytes instanceof Uint8Array)) throw new TypeError('retry policy state must be a Uint8Array');
  const r = new Reader(bytes);
  if (bytes.length < 2) throw new DecodeError('retry policy state is truncated');
  if (r.u8() !== TAG) throw new DecodeError('not a retry policy state');
  if (r.u8() !== RETRY_POLICY_STATE_VERSION)
    throw new DecodeError('unsupported retry policy state format version');
  const requests = readLimiter(r);
  const responses = readLimiter(r);
  const resets = readTable(r, MIN_RESET, () => ({ address: r.address(), last: r.i64() }));
  if (r.remaining !== 0) throw new DecodeError('retry policy state has trailing bytes');
  return { requests, responses, resets };
}

function readLimiter(r: Reader): LimiterState {
  const messages = readTable(r, MIN_MESSAGE, () => {
    const address = r.address();
    const timestamp = r.i64();
    if (timestamp < 0) throw new DecodeError('retry policy message timestamp is negative');
    const count = r.u32();
    if (count === 0) throw new DecodeError('retry policy message count is zero');
    return { address, timestamp, count };
  });
  const addresses = readTable(r, MIN_ADDRESS, () => ({
    address: r.address(),
    count: r.u32(),
    last: r.i64(),
  }));
  return { messages, addresses };
}

/** A table whose count is checked against the bytes left before any entry is read; keys are unique. */
function readTable<T extends { address: string; timestamp?: number }>(
  r: Reader,
  minEntry: number,
  entry: () => T,
): T[] {
  const count = r.u32();
  if (count > Math.floor(r.remaining / minEntry))
    throw new DecodeError('retry policy state count exceeds its bytes');
  const out: T[] = [];
  const seen = new Set<string>();
  for (let i = 0; i < count; i++) {
    const e = entry();
    const key = e.timestamp === undefined ? e.address : `${e.timestamp}@${e.address}`;
    if (seen.has(key)) throw new DecodeError('retry policy state repeats an entry');
    seen.add(key);
    out.push(e);
  }
  return out;
}

class Writer {
  readonly #chunks: Uint8Array[] = [];
  #length = 0;
  #push(chunk: Uint8Array): void {
    this.#chunks.push(chunk);
    this.#length += chunk.length;
  }
  u8(v: number): void {
    this.#push(Uint8Array.of(v));
  }
  u32(v: number): void {
    const b = new Uint8Array(4);
    new DataView(b.buffer).setUint32(0, v);
    this.#push(b);
  }
  i64(v: number): void {
    const b = new Uint8Array(8);
    new DataView(b.buffer).setBigInt64(0, BigInt(v));
    this.#push(b);
  }
  address(key: string): void {
    const b = utf8(key);
    const len = new Uint8Array(2);
    new DataView(len.buffer).setUint16(0, b.length);
    this.#push(len);
    this.#push(b);
  }
  finish(): Uint8Array {
    const out = new Uint8Array(this.#length);
    let at = 0;
    for (const c of this.#chunks) {
      out.set(c, at);
      at += c.length;
    }
    return out;
  }
}

class Reader {
  readonly #view: DataView;
  #at = 0;
  constructor(readonly bytes: Uint8Array) {
    this.#view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }
  get remaining(): number {
    return this.bytes.length - this.#at;
  }
  #take(n: number): number {
    if (n > this.remaining) throw new DecodeError('retry policy state is truncated');
    const at = this.#at;
    this.#at += n;
    return at;
  }
  u8(): number {
    return this.#view.getUint8(this.#take(1));
  }
  u32(): number {
    return this.#view.getUint32(this.#take(4));
  }
  i64(): number {
    const v = this.#view.getBigInt64(this.#take(8));
    if (v > BigInt(Number.MAX_SAFE_INTEGER) || v < BigInt(Number.MIN_SAFE_INTEGER))
      throw new DecodeError('retry policy state time is out of range');
    return Number(v);
  }
  /** An address key as `addressToString` writes it: `name.deviceId`, the id after the last dot. */
  address(): string {
    const length = this.#view.getUint16(this.#take(2));
    if (length === 0 || length > MAX_ADDRESS_BYTES)
      throw new DecodeError('retry policy state address length is out of range');
    const at = this.#take(length);
    let key: string;
    try {
      key = fromUtf8(this.bytes.subarray(at, at + length));
    } catch (err) {
      throw new DecodeError('retry policy state address is not UTF-8', { cause: err });
    }
    const dot = key.lastIndexOf('.');
    const id = key.slice(dot + 1);
    // The canonical spelling only (no "+1", "01", "1e0"), so one address has one key.
    if (dot < 1 || !/^[1-9][0-9]{0,2}$/.test(id))
      throw new DecodeError('retry policy state address is malformed');
    try {
      validateAddress({ name: key.slice(0, dot), deviceId: Number(id) });
    } catch (err) {
      throw new DecodeError('retry policy state address is malformed', { cause: err });
    }
    return key;
  }
}
