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
import { DecodeError, ProtoReader, WireType } from '@e2ee-kit/core';
import { type Braid, BraidTag, CT2_OBJECT_LENGTH, HDR_OBJECT_LENGTH } from './braid.js';
import type { Chain, ChainDirection, ChainLink } from './chain.js';
import { encodeSpqrState, SPQR_STATE_FORMAT_VERSION } from './codec-write.js';
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
import { encoded, recall, remember } from './state-cache.js';

export { SPQR_STATE_FORMAT_VERSION };

/** Links a chain can hold: libsignal keeps at most 3; a little slack for states mid-transition. */
const MAX_LINKS = 8;
const MAX_CHAIN_PARAM = 0xffff_ffff;
/**
 * Largest epoch read: one whose successor is still a safe integer. In a session a state is read, makes
 * at most one epoch step and is written again, so every epoch it sends stays exact (a stored epoch of
 * 2^53 − 1 completed and then could not number the next one: RangeError). libsignal's are u64; no
 * conversation gets near either.
 */
const MAX_EPOCH = Number.MAX_SAFE_INTEGER - 1;

export function serializeSpqrState(s: SpqrState): Uint8Array {
  return spqrStateBytes(s).slice();
}

/** @internal The state's encoding itself, not a copy: only for writers that copy it (the session record). */
export function spqrStateBytes(s: SpqrState): Uint8Array {
  let bytes = encoded.get(s);
  if (!bytes) {
    bytes = encodeSpqrState(stateData(s));
    encoded.set(s, bytes);
    remember(bytes, s);
  }
  return bytes;
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
  try {
    return ChunkDecoder.fromPointBytes(length, polys);
  } catch {
    throw stateDecodeError('decoder points malformed');
  }
}

function readBraid(b: Uint8Array): Braid {
  const f = fields(b);
  const tag = num(f, 1, 11);
  const epoch = num(f, 2, MAX_EPOCH);
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

/** A chain direction; `maxOoo` 0 for a sending one (only receiving directions ever keep skipped keys). */
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
      maxOoo === 0 ||
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
  const currentEpoch = num(f, 1, MAX_EPOCH);
  const sendEpoch = num(f, 2, MAX_EPOCH);
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
    // Skipped keys on a sending direction would be kept and written back forever, uncounted by the
    // session record's caps (`spqrSkippedKeyCount` counts receiving ones): refused.
    return { send: readDir(bytesField(lf, 1), 0), recv: readDir(bytesField(lf, 2), maxOooKeys) };
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
