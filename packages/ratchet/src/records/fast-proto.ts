/**
 * A small, allocation-light protobuf encoder/decoder for the hot path (session records are decoded
 * and re-encoded on every encrypt and decrypt). Same wire format as core's ProtoReader/ProtoWriter;
 * field values are limited to what session records use: varints below 2^53 and length-delimited bytes.
 *
 * Decoder guarantees (as core's): every length is checked against the input, so nothing is allocated
 * beyond the input size; anything malformed throws `DecodeError`; unknown fields are skipped.
 */
import { DecodeError } from '@e2ee-kit/core';

/** One scratch buffer shared by writers (encoding is synchronous, so at most one writer uses it at a time). */
let scratch: Uint8Array | undefined = new Uint8Array(16384);

export class FastWriter {
  buf: Uint8Array;
  pos = 0;

  /**
   * Takes the shared scratch buffer when it is free (call `finish()` to give it back), else allocates.
   */
  constructor(capacity = 256) {
    if (scratch && scratch.length >= capacity) {
      this.buf = scratch;
      scratch = undefined;
    } else {
      this.buf = new Uint8Array(Math.max(capacity, 256));
    }
  }

  #ensure(n: number): void {
    if (this.pos + n <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.pos + n) size *= 2;
    const next = new Uint8Array(size);
    next.set(this.buf.subarray(0, this.pos));
    this.buf = next;
  }

  varint(v: number): void {
    this.#ensure(8);
    const b = this.buf;
    while (v >= 0x80) {
      b[this.pos++] = (v % 0x80) | 0x80;
      v = Math.floor(v / 0x80);
    }
    b[this.pos++] = v;
  }

  /** Varint field (wire type 0). */
  uint(field: number, v: number): void {
    this.varint(field * 8);
    this.varint(v);
  }

  /** Length-delimited field (wire type 2). */
  bytes(field: number, v: Uint8Array): void {
    this.varint(field * 8 + 2);
    this.varint(v.length);
    this.#ensure(v.length);
    this.buf.set(v, this.pos);
    this.pos += v.length;
  }

  /**
   * Length-delimited field from `src[start, end)`, copied byte by byte: for many short ranges of one
   * buffer (an SPQR decoder's 16 point lists), where a view per range cost more than the copy.
   */
  bytesRange(field: number, src: Uint8Array, start: number, end: number): void {
    const n = end - start;
    this.varint(field * 8 + 2);
    this.varint(n);
    this.#ensure(n);
    const b = this.buf;
    let p = this.pos;
    for (let i = start; i < end; i++) b[p++] = src[i] as number;
    this.pos = p;
  }

  /** A nested message written in place: its length prefix is fixed up afterwards. */
  nested(field: number, write: (w: FastWriter) => void): void {
    this.varint(field * 8 + 2);
    this.#ensure(1);
    const lenPos = this.pos++;
    const start = this.pos;
    write(this);
    const len = this.pos - start;
    if (len < 0x80) {
      this.buf[lenPos] = len;
      return;
    }
    let extra = 0;
    for (let v = len; v >= 0x80; v = Math.floor(v / 0x80)) extra++;
    this.#ensure(extra);
    this.buf.copyWithin(start + extra, start, this.pos);
    this.pos += extra;
    let p = lenPos;
    let v = len;
    while (v >= 0x80) {
      this.buf[p++] = (v % 0x80) | 0x80;
      v = Math.floor(v / 0x80);
    }
    this.buf[p] = v;
  }

  /**
   * The bytes written, as a new array with `prefix` before them and `tail` zero bytes after them. The
   * writer must not be used afterwards.
   */
  finish(prefix?: Uint8Array, tail = 0): Uint8Array {
    const extra = prefix ? prefix.length : 0;
    const out = new Uint8Array(this.pos + extra + tail);
    if (prefix) out.set(prefix, 0);
    out.set(this.buf.subarray(0, this.pos), extra);
    // Give a (possibly grown) buffer back as the scratch buffer, unless it became very large.
    if (!scratch && this.buf.length <= 1 << 20) scratch = this.buf;
    this.pos = 0;
    return out;
  }
}

export class FastReader {
  readonly #buf: Uint8Array;
  #pos: number;
  readonly #end: number;
  /** Field number and wire type of the last `next()`. */
  field = 0;
  wireType = 0;

  /** Reads `buf[start, end)`; views returned by `bytes()` alias `buf`. */
  constructor(buf: Uint8Array, start = 0, end = buf.length) {
    this.#buf = buf;
    this.#pos = start;
    this.#end = end;
  }

  /** Advances to the next field; false at the end. */
  next(): boolean {
    if (this.#pos >= this.#end) return false;
    const key = this.varint();
    const wt = key % 8;
    const field = Math.floor(key / 8);
    if (field === 0 || field > 0x1fffffff) throw new DecodeError('invalid protobuf field number');
    if (wt !== 0 && wt !== 1 && wt !== 2 && wt !== 5) throw new DecodeError('unsupported protobuf wire type');
    this.field = field;
    this.wireType = wt;
    return true;
  }

  /** A varint below 2^53 (larger ones are refused). */
  varint(): number {
    const b = this.#buf;
    let v = 0;
    let mul = 1;
    for (let i = 0; i < 8; i++) {
      if (this.#pos >= this.#end) throw new DecodeError('protobuf varint truncated');
      const byte = b[this.#pos++] as number;
      v += (byte & 0x7f) * mul;
      if ((byte & 0x80) === 0) return v;
      mul *= 0x80;
    }
    throw new DecodeError('protobuf varint too large');
  }

  /** A varint field that must be a uint32 (wire type checked). */
  uint32(): number {
    if (this.wireType !== 0) throw new DecodeError(`protobuf field ${this.field} has the wrong wire type`);
    const v = this.varint();
    if (v > 0xffff_ffff) throw new DecodeError('protobuf uint32 out of range');
    return v;
  }

  /** A varint field of any size below 2^53. */
  uint53(): number {
    if (this.wireType !== 0) throw new DecodeError(`protobuf field ${this.field} has the wrong wire type`);
    return this.varint();
  }

  bool(): boolean {
    const v = this.uint32();
    if (v > 1) throw new DecodeError('protobuf bool out of range');
    return v === 1;
  }

  /** A length-delimited field as a view (no copy). */
  bytes(): Uint8Array {
    const { start, end } = this.span();
    return this.#buf.subarray(start, end);
  }

  /** Bounds of a length-delimited field; the reader moves past it. */
  span(): { start: number; end: number } {
    if (this.wireType !== 2) throw new DecodeError(`protobuf field ${this.field} has the wrong wire type`);
    const len = this.varint();
    if (len > this.#end - this.#pos) throw new DecodeError('protobuf length exceeds input');
    const start = this.#pos;
    this.#pos += len;
    return { start, end: this.#pos };
  }

  /** A nested message's reader. */
  sub(): FastReader {
    const { start, end } = this.span();
    return new FastReader(this.#buf, start, end);
  }

  skip(): void {
    switch (this.wireType) {
      case 0:
        this.varint();
        return;
      case 1:
        this.#advance(8);
        return;
      case 2:
        this.span();
        return;
      default:
        this.#advance(4);
    }
  }

  #advance(n: number): void {
    if (this.#end - this.#pos < n) throw new DecodeError('protobuf input truncated');
    this.#pos += n;
  }
}
