/**
 * A small, allocation-light protobuf encoder/decoder for the hot path (session records are decoded
 * and re-encoded on every encrypt and decrypt). Same wire format as core's ProtoReader/ProtoWriter;
 * field values are limited to what session records use: varints below 2^53 and length-delimited bytes.
 *
 * Decoder guarantees (as core's): every length is checked against the input, so nothing is allocated
 * beyond the input size; anything malformed throws `DecodeError`; unknown fields are skipped, groups
 * (wire types 3/4) included, as prost's `skip_field` (libsignal's decoder) skips them: to the
 * end-group of the same field number, within prost's recursion limit, and a mismatched, unopened or
 * unended end-group is a `DecodeError`. A group start reaches callers as wire type 3, which every
 * value reader refuses (a known field sent as a group is a wire-type mismatch, as in prost).
 */
import { DecodeError } from '@e2ee-kit/core';

const MAX_FIELD = 0x1fffffff;
const START_GROUP = 3;
const END_GROUP = 4;
/**
 * prost's `RECURSION_LIMIT`: a top-level message's fields are read with this many levels left, a
 * nested message's and a group's contents with one fewer, and with none left nothing can be skipped
 * and no message nested. The same count as core's ProtoReader, here also across nested messages.
 */
const RECURSION_LIMIT = 100;
const TOO_DEEP = 'protobuf nested too deep';

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
  /** What is left of prost's recursion limit for this reader's fields. */
  readonly #levels: number;
  /** Field number and wire type of the last `next()`: read the value, or `skip()` it, before the next. */
  field = 0;
  wireType = 0;

  /**
   * Reads `buf[start, end)` as a top-level message (or, with `levels`, one nested that deep); views
   * returned by `bytes()` alias `buf`.
   */
  constructor(buf: Uint8Array, start = 0, end = buf.length, levels = RECURSION_LIMIT) {
    this.#buf = buf;
    this.#pos = start;
    this.#end = end;
    this.#levels = levels;
  }

  /** Advances to the next field; false at the end. */
  next(): boolean {
    if (this.#pos >= this.#end) return false;
    const key = this.varint();
    const wt = key % 8;
    const field = Math.floor(key / 8);
    if (field === 0 || field > MAX_FIELD) throw new DecodeError('invalid protobuf field number');
    if (wt > START_GROUP && wt !== 5) {
      // prost refuses an end-group with no start for a known field (wire type) and an unknown one alike.
      if (wt === END_GROUP) throw new DecodeError('protobuf end-group without a start');
      throw new DecodeError('unsupported protobuf wire type');
    }
    this.field = field;
    this.wireType = wt;
    return true;
  }

  /**
   * A varint as prost reads one (up to ten bytes, the tenth at most 1: a u64), as a number: exact below
   * 2^53, and above that a float no smaller than 2^53 (IEEE addition never rounds below its largest
   * term), so every range check decides as on the exact value. `uint32()` takes the exact low 32 bits
   * of a wide one from `#low32`.
   */
  varint(): number {
    const b = this.#buf;
    let v = 0;
    // One to four bytes (below 2^28): every key, length and counter a real encoder writes.
    for (let shift = 0; shift < 28; shift += 7) {
      if (this.#pos >= this.#end) throw new DecodeError('protobuf varint truncated');
      const byte = b[this.#pos++] as number;
      v |= (byte & 0x7f) << shift;
      if (byte < 0x80) return v;
    }
    return this.#wideVarint(v);
  }

  /** Bytes five to ten of a varint whose first four gave `low28`. */
  #wideVarint(low28: number): number {
    const b = this.#buf;
    let v = low28;
    let mul = 0x1000_0000;
    for (let i = 4; i < 10; i++) {
      if (this.#pos >= this.#end) throw new DecodeError('protobuf varint truncated');
      const byte = b[this.#pos++] as number;
      if (i === 9 && byte > 1) throw new DecodeError('protobuf varint overflows 64 bits');
      if (i === 4) this.#low32 = (low28 | ((byte & 0x0f) << 28)) >>> 0;
      v += (byte & 0x7f) * mul;
      mul *= 0x80;
      if (byte < 0x80) return v;
    }
    throw new DecodeError('protobuf varint too long'); // unreachable: the tenth byte is < 0x80
  }

  /** Low 32 bits of the last varint of five or more bytes. */
  #low32 = 0;

  /**
   * A uint32 field (wire type checked) as prost reads it: the low 32 bits of the varint
   * (`value as u32`), so a wide encoding gives the value libsignal reads.
   */
  uint32(): number {
    if (this.wireType !== 0) throw new DecodeError(`protobuf field ${this.field} has the wrong wire type`);
    const v = this.varint();
    return v <= 0xffff_ffff ? v : this.#low32;
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

  /** A nested message's reader, one level deeper (prost's `message::merge`). */
  sub(): FastReader {
    const { start, end } = this.span();
    if (this.#levels === 0) throw new DecodeError(TOO_DEEP);
    return new FastReader(this.#buf, start, end, this.#levels - 1);
  }

  /** Skips the value of the field `next()` returned (a group up to its end-group). */
  skip(): void {
    this.#skipValue(this.wireType, this.field, this.#levels);
  }

  /**
   * prost's `skip_field`, `levels` being what is left of its recursion limit: none left refuses any
   * value, and a group's fields are skipped with one fewer. Each step reads at least one byte and the
   * recursion is at most `RECURSION_LIMIT` deep, so the work is linear in the input.
   */
  #skipValue(wireType: number, field: number, levels: number): void {
    if (levels === 0) throw new DecodeError(TOO_DEEP);
    switch (wireType) {
      case 0:
        this.varint();
        return;
      case 1:
        this.#advance(8);
        return;
      case 2:
        this.#advance(this.varint());
        return;
      case START_GROUP:
        for (;;) {
          if (this.#pos >= this.#end) throw new DecodeError('protobuf group truncated');
          const key = this.varint();
          const inner = Math.floor(key / 8);
          if (inner === 0 || inner > MAX_FIELD) throw new DecodeError('invalid protobuf field number');
          if (key % 8 === END_GROUP) {
            if (inner !== field) throw new DecodeError('protobuf end-group of another field');
            return;
          }
          this.#skipValue(key % 8, inner, levels - 1);
        }
      case 5:
        this.#advance(4);
        return;
      default:
        throw new DecodeError('unsupported protobuf wire type');
    }
  }

  #advance(n: number): void {
    if (this.#end - this.#pos < n) throw new DecodeError('protobuf input truncated');
    this.#pos += n;
  }
}
