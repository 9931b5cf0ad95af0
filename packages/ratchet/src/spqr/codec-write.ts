/**
 * Writing an `SpqrState` record (the format is described in codec.ts), on the session records'
 * single-buffer writer: nested messages (braid, encoder, decoder, chain) are written in place, not
 * built and copied level by level. The record is written on every message (0.5–3.7 KB mid-epoch) and
 * the braid changes on almost every one, so nothing below the state is kept: writing is copying the
 * braid's byte fields and the decoder's points, which are kept in their record form.
 */
import { FastWriter } from '../records/fast-proto.js';
import type { Braid } from './braid.js';
import type { Chain, ChainDirection } from './chain.js';
import type { SpqrStateData } from './state.js';

export const SPQR_STATE_FORMAT_VERSION = 1;

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

function writeBraid(w: FastWriter, b: Braid): void {
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
  // The decoder keeps its record (object length, then the 16 point lists) ready to copy.
  const dec = decoderOf(b);
  if (dec) w.bytes(11, dec.recordView);
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
  const w = new FastWriter(8192);
  w.uint(1, SPQR_STATE_FORMAT_VERSION);
  w.uint(2, d.a2b ? 1 : 0);
  w.nested(3, (n) => writeBraid(n, d.braid));
  w.nested(4, (n) => writeChain(n, d.chain));
  return w.finish();
}
