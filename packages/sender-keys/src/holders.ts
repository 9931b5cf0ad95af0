/**
 * The member devices recorded as holding a sender's current chain, stored in the sender's own state
 * as `Holders { 1: repeated Device { 1: name, 2: device_id } }`. A send to a large group checks
 * every member against this list, so decoding has a fast path for the canonical form this package
 * writes (anything else goes through the general protobuf reader), and lookups go by name (whose
 * hash the engine caches) and then by device id, without building a key string per device.
 */
import {
  type Address,
  DecodeError,
  MAX_DEVICE_ID,
  ProtoReader,
  ProtoWriter,
  validateAddress,
  WireType,
} from '@e2ee-kit/core';

/** A set of devices in insertion order. */
export class DeviceSet {
  readonly #byName = new Map<string, number[]>();
  readonly #order: Address[] = [];

  /** Adds a device; false if it was already there. */
  add(name: string, deviceId: number): boolean {
    const ids = this.#byName.get(name);
    if (ids === undefined) this.#byName.set(name, [deviceId]);
    else if (ids.includes(deviceId)) return false;
    else ids.push(deviceId);
    this.#order.push(Object.freeze({ name, deviceId }));
    return true;
  }

  has(a: Address): boolean {
    return this.#byName.get(a.name)?.includes(a.deviceId) ?? false;
  }

  get size(): number {
    return this.#order.length;
  }

  /** The devices in insertion order (frozen addresses). */
  list(): Address[] {
    return this.#order.slice();
  }
}

export function encodeHolders(devices: readonly Address[]): Uint8Array {
  const w = new ProtoWriter();
  for (const d of devices) w.bytes(1, new ProtoWriter().string(1, d.name).uint32(2, d.deviceId).finish());
  return w.finish();
}

const utf8Decoder = new TextDecoder('utf-8', { fatal: true });

function addChecked(out: DeviceSet, name: unknown, deviceId: unknown): void {
  if (
    typeof name !== 'string' ||
    name.length === 0 ||
    name.length > 1024 ||
    typeof deviceId !== 'number' ||
    deviceId < 1 ||
    deviceId > MAX_DEVICE_ID
  ) {
    throw new DecodeError('sender key record holds a malformed device address');
  }
  out.add(name, deviceId);
}

/** Reads one varint of at most 4 bytes at `pos`; returns [value, next] or undefined. */
function smallVarint(b: Uint8Array, pos: number): [number, number] | undefined {
  let v = 0;
  for (let i = 0; i < 4 && pos < b.length; i++) {
    const byte = b[pos++] as number;
    v |= (byte & 0x7f) << (7 * i);
    if ((byte & 0x80) === 0) return [v, pos];
  }
  return undefined;
}

/** Canonical form only: `0a len { 0a n name 10 id }` repeated. False when anything differs. */
function decodeCanonical(b: Uint8Array, out: DeviceSet): boolean {
  let pos = 0;
  while (pos < b.length) {
    if (b[pos] !== 0x0a) return false;
    const entry = smallVarint(b, pos + 1);
    if (entry === undefined) return false;
    const end = entry[1] + entry[0];
    if (end > b.length || b[entry[1]] !== 0x0a) return false;
    const len = smallVarint(b, entry[1] + 1);
    if (len === undefined) return false;
    const nameEnd = len[1] + len[0];
    if (nameEnd + 2 > end || b[nameEnd] !== 0x10) return false;
    const id = smallVarint(b, nameEnd + 1);
    if (id === undefined || id[1] !== end) return false;
    const raw = b.subarray(len[1], nameEnd);
    let ascii = true;
    for (let i = 0; i < raw.length; i++) {
      if ((raw[i] as number) >= 0x80) {
        ascii = false;
        break;
      }
    }
    let name: string;
    if (ascii) name = String.fromCharCode.apply(null, raw as unknown as number[]);
    else {
      try {
        name = utf8Decoder.decode(raw);
      } catch {
        return false;
      }
    }
    addChecked(out, name, id[0]);
    pos = end;
  }
  return true;
}

export function decodeHolders(bytes: Uint8Array | undefined): DeviceSet {
  const fast = new DeviceSet();
  if (bytes === undefined || decodeCanonical(bytes, fast)) return fast;
  const out = new DeviceSet();
  const r = new ProtoReader(bytes);
  for (let h = r.next(); h; h = r.next()) {
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
  return out;
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
