/**
 * Recently written or read SPQR states, by their exact bytes.
 *
 * A session record is loaded from the store and saved back on every message, and the SPQR state is
 * most of its decoding work (protobuf, erasure-decoder points, ML-KEM key vectors): ≈ 0.35 ms of a
 * 0.9 ms message on the node provider. States are immutable values, so the bytes a state was written
 * as (or read from) decode to the same state: a load of exactly those bytes returns the state kept
 * here — after comparing every byte, so bytes that differ in any way are decoded (and checked) afresh.
 * The module keeps its own copies of the bytes; at most RECENT states, the most recently used first.
 *
 * The bytes are secret (keys), so a candidate is confirmed by a constant-time comparison (the time
 * taken does not show how much of a guessed state matched). Candidates are the kept states of the
 * same length and direction, most recent first: the length and the `a2b` byte (public: who started
 * the session) are the only things looked at before that, so no hash of the state is computed on
 * every load and save (two FNV-1a passes over the 0.5–3.7 KB per message and side cost as much as the
 * comparison they filtered for). The direction filter matters because the two sides of one
 * conversation often have states of the same length, and each is loaded right after the other side's
 * write.
 */
import { constantTimeEqual } from '@e2ee-kit/core';
import type { SpqrState } from './state.js';

/** States kept: the two sides of a few active conversations. */
const RECENT = 8;
/**
 * Offset of the `a2b` value in every record (`08 01 10 xx`: format version 1, then field 2), written
 * first by `encodeSpqrState`; anything else simply never matches the filter's shortcut.
 */
const A2B_AT = 3;
/** Each state's encoding, ours (callers get copies). */
export const encoded = new WeakMap<SpqrState, Uint8Array>();
interface Entry {
  bytes: Uint8Array;
  state: SpqrState;
}
const recent: Entry[] = [];

/** Keeps `state` under `bytes` (the module's own copy, never handed out). */
export function remember(bytes: Uint8Array, state: SpqrState): void {
  recent.unshift({ bytes, state });
  if (recent.length > RECENT) recent.length = RECENT;
}

/** The kept state whose bytes are exactly `bytes`, if any. */
export function recall(bytes: Uint8Array): SpqrState | undefined {
  for (let i = 0; i < recent.length; i++) {
    const e = recent[i] as Entry;
    if (e.bytes.length !== bytes.length || e.bytes[A2B_AT] !== bytes[A2B_AT]) continue;
    if (constantTimeEqual(e.bytes, bytes)) {
      if (i > 0) {
        recent.splice(i, 1);
        recent.unshift(e);
      }
      return e.state;
    }
  }
  return undefined;
}
