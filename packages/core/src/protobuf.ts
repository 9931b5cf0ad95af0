/**
 * A minimal protobuf (proto2/proto3 wire format) reader and writer. No code generation, no `eval`.
 *
 * Reader guarantees: every length is checked against the remaining input before it is used, so no
 * allocation is ever larger than the input; anything malformed throws `DecodeError` and nothing else;
 * unknown fields are skipped, groups (wire types 3/4) included, exactly as prost (which libsignal
 * reads every message with) skips them: walked to the end-group of the same field number, nested at
 * most `RECURSION_LIMIT` deep, and a mismatched, unopened or missing end-group is a `DecodeError`.
 * Nothing reads a group as a value: `next()` hands its start over as `WireType.StartGroup`, which
 * only `skip()` accepts (a known field sent as a group is a wire-type mismatch, as in prost).
 */
import { assertBytes, copyBytes } from './bytes.js';
import { DecodeError } from './errors.js';
import { redact } from './redact.js';
import { fromUtf8, utf8 } from './utf8.js';

export const WireType = { Varint: 0, Fixed64: 1, LengthDelimited: 2, StartGroup: 3, Fixed32: 5 } as const;
export type WireType = (typeof WireType)[keyof typeof WireType];

export interface FieldHeader {
  readonly field: number;
  readonly wireType: WireType;
}

const MAX_FIELD = 0x1fffffff;
const TWO_32 = 0x1_0000_0000;
const END_GROUP = 4;
/**
 * prost's `RECURSION_LIMIT`: a top-level field is skipped with this many levels left, a group's
 * contents with one fewer, and skipping with none left fails. Readers here are top-level messages.
 */
const RECURSION_LIMIT = 100;

export class ProtoReader {
  readonly #buf: Uint8Array;
  #pos = 0;
  /** Field number of a group whose start `next()` just returned: only `skip()` may consume it. */
  #pendingGroup: number | undefined;

  constructor(bytes: Uint8Array) {
    assertBytes(bytes, 'bytes');
    this.#buf = bytes;
  }

  get done(): boolean {
    return this.#pos >= this.#buf.length;
  }

  get remaining(): number {
    return this.#buf.length - this.#pos;
  }

  /** Next field header, or `undefined` at the end of the input. */
  next(): FieldHeader | undefined {
    this.#noPendingGroup();
    if (this.done) return undefined;
    const header = this.#key();
    // An end-group here has no start: prost refuses it for a known field (wire type) and an unknown
    // one (skip_field) alike.
    if (header.wireType === END_GROUP) throw new DecodeError('protobuf end-group without a start');
    if (header.wireType === WireType.StartGroup) this.#pendingGroup = header.field;
    return header as FieldHeader;
  }

  /** Reads a varint that must fit in 32 bits unsigned. */
  uint32(): number {
    this.#noPendingGroup();
    const v = this.#varintNumber();
    if (v >= 0x1_0000_0000) throw new DecodeError('protobuf uint32 out of range');
    return v;
  }

  /**
   * Reads a uint32 field as prost (libsignal's protobuf library) does: any varint up to 64 bits, of
   * which the low 32 bits are the value (`value as u32`). For wire messages that libsignal also parses,
   * so the same bytes give the same field; our own records use the strict `uint32()`.
   */
  uint32Truncated(): number {
    return Number(this.uint64() & 0xffff_ffffn);
  }

  /** Reads a 64-bit unsigned varint. */
  uint64(): bigint {
    this.#noPendingGroup();
    return this.#varint();
  }

  bool(): boolean {
    this.#noPendingGroup();
    const v = this.#varintNumber();
    if (v > 1) throw new DecodeError('protobuf bool out of range');
    return v === 1;
  }

  /** Length-delimited field as a copy (callers may keep it; the input may be reused). */
  bytes(): Uint8Array {
    this.#noPendingGroup();
    const len = this.#length();
    const out = copyBytes(this.#buf, this.#pos, this.#pos + len);
    this.#pos += len;
    return out;
  }

  string(): string {
    const bytes = this.bytes();
    try {
      return fromUtf8(bytes);
    } catch {
      throw new DecodeError('protobuf string is not valid UTF-8');
    }
  }

  fixed32(): number {
    this.#noPendingGroup();
    this.#need(4);
    const b = this.#buf;
    const p = this.#pos;
    this.#pos += 4;
    return (
      ((b[p] as number) | ((b[p + 1] as number) << 8) | ((b[p + 2] as number) << 16)) +
      (b[p + 3] as number) * 0x1000000
    );
  }

  fixed64(): bigint {
    const lo = this.fixed32();
    const hi = this.fixed32();
    return (BigInt(hi) << 32n) | BigInt(lo);
  }

  /** Skips the value of a field whose header was just read (a group up to its end-group). */
  skip(wireType: WireType): void {
    const group = this.#pendingGroup;
    this.#pendingGroup = undefined;
    if ((group !== undefined) !== (wireType === WireType.StartGroup))
      throw new DecodeError('protobuf group skipped without its start');
    this.#skipField(wireType, group ?? 0, RECURSION_LIMIT);
  }

  /**
   * prost's `skip_field`: `levels` is what is left of its recursion limit. Every step reads at least
   * one byte and the depth is bounded, so the work is linear in the input.
   */
  #skipField(wireType: number, field: number, levels: number): void {
    if (levels === 0) throw new DecodeError('protobuf groups nested too deep');
    switch (wireType) {
      case WireType.Varint:
        this.#varintNumber();
        return;
      case WireType.Fixed64:
        this.#need(8);
        this.#pos += 8;
        return;
      case WireType.LengthDelimited: {
        const len = this.#length();
        this.#pos += len;
        return;
      }
      case WireType.StartGroup:
        for (;;) {
          if (this.done) throw new DecodeError('protobuf group truncated');
          const inner = this.#key();
          if (inner.wireType === END_GROUP) {
            if (inner.field !== field) throw new DecodeError('protobuf end-group of another field');
            return;
          }
          this.#skipField(inner.wireType, inner.field, levels - 1);
        }
      case WireType.Fixed32:
        this.#need(4);
        this.#pos += 4;
        return;
      default:
        throw new DecodeError('protobuf end-group without a start');
    }
  }

  /** A field key as prost's `decode_key` reads one: field 1..2^29-1, wire type 0..5. */
  #key(): { field: number; wireType: number } {
    const key = this.#varintNumber();
    const wireType = key % 8;
    const field = Math.floor(key / 8);
    if (field === 0 || field > MAX_FIELD) throw new DecodeError('invalid protobuf field number');
    if (wireType > 5) throw new DecodeError('unsupported protobuf wire type');
    return { field, wireType };
  }

  #noPendingGroup(): void {
    if (this.#pendingGroup !== undefined) throw new DecodeError('protobuf group read as a value');
  }

  /** Throws `DecodeError` unless the header has the wire type the schema expects. */
  expect(header: FieldHeader, wireType: WireType): void {
    if (header.wireType !== wireType)
      throw new DecodeError(`protobuf field ${header.field} has the wrong wire type`);
  }

  #need(n: number): void {
    if (this.#buf.length - this.#pos < n) throw new DecodeError('protobuf input truncated');
  }

  #length(): number {
    const v = this.#varintNumber();
    if (v > this.#buf.length - this.#pos) throw new DecodeError('protobuf length exceeds input');
    return v;
  }

  /**
   * The same varint as `#varint` with the same errors, as a plain number: exact below 2^53, and above
   * that a float no smaller than 2^53 (IEEE addition never rounds below its largest term), so every
   * range check the callers make (uint32, bool, length, field number) decides as on the exact value.
   * Headers, lengths and small integers are read on every field; a BigInt per read cost more than
   * the rest of decoding a skipped-key entry.
   */
  #varintNumber(): number {
    const b = this.#buf;
    let result = 0;
    for (let i = 0; i < 28; i += 7) {
      if (this.#pos >= b.length) throw new DecodeError('protobuf varint truncated');
      const byte = b[this.#pos++] as number;
      result |= (byte & 0x7f) << i;
      if ((byte & 0x80) === 0) return result >>> 0;
    }
    let value = result >>> 0;
    let scale = 0x1000_0000; // 2^28
    for (let i = 4; i < 10; i++) {
      if (this.#pos >= b.length) throw new DecodeError('protobuf varint truncated');
      const byte = b[this.#pos++] as number;
      if (i === 9 && byte > 1) throw new DecodeError('protobuf varint overflows 64 bits');
      value += (byte & 0x7f) * scale;
      if ((byte & 0x80) === 0) return value;
      scale *= 128;
    }
    throw new DecodeError('protobuf varint too long');
  }

  #varint(): bigint {
    const b = this.#buf;
    // Fast path: up to 4 bytes fit in a small integer.
    let result = 0;
    let shift = 0;
    for (let i = 0; i < 4; i++) {
      if (this.#pos >= b.length) throw new DecodeError('protobuf varint truncated');
      const byte = b[this.#pos++] as number;
      result |= (byte & 0x7f) << shift;
      if ((byte & 0x80) === 0) return BigInt(result >>> 0);
      shift += 7;
    }
    let big = BigInt(result >>> 0);
    let bigShift = 28n;
    for (let i = 4; i < 10; i++) {
      if (this.#pos >= b.length) throw new DecodeError('protobuf varint truncated');
      const byte = b[this.#pos++] as number;
      if (i === 9 && byte > 1) throw new DecodeError('protobuf varint overflows 64 bits');
      big |= BigInt(byte & 0x7f) << bigShift;
      if ((byte & 0x80) === 0) return big;
      bigShift += 7n;
    }
    throw new DecodeError('protobuf varint too long');
  }
}

// The input or output may be a serialized secret (an identity key pair): print neither.
redact(ProtoReader, '[ProtoReader]');

/** Appends fields in the order they are written (write them in field-number order for canonical bytes). */
export class ProtoWriter {
  #chunks: number[] = [];
  #parts: Uint8Array[] = [];
  #size = 0;

  uint32(field: number, value: number): this {
    if (!Number.isInteger(value) || value < 0 || value >= TWO_32) throw new RangeError('uint32 out of range');
    this.#key(field, WireType.Varint);
    this.#varintNumber(value);
    return this;
  }

  uint64(field: number, value: bigint | number): this {
    if (typeof value !== 'bigint' && typeof value !== 'number')
      throw new TypeError('uint64 value must be a bigint or a number');
    if (typeof value === 'number' && !Number.isSafeInteger(value))
      throw new RangeError('uint64 must be a safe integer');
    const v = typeof value === 'bigint' ? value : BigInt(value);
    if (v < 0n || v >= 1n << 64n) throw new RangeError('uint64 out of range');
    this.#key(field, WireType.Varint);
    this.#varintBig(v);
    return this;
  }

  bool(field: number, value: boolean): this {
    if (typeof value !== 'boolean') throw new TypeError('bool value must be a boolean');
    this.#key(field, WireType.Varint);
    this.#byte(value ? 1 : 0);
    return this;
  }

  /** `value` is read when `finish()` runs (not copied here): do not change it before then. */
  bytes(field: number, value: Uint8Array): this {
    assertBytes(value, 'bytes value');
    this.#key(field, WireType.LengthDelimited);
    this.#varintNumber(value.length);
    this.#flush();
    this.#parts.push(value);
    this.#size += value.length;
    return this;
  }

  string(field: number, value: string): this {
    if (typeof value !== 'string') throw new TypeError('string value must be a string');
    return this.bytes(field, utf8(value));
  }

  fixed32(field: number, value: number): this {
    if (!Number.isInteger(value) || value < 0 || value >= TWO_32)
      throw new RangeError('fixed32 out of range');
    this.#key(field, WireType.Fixed32);
    for (let i = 0; i < 4; i++) this.#byte((value >>> (8 * i)) & 0xff);
    return this;
  }

  fixed64(field: number, value: bigint): this {
    if (typeof value !== 'bigint' || value < 0n || value >= 1n << 64n)
      throw new RangeError('fixed64 out of range');
    this.#key(field, WireType.Fixed64);
    for (let i = 0n; i < 8n; i++) this.#byte(Number((value >> (8n * i)) & 0xffn));
    return this;
  }

  finish(): Uint8Array {
    this.#flush();
    const out = new Uint8Array(this.#size);
    let offset = 0;
    for (const p of this.#parts) {
      out.set(p, offset);
      offset += p.length;
    }
    return out;
  }

  #key(field: number, wireType: WireType): void {
    if (!Number.isInteger(field) || field < 1 || field > MAX_FIELD)
      throw new RangeError('invalid field number');
    this.#varintNumber(field * 8 + wireType);
  }

  #byte(b: number): void {
    this.#chunks.push(b);
    this.#size++;
  }

  #varintNumber(v: number): void {
    while (v >= 0x80) {
      this.#byte((v % 0x80) | 0x80);
      v = Math.floor(v / 0x80);
    }
    this.#byte(v);
  }

  #varintBig(v: bigint): void {
    while (v >= 0x80n) {
      this.#byte(Number(v & 0x7fn) | 0x80);
      v >>= 7n;
    }
    this.#byte(Number(v));
  }

  #flush(): void {
    if (this.#chunks.length > 0) {
      this.#parts.push(Uint8Array.from(this.#chunks));
      this.#chunks = [];
    }
  }
}

redact(ProtoWriter, '[ProtoWriter]');

/** LEB128 unsigned varint on its own (used outside protobuf messages, e.g. SPQR headers). */
export function encodeVarint(value: number): Uint8Array {
  if (!Number.isSafeInteger(value) || value < 0)
    throw new RangeError('varint must be a non-negative safe integer');
  const out: number[] = [];
  let v = value;
  while (v >= 0x80) {
    out.push((v % 0x80) | 0x80);
    v = Math.floor(v / 0x80);
  }
  out.push(v);
  return Uint8Array.from(out);
}

/** Decodes a LEB128 varint at `offset`; returns the value and the offset after it. */
export function decodeVarint(bytes: Uint8Array, offset = 0): { value: number; next: number } {
  assertBytes(bytes, 'bytes');
  if (typeof offset !== 'number' || !Number.isInteger(offset))
    throw new TypeError('offset must be an integer');
  if (offset < 0 || offset > bytes.length) throw new RangeError('offset is outside the input');
  let value = 0;
  let mul = 1;
  for (let i = offset; i < bytes.length && i < offset + 8; i++) {
    const b = bytes[i] as number;
    value += (b & 0x7f) * mul;
    if ((b & 0x80) === 0) {
      if (!Number.isSafeInteger(value)) throw new DecodeError('varint too large');
      return { value, next: i + 1 };
    }
    mul *= 0x80;
  }
  throw new DecodeError('varint truncated or too long');
}
