/**
 * Versioned persistence of an `SpqrState` (our own protobuf, read with core's bounded `ProtoReader`):
 *
 *   SpqrStateRecord { 1 format version = 1; 2 a2b; 3 Braid; 4 Chain }
 *   Braid  { 1 tag (1–11); 2 epoch; 3 auth root; 4 auth mac; 5 dk; 6 hdr; 7 ek; 8 ct1; 9 m;
 *            10 Encoder; 11 Decoder }
 *   Encoder { 1 object; 2 chunks emitted }   Decoder { 1 object length; 2 points × 16 (x,y BE16 pairs) }
 *   Chain  { 1 current epoch; 2 send epoch; 3 next root; 4 Link…; 5 max jump; 6 max ooo keys }
 *   Link   { 1 send Dir; 2 recv Dir }   Dir { 1 ctr; 2 next (absent = erased); 3 skipped (BE32 ‖ key)… }
 *
 * Decoding validates every length, count and field a state needs; anything else is a `DecodeError` with
 * code `SPQR_STATE_DECODE`.
 */
import { DecodeError, ProtoReader, ProtoWriter, WireType } from '@e2ee-kit/core';
import { type Braid, BraidTag, CT2_OBJECT_LENGTH, HDR_OBJECT_LENGTH } from './braid.js';
import type { Chain, ChainDirection, ChainLink } from './chain.js';
import { ChunkDecoder, ChunkEncoder } from './erasure.js';
import { stateDecodeError } from './errors.js';
import {
  CT1_LENGTH,
  DK_LENGTH,
  EK_VECTOR_LENGTH,
  ekMatchesHeader,
  HEADER_LENGTH,
  keysFromDk,
} from './mlkem768.js';
import { SpqrState, type SpqrStateData, stateData } from './state.js';

export const SPQR_STATE_FORMAT_VERSION = 1;
/** Links a chain can hold: libsignal keeps at most 3; a little slack for states mid-transition. */
const MAX_LINKS = 8;
const MAX_CHAIN_PARAM = 0xffff_ffff;

function writeEncoder(e: ChunkEncoder): Uint8Array {
  return new ProtoWriter().bytes(1, e.object).uint32(2, e.emitted).finish();
}

// Braids, decoders and encoders are immutable values, and one often outlives a message: a sender's
// braid keeps its decoder until the next chunk arrives. Their encodings are kept with them (module-
// private, never handed out: `ProtoWriter` copies what it is given).
const braidBytes = new WeakMap<Braid, Uint8Array>();
const decoderBytes = new WeakMap<ChunkDecoder, Uint8Array>();

function writeDecoder(d: ChunkDecoder): Uint8Array {
  let out = decoderBytes.get(d);
  if (!out) {
    const w = new ProtoWriter().uint32(1, d.length);
    for (const b of d.pointBytes()) w.bytes(2, b);
    out = w.finish();
    decoderBytes.set(d, out);
  }
  return out;
}

function writeBraid(b: Braid): Uint8Array {
  let out = braidBytes.get(b);
  if (!out) {
    out = encodeBraid(b);
    braidBytes.set(b, out);
  }
  return out;
}

function encodeBraid(b: Braid): Uint8Array {
  const w = new ProtoWriter().uint32(1, b.tag).uint64(2, b.epoch).bytes(3, b.auth.root).bytes(4, b.auth.mac);
  if ('keys' in b) w.bytes(5, b.keys.dk);
  if ('hdr' in b) w.bytes(6, b.hdr);
  if ('ek' in b) w.bytes(7, b.ek);
  if ('ct1' in b) w.bytes(8, b.ct1);
  if ('m' in b) w.bytes(9, b.m);
  const enc =
    'hdrEnc' in b
      ? b.hdrEnc
      : 'ekEnc' in b
        ? b.ekEnc
        : 'ct1Enc' in b
          ? b.ct1Enc
          : 'ct2Enc' in b
            ? b.ct2Enc
            : undefined;
  if (enc) w.bytes(10, writeEncoder(enc));
  const dec =
    'ct1Dec' in b
      ? b.ct1Dec
      : 'ct2Dec' in b
        ? b.ct2Dec
        : 'hdrDec' in b
          ? b.hdrDec
          : 'ekDec' in b
            ? b.ekDec
            : undefined;
  if (dec) w.bytes(11, writeDecoder(dec));
  return w.finish();
}

function writeDir(d: ChainDirection): Uint8Array {
  const w = new ProtoWriter().uint32(1, d.ctr);
  if (d.next) w.bytes(2, d.next);
  const keys = [...d.prev.entries()].sort((a, b) => a[0] - b[0]);
  const b = new Uint8Array(36 * keys.length);
  keys.forEach(([i, k], n) => {
    new DataView(b.buffer).setUint32(36 * n, i);
    b.set(k, 36 * n + 4);
  });
  if (keys.length > 0) w.bytes(3, b);
  return w.finish();
}

function writeChain(c: Chain): Uint8Array {
  const w = new ProtoWriter().uint64(1, c.currentEpoch).uint64(2, c.sendEpoch).bytes(3, c.nextRoot);
  for (const l of c.links)
    w.bytes(4, new ProtoWriter().bytes(1, writeDir(l.send)).bytes(2, writeDir(l.recv)).finish());
  return w.uint32(5, c.maxJump).uint32(6, c.maxOooKeys).finish();
}

export function serializeSpqrState(s: SpqrState): Uint8Array {
  return spqrStateBytes(s).slice();
}

/** @internal The state's encoding itself, not a copy: only for writers that copy it (the session record). */
export function spqrStateBytes(s: SpqrState): Uint8Array {
  let bytes = encoded.get(s);
  if (!bytes) {
    const d = stateData(s);
    bytes = new ProtoWriter()
      .uint32(1, SPQR_STATE_FORMAT_VERSION)
      .bool(2, d.a2b)
      .bytes(3, writeBraid(d.braid))
      .bytes(4, writeChain(d.chain))
      .finish();
    encoded.set(s, bytes);
    remember(bytes, s);
  }
  return bytes;
}

// ---- recent states by their bytes ----
//
// A session record is loaded from the store and saved back on every message, and the SPQR state is
// most of its decoding work (protobuf, erasure-decoder points, ML-KEM key vectors): ≈ 0.35 ms of a
// 0.9 ms message on the node provider. States are immutable values, so the bytes a state was written
// as (or read from) decode to the same state: a load of exactly those bytes returns the state kept
// here — after comparing every byte, so bytes that differ in any way are decoded (and checked) afresh.
// The module keeps its own copies of the bytes; at most RECENT states, the most recently used first.

/** States kept: the two sides of a few active conversations. */
const RECENT = 8;
/** Each state's encoding, ours (callers get copies). */
const encoded = new WeakMap<SpqrState, Uint8Array>();
const recent: { bytes: Uint8Array; state: SpqrState }[] = [];

function remember(bytes: Uint8Array, state: SpqrState): void {
  recent.unshift({ bytes, state });
  if (recent.length > RECENT) recent.length = RECENT;
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

function recall(bytes: Uint8Array): SpqrState | undefined {
  for (let i = 0; i < recent.length; i++) {
    const e = recent[i] as { bytes: Uint8Array; state: SpqrState };
    if (sameBytes(e.bytes, bytes)) {
      if (i > 0) {
        recent.splice(i, 1);
        recent.unshift(e);
      }
      return e.state;
    }
  }
  return undefined;
}

// ---- decoding ----

type Fields = Map<number, (bigint | Uint8Array)[]>;

/** Reads a flat message: varints as bigint, length-delimited as bytes; other wire types are refused. */
function fields(bytes: Uint8Array): Fields {
  const r = new ProtoReader(bytes);
  const out: Fields = new Map();
  for (let h = r.next(); h; h = r.next()) {
    let v: bigint | Uint8Array;
    if (h.wireType === WireType.Varint) v = r.uint64();
    else if (h.wireType === WireType.LengthDelimited) v = r.bytes();
    else throw stateDecodeError('unexpected wire type');
    const list = out.get(h.field) ?? [];
    list.push(v);
    out.set(h.field, list);
  }
  return out;
}

function one(f: Fields, n: number): bigint | Uint8Array | undefined {
  const l = f.get(n);
  if (l && l.length > 1) throw stateDecodeError(`field ${n} repeated`);
  return l?.[0];
}

function num(f: Fields, n: number, max: number, fallback?: number): number {
  const v = one(f, n);
  if (v === undefined && fallback !== undefined) return fallback;
  if (typeof v !== 'bigint' || v > BigInt(max)) throw stateDecodeError(`field ${n} missing or out of range`);
  return Number(v);
}

function bytesField(f: Fields, n: number, length?: number): Uint8Array {
  const v = one(f, n);
  if (!(v instanceof Uint8Array) || (length !== undefined && v.length !== length))
    throw stateDecodeError(`field ${n} missing or of the wrong length`);
  return v;
}

function readEncoder(b: Uint8Array, length: number): ChunkEncoder {
  const f = fields(b);
  return new ChunkEncoder(bytesField(f, 1, length), num(f, 2, 0xffff_ffff, 0));
}

function readDecoder(b: Uint8Array, length: number): ChunkDecoder {
  const f = fields(b);
  if (num(f, 1, 0xffff) !== length) throw stateDecodeError('decoder for the wrong object');
  const polys = (f.get(2) ?? []) as Uint8Array[];
  if (polys.length !== 16 || polys.some((p) => !(p instanceof Uint8Array) || p.length % 4 !== 0))
    throw stateDecodeError('decoder points malformed');
  const points = polys.map((p) => {
    const v = new DataView(p.buffer, p.byteOffset, p.byteLength);
    const pts: [number, number][] = [];
    for (let i = 0; i < p.length; i += 4) pts.push([v.getUint16(i), v.getUint16(i + 2)]);
    return pts;
  });
  try {
    return new ChunkDecoder(length, points);
  } catch {
    throw stateDecodeError('decoder points malformed');
  }
}

function readBraid(b: Uint8Array): Braid {
  const f = fields(b);
  const tag = num(f, 1, 11);
  const epoch = num(f, 2, Number.MAX_SAFE_INTEGER);
  if (epoch < 1 || tag < 1) throw stateDecodeError('bad epoch or state');
  const auth = { root: bytesField(f, 3, 32), mac: bytesField(f, 4, 32) };
  const c = { epoch, auth };
  const keys = () => keysFromDk(bytesField(f, 5, DK_LENGTH), false);
  const hdr = () => bytesField(f, 6, HEADER_LENGTH);
  const ek = () => bytesField(f, 7, EK_VECTOR_LENGTH);
  const ct1 = () => bytesField(f, 8, CT1_LENGTH);
  const m = () => bytesField(f, 9, 32);
  const enc = (len: number) => readEncoder(bytesField(f, 10), len);
  const dec = (len: number) => readDecoder(bytesField(f, 11), len);
  switch (tag) {
    case BraidTag.KeysUnsampled:
      return { tag, ...c };
    case BraidTag.KeysSampled:
      return { tag, ...c, keys: keys(), hdrEnc: enc(HDR_OBJECT_LENGTH) };
    case BraidTag.HeaderSent:
      return { tag, ...c, keys: keys(), ekEnc: enc(EK_VECTOR_LENGTH), ct1Dec: dec(CT1_LENGTH) };
    case BraidTag.Ct1Received:
      return { tag, ...c, keys: keys(), ct1: ct1(), ekEnc: enc(EK_VECTOR_LENGTH) };
    case BraidTag.EkSentCt1Received:
      return { tag, ...c, keys: keys(), ct1: ct1(), ct2Dec: dec(CT2_OBJECT_LENGTH) };
    case BraidTag.NoHeaderReceived:
      return { tag, ...c, hdrDec: dec(HDR_OBJECT_LENGTH) };
    case BraidTag.HeaderReceived:
      return { tag, ...c, hdr: hdr() };
    case BraidTag.Ct1Sampled:
      return {
        tag,
        ...c,
        hdr: hdr(),
        m: m(),
        ct1: ct1(),
        ct1Enc: enc(CT1_LENGTH),
        ekDec: dec(EK_VECTOR_LENGTH),
      };
    case BraidTag.EkReceivedCt1Sampled: {
      const h = hdr();
      const e = ek();
      if (!ekMatchesHeader(e, h)) throw stateDecodeError('stored ek does not match its header');
      return { tag, ...c, hdr: h, m: m(), ek: e, ct1: ct1(), ct1Enc: enc(CT1_LENGTH) };
    }
    case BraidTag.Ct1Acknowledged:
      return { tag, ...c, hdr: hdr(), m: m(), ct1: ct1(), ekDec: dec(EK_VECTOR_LENGTH) };
    default:
      return { tag: BraidTag.Ct2Sampled, ...c, ct2Enc: enc(CT2_OBJECT_LENGTH) };
  }
}

function readDir(b: Uint8Array, maxOoo: number): ChainDirection {
  const f = fields(b);
  const ctr = num(f, 1, 0xffff_ffff, 0);
  const nextField = one(f, 2);
  if (nextField !== undefined && !(nextField instanceof Uint8Array && nextField.length === 32))
    throw stateDecodeError('chain key of the wrong length');
  const prev = new Map<number, Uint8Array>();
  const skipped = one(f, 3);
  if (skipped !== undefined) {
    if (
      !(skipped instanceof Uint8Array) ||
      skipped.length % 36 !== 0 ||
      skipped.length / 36 > Math.floor((maxOoo * 11) / 10) + 1
    )
      throw stateDecodeError('skipped keys malformed');
    const v = new DataView(skipped.buffer, skipped.byteOffset, skipped.byteLength);
    for (let i = 0; i < skipped.length; i += 36) {
      const at = v.getUint32(i);
      if (at >= ctr || prev.has(at)) throw stateDecodeError('skipped key out of range');
      prev.set(at, skipped.slice(i + 4, i + 36));
    }
  }
  return { ctr, next: nextField as Uint8Array | undefined, prev };
}

function readChain(b: Uint8Array, a2b: boolean): Chain {
  const f = fields(b);
  const currentEpoch = num(f, 1, Number.MAX_SAFE_INTEGER);
  const sendEpoch = num(f, 2, Number.MAX_SAFE_INTEGER);
  const nextRoot = bytesField(f, 3, 32);
  const maxJump = num(f, 5, MAX_CHAIN_PARAM);
  const maxOooKeys = num(f, 6, 100_000);
  const rawLinks = (f.get(4) ?? []) as Uint8Array[];
  if (rawLinks.length < 1 || rawLinks.length > MAX_LINKS || rawLinks.length > currentEpoch + 1)
    throw stateDecodeError('bad chain link count');
  if (sendEpoch > currentEpoch || sendEpoch < currentEpoch - rawLinks.length + 1)
    throw stateDecodeError('send epoch out of range');
  const links: ChainLink[] = rawLinks.map((l) => {
    if (!(l instanceof Uint8Array)) throw stateDecodeError('bad chain link');
    const lf = fields(l);
    return { send: readDir(bytesField(lf, 1), maxOooKeys), recv: readDir(bytesField(lf, 2), maxOooKeys) };
  });
  for (const l of links) if (!l.recv.next) throw stateDecodeError('receiving chain key missing');
  const sendLink = links[links.length - 1 - (currentEpoch - sendEpoch)] as ChainLink;
  if (!sendLink.send.next) throw stateDecodeError('sending chain key missing');
  return { a2b, currentEpoch, sendEpoch, links, nextRoot, maxJump, maxOooKeys };
}

export function deserializeSpqrState(bytes: Uint8Array): SpqrState {
  if (!(bytes instanceof Uint8Array)) throw new TypeError('state must be a Uint8Array');
  const known = recall(bytes);
  if (known) return known;
  const state = decodeSpqrState(bytes);
  const own = bytes.slice();
  encoded.set(state, own);
  remember(own, state);
  return state;
}

function decodeSpqrState(bytes: Uint8Array): SpqrState {
  try {
    const f = fields(bytes);
    const version = num(f, 1, 0xffff_ffff);
    if (version !== SPQR_STATE_FORMAT_VERSION) throw stateDecodeError('unknown format version');
    const a2bRaw = one(f, 2);
    if (a2bRaw !== undefined && a2bRaw !== 0n && a2bRaw !== 1n) throw stateDecodeError('bad direction');
    const a2b = a2bRaw === 1n;
    const d: SpqrStateData = {
      a2b,
      braid: readBraid(bytesField(f, 3)),
      chain: readChain(bytesField(f, 4), a2b),
    };
    return SpqrState._create(d);
  } catch (e) {
    if (e instanceof DecodeError && e.code === 'SPQR_STATE_DECODE') throw e;
    if (e instanceof DecodeError) throw stateDecodeError(e.message);
    if (e instanceof RangeError) throw stateDecodeError('invalid value');
    throw e;
  }
}
