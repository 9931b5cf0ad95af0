/**
 * The member devices recorded as holding a sender's current chain, stored in the sender's own state
 * as `Holders { 1: repeated Device { 1: name, 2: device_id }, 2: repeated uint32 }`: field 1 lists
 * every device handed the chain, field 2 the positions in field 1 of those that need it again (listed
 * by `prepareSend` and not yet confirmed, or asked for a resend): a few bytes each, so a rotation
 * that lists every member does not double the list. A device
 * that asked stays in field 1 until the chain is replaced: it may still hold the key, so its removal
 * from the group must still rotate the chain. A send to a large group checks
 * every member against this list, so decoding has a fast path for the canonical form this package
 * writes (anything else goes through the general protobuf reader), and lookups go by name (whose
 * hash the engine caches) and then by device id, without building a key string per device.
 */
import {
  type Address,
  DecodeError,
  fromUtf8,
  MAX_DEVICE_ID,
  ProtoReader,
  ProtoWriter,
  validateAddress,
  WireType,
} from '@e2ee-kit/core';
import { brandRecord } from './record-brand.js';
import { readTagged, writeTagged } from './tagged.js';

/** A set of devices in insertion order, looked up by name then device id. */
export class DeviceSet {
  readonly #byName = new Map<string, number[]>(); // name -> indexes
  readonly #names: string[] = [];
  readonly #ids: number[] = [];

  /** Adds a device; false if it was already there. */
  add(name: string, deviceId: number): boolean {
    const at = this.#byName.get(name);
    if (at === undefined) this.#byName.set(name, [this.#ids.length]);
    else {
      for (const i of at) if (this.#ids[i] === deviceId) return false;
      at.push(this.#ids.length);
    }
    this.#names.push(name);
    this.#ids.push(deviceId);
    return true;
  }

  /** Position of a device in insertion order, or -1. */
  indexOf(name: string, deviceId: number): number {
    const at = this.#byName.get(name);
    if (at !== undefined) for (const i of at) if (this.#ids[i] === deviceId) return i;
    return -1;
  }

  has(a: Address): boolean {
    return this.indexOf(a.name, a.deviceId) >= 0;
  }

  get size(): number {
    return this.#ids.length;
  }

  /** The device at position `i` (a new frozen address). */
  at(i: number): Address {
    return Object.freeze({ name: this.#names[i] as string, deviceId: this.#ids[i] as number });
  }

  /** The devices in insertion order (new frozen addresses). */
  list(): Address[] {
    return this.#ids.map((_, i) => this.at(i));
  }
}

/** The devices handed one chain, and those of them that need it again. */
export interface HolderLists {
  readonly holders: DeviceSet;
  readonly resend: DeviceSet;
}

/**
 * `resend` (devices of `devices`; others are skipped) is written after `devices`: the canonical form
 * without a resend is what the fast path reads.
 */
export function encodeHolders(devices: readonly Address[], resend: readonly Address[] = []): Uint8Array {
  const w = new ProtoWriter();
  const at = new DeviceSet();
  for (const d of devices) {
    w.bytes(1, new ProtoWriter().string(1, d.name).uint32(2, d.deviceId).finish());
    at.add(d.name, d.deviceId);
  }
  for (const d of resend) {
    const i = at.indexOf(d.name, d.deviceId);
    if (i >= 0) w.uint32(2, i);
  }
  return w.finish();
}

/** Longest device name (UTF-16 code units), as core's `validateAddress`. */
const MAX_NAME_LENGTH = 1024;

function addChecked(out: DeviceSet, name: unknown, deviceId: unknown): void {
  if (
    typeof name !== 'string' ||
    name.length === 0 ||
    name.length > MAX_NAME_LENGTH ||
    typeof deviceId !== 'number' ||
    deviceId < 1 ||
    deviceId > MAX_DEVICE_ID
  ) {
    throw new DecodeError('sender key record holds a malformed device address');
  }
  out.add(name, deviceId);
}

/** Position after the last `smallVarint` (module scratch, so the hot loop allocates nothing). */
let varintEnd = 0;

/** Reads one varint of at most 4 bytes at `pos` (its end in `varintEnd`), or -1. */
function smallVarint(b: Uint8Array, pos: number): number {
  let v = 0;
  for (let i = 0; i < 4 && pos < b.length; i++) {
    const byte = b[pos++] as number;
    v |= (byte & 0x7f) << (7 * i);
    if ((byte & 0x80) === 0) {
      varintEnd = pos;
      return v;
    }
  }
  return -1;
}

/**
 * Walks the canonical form only: `0a len { 0a n name 10 id }` repeated, handing each device's name
 * bytes and id to `visit` (which throws `DecodeError` for a bad device). False when the bytes are
 * not in that form (valid or not: the caller then uses the general reader).
 */
function walkCanonical(
  b: Uint8Array,
  visit: (name: Uint8Array, ascii: boolean, deviceId: number) => void,
): boolean {
  let pos = 0;
  while (pos < b.length) {
    if (b[pos] !== 0x0a) return false;
    const entryLength = smallVarint(b, pos + 1);
    if (entryLength < 0) return false;
    const end = varintEnd + entryLength;
    if (end > b.length || b[varintEnd] !== 0x0a) return false;
    const nameLength = smallVarint(b, varintEnd + 1);
    if (nameLength < 0) return false;
    const nameStart = varintEnd;
    const nameEnd = nameStart + nameLength;
    if (nameEnd + 2 > end || b[nameEnd] !== 0x10) return false;
    const id = smallVarint(b, nameEnd + 1);
    if (id < 0 || varintEnd !== end) return false;
    let high = 0;
    for (let i = nameStart; i < nameEnd; i++) high |= b[i] as number;
    visit(b.subarray(nameStart, nameEnd), (high & 0x80) === 0, id);
    pos = end;
  }
  return true;
}

function nameOf(raw: Uint8Array, ascii: boolean): string {
  if (ascii) {
    // Checked before the conversion: `apply` with a few hundred thousand arguments (a record edited
    // on disk) overflows the stack with a RangeError. ASCII bytes are one code unit each.
    if (raw.length > MAX_NAME_LENGTH)
      throw new DecodeError('sender key record holds a malformed device address');
    return String.fromCharCode.apply(null, raw as unknown as number[]);
  }
  try {
    return fromUtf8(raw);
  } catch {
    throw new DecodeError('sender key record holds a malformed device address');
  }
}

/** Checks an encoded device list without building it (fast for the canonical form). */
export function validateHolders(bytes: Uint8Array): void {
  const ok = walkCanonical(bytes, (raw, ascii, deviceId) => {
    if (ascii) {
      if (raw.length === 0 || raw.length > MAX_NAME_LENGTH || deviceId < 1 || deviceId > MAX_DEVICE_ID) {
        throw new DecodeError('sender key record holds a malformed device address');
      }
    } else addChecked(new DeviceSet(), nameOf(raw, false), deviceId);
  });
  if (!ok) decodeHolderLists(bytes);
}

/** The devices handed the chain (field 1). */
export function decodeHolders(bytes: Uint8Array | undefined): DeviceSet {
  return decodeHolderLists(bytes).holders;
}

export function decodeHolderLists(bytes: Uint8Array | undefined): HolderLists {
  const fast = new DeviceSet();
  const resend = new DeviceSet();
  if (bytes === undefined) return { holders: fast, resend };
  if (walkCanonical(bytes, (raw, ascii, deviceId) => addChecked(fast, nameOf(raw, ascii), deviceId)))
    return { holders: fast, resend };
  const out = new DeviceSet();
  const again: number[] = [];
  const r = new ProtoReader(bytes);
  for (let h = r.next(); h; h = r.next()) {
    if (h.field === 2) {
      r.expect(h, WireType.Varint);
      again.push(r.uint32());
      continue;
    }
    if (h.field !== 1) {
      r.skip(h.wireType);
      continue;
    }
    r.expect(h, WireType.LengthDelimited);
    const d = new ProtoReader(r.bytes());
    let name: string | undefined;
    let deviceId: number | undefined;
    for (let g = d.next(); g; g = d.next()) {
      if (g.field === 1) {
        d.expect(g, WireType.LengthDelimited);
        name = d.string();
      } else if (g.field === 2) {
        d.expect(g, WireType.Varint);
        deviceId = d.uint32();
      } else d.skip(g.wireType);
    }
    addChecked(out, name, deviceId);
  }
  for (const i of again) {
    if (i >= out.size) throw new DecodeError('sender key record holds a malformed device address');
    const d = out.at(i);
    resend.add(d.name, d.deviceId);
  }
  return { holders: out, resend };
}

/** Validates a list of devices; repeats are dropped, the first occurrence's order kept. */
export function uniqueDevices(devices: readonly Address[], what: string): DeviceSet {
  if (!Array.isArray(devices)) throw new TypeError(`${what} must be an array of addresses`);
  const out = new DeviceSet();
  for (const d of devices) {
    validateAddress(d);
    out.add(d.name, d.deviceId);
  }
  return out;
}

const INSPECT = Symbol.for('nodejs.util.inspect.custom');

/** Type tag of a persisted key-holder record: `00` then ASCII "E2KH" (never valid protobuf). */
export const KEY_HOLDER_RECORD_TAG = Uint8Array.of(0x00, 0x45, 0x32, 0x4b, 0x48);
/** Format version written by this release. */
export const KEY_HOLDER_RECORD_VERSION = 1;

/**
 * Which member devices were handed a sender's chain `chainId` (sender side). Kept apart from the
 * `SenderKeyRecord`, so encrypting never reads or writes it whatever the group size; bound to a chain
 * id, so a record left over from before a rotation counts as empty.
 *
 * Format: `00 "E2KH" ‖ version(1) ‖ protobuf { 1: chain_id, 2: Holders }`.
 */
export class KeyHolderRecord {
  readonly chainId: number;
  readonly #holders: Uint8Array;

  private constructor(chainId: number, holders: Uint8Array) {
    this.chainId = chainId;
    this.#holders = holders;
  }

  /** `resend`: those of `devices` that asked for the chain again (others are ignored). */
  static create(
    chainId: number,
    devices: readonly Address[],
    resend: readonly Address[] = [],
  ): KeyHolderRecord {
    if (!Number.isInteger(chainId) || chainId < 0 || chainId > 0xffff_ffff) {
      throw new RangeError('chainId must be a uint32');
    }
    const set = uniqueDevices(devices, 'devices');
    const again = uniqueDevices(resend, 'resend')
      .list()
      .filter((d) => set.has(d));
    return new KeyHolderRecord(chainId, encodeHolders(set.list(), again));
  }

  static deserialize(bytes: Uint8Array): KeyHolderRecord {
    const { body } = readTagged(bytes, KEY_HOLDER_RECORD_TAG, 'key holder record', [1]);
    const r = new ProtoReader(body);
    let chainId = 0;
    let holders: Uint8Array = new Uint8Array(0);
    for (let h = r.next(); h; h = r.next()) {
      if (h.field === 1) {
        r.expect(h, WireType.Varint);
        chainId = r.uint32();
      } else if (h.field === 2) {
        r.expect(h, WireType.LengthDelimited);
        holders = r.bytes();
      } else r.skip(h.wireType);
    }
    validateHolders(holders); // a malformed record is refused when read
    return new KeyHolderRecord(chainId, holders);
  }

  serialize(): Uint8Array {
    const w = new ProtoWriter();
    if (this.chainId !== 0) w.uint32(1, this.chainId);
    if (this.#holders.length > 0) w.bytes(2, this.#holders);
    return writeTagged(KEY_HOLDER_RECORD_TAG, KEY_HOLDER_RECORD_VERSION, w.finish());
  }

  /** Every device handed the chain, those that asked for it again included (new frozen addresses, in the order they were recorded). */
  get devices(): Address[] {
    return decodeHolders(this.#holders).list();
  }

  /** @internal the encoded device list (no copy) */
  get encodedDevices(): Uint8Array {
    return this.#holders;
  }

  toString(): string {
    return `[KeyHolderRecord chain ${this.chainId}]`;
  }
  toJSON(): string {
    return this.toString();
  }
  [INSPECT](): string {
    return this.toString();
  }
}
brandRecord(KeyHolderRecord, 'KeyHolderRecord');
