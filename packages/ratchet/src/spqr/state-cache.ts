/**
 * Recently written or read SPQR states, by their exact bytes.
 *
 * A session record is loaded from the store and saved back on every message, and the SPQR state is
 * most of its decoding work (protobuf, erasure-decoder points, ML-KEM key vectors): ≈ 0.35 ms of a
 * 0.9 ms message on the node provider. States are immutable values, so the bytes a state was written
 * as (or read from) decode to the same state: a load of exactly those bytes returns the state kept
 * here — after comparing every byte, so bytes that differ in any way are decoded (and checked) afresh.
 * The module keeps its own copies of the bytes; at most RECENT states, the most recently used first.
 */
import type { SpqrState } from './state.js';

/** States kept: the two sides of a few active conversations. */
const RECENT = 8;
/** Each state's encoding, ours (callers get copies). */
export const encoded = new WeakMap<SpqrState, Uint8Array>();
const recent: { bytes: Uint8Array; state: SpqrState }[] = [];

export function remember(bytes: Uint8Array, state: SpqrState): void {
  recent.unshift({ bytes, state });
  if (recent.length > RECENT) recent.length = RECENT;
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

export function recall(bytes: Uint8Array): SpqrState | undefined {
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
