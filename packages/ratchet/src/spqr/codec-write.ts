/**
 * Writing an `SpqrState` record (the format is described in codec.ts), on the session records'
 * single-buffer writer: nested messages are written in place, not built and copied level by level.
 * The record is written on every message (0.5–3.7 KB mid-epoch), so the immutable parts that outlive
 * a message keep their encodings: a braid, and an erasure decoder (a sender's braid keeps its decoder
 * until the next chunk arrives). Those kept bytes never leave this module (writers copy them).
 */
import { FastWriter } from '../records/fast-proto.js';
import type { Braid } from './braid.js';
import type { Chain, ChainDirection } from './chain.js';
import type { ChunkDecoder } from './erasure.js';
import type { SpqrStateData } from './state.js';

export const SPQR_STATE_FORMAT_VERSION = 1;

const braidBytes = new WeakMap<Braid, Uint8Array>();
const decoderBytes = new WeakMap<ChunkDecoder, Uint8Array>();

function writeDecoder(d: ChunkDecoder): Uint8Array {
  let out = decoderBytes.get(d);
  if (!out) {
    const w = new FastWriter(1024);
    w.uint(1, d.length);
    for (const b of d.pointBytes()) w.bytes(2, b);
    out = w.finish();
    decoderBytes.set(d, out);
  }
  return out;
}

function encoderOf(b: Braid) {
  return 'hdrEnc' in b
    ? b.hdrEnc
    : 'ekEnc' in b
      ? b.ekEnc
      : 'ct1Enc' in b
        ? b.ct1Enc
        : 'ct2Enc' in b
          ? b.ct2Enc
          : undefined;
}

function decoderOf(b: Braid) {
  return 'ct1Dec' in b
    ? b.ct1Dec
    : 'ct2Dec' in b
      ? b.ct2Dec
      : 'hdrDec' in b
        ? b.hdrDec
        : 'ekDec' in b
          ? b.ekDec
          : undefined;
}

function writeBraid(b: Braid): Uint8Array {
  let out = braidBytes.get(b);
  if (out) return out;
  const dec = decoderOf(b);
  // Before this writer takes the shared scratch buffer (the decoder's own writer would need it).
  const decBytes = dec ? writeDecoder(dec) : undefined;
  const w = new FastWriter(4096);
  w.uint(1, b.tag);
  w.uint(2, b.epoch);
  w.bytes(3, b.auth.root);
  w.bytes(4, b.auth.mac);
  if ('keys' in b) w.bytes(5, b.keys.dk);
  if ('hdr' in b) w.bytes(6, b.hdr);
  if ('ek' in b) w.bytes(7, b.ek);
  if ('ct1' in b) w.bytes(8, b.ct1);
  if ('m' in b) w.bytes(9, b.m);
  const enc = encoderOf(b);
  if (enc) {
    w.nested(10, (n) => {
      n.bytes(1, enc.objectView);
      n.uint(2, enc.emitted);
    });
  }
  if (decBytes) w.bytes(11, decBytes);
  out = w.finish();
  braidBytes.set(b, out);
  return out;
}

/** Skipped keys as `BE32(counter) ‖ key` entries, by counter. */
function skippedKeys(d: ChainDirection): Uint8Array {
  const at = Uint32Array.from(d.prev.keys()).sort();
  const b = new Uint8Array(36 * at.length);
  for (let n = 0; n < at.length; n++) {
    const i = at[n] as number;
    const o = 36 * n;
    b[o] = i >>> 24;
    b[o + 1] = i >>> 16;
    b[o + 2] = i >>> 8;
    b[o + 3] = i;
    b.set(d.prev.get(i) as Uint8Array, o + 4);
  }
  return b;
}

function writeDir(w: FastWriter, d: ChainDirection): void {
  w.uint(1, d.ctr);
  if (d.next) w.bytes(2, d.next);
  if (d.prev.size > 0) w.bytes(3, skippedKeys(d));
}

function writeChain(w: FastWriter, c: Chain): void {
  w.uint(1, c.currentEpoch);
  w.uint(2, c.sendEpoch);
  w.bytes(3, c.nextRoot);
  for (const l of c.links) {
    w.nested(4, (n) => {
      n.nested(1, (x) => writeDir(x, l.send));
      n.nested(2, (x) => writeDir(x, l.recv));
    });
  }
  w.uint(5, c.maxJump);
  w.uint(6, c.maxOooKeys);
}

/** The record of a state's data (every value was range-checked when the state was made). */
export function encodeSpqrState(d: SpqrStateData): Uint8Array {
  const braid = writeBraid(d.braid);
  const w = new FastWriter(braid.length + 1024);
  w.uint(1, SPQR_STATE_FORMAT_VERSION);
  w.uint(2, d.a2b ? 1 : 0);
  w.bytes(3, braid);
  w.nested(4, (n) => writeChain(n, d.chain));
  return w.finish();
}
