/**
 * Caps on what archived session states may hold (issue 11.6), so a peer cannot inflate a
 * SessionRecord on our device: the current state keeps libsignal's limits (5 chains × 2,000 skipped
 * keys, ~2,200 SPQR keys: ≤ ~0.48 MB), the archived states together at most
 * `ARCHIVED_SKIPPED_KEYS_MAX` skipped keys and `ARCHIVED_STATES_MAX_BYTES` bytes. A record therefore
 * stays below 1 MB whatever a peer sends. Enforced whenever the archive changes (the byte cap also when
 * a record is read: `SessionRecord.deserialize`); the newest keys of the newest states are kept, the
 * oldest evicted first (as libsignal does within a chain).
 */
import { spqrKeepNewestKeys, spqrSkippedKeyCount } from '../spqr/archive.js';
import { SessionState } from './session-state.js';

/** Skipped message keys plus SPQR keys kept across all archived states of a record. */
export const ARCHIVED_SKIPPED_KEYS_MAX = 8_000;
/** Serialized bytes of all archived states of a record (older states beyond it are dropped). */
export const ARCHIVED_STATES_MAX_BYTES = 400 * 1024;

/** Skipped message keys and SPQR keys a state holds. */
export function skippedKeyCount(s: SessionState): number {
  let n = s.spqr?.recvPrev.size ?? 0;
  if (s.braid) n += spqrSkippedKeyCount(s.braid);
  for (const c of s.receiverChains) n += c.messageKeys.length;
  return n;
}

/** Keeps the newest `quota` keys of `s` (half message keys, half SPQR keys when it has SPQR). */
function trimState(s: SessionState, quota: number): void {
  const q = s.spqr;
  const pqKeys = q ? q.recvPrev.size : s.braid ? spqrSkippedKeyCount(s.braid) : 0;
  const spqrQuota = Math.min(pqKeys, Math.floor(quota / 2));
  let left = quota - spqrQuota;
  // Newest chain last; within a chain, newest key first.
  for (let i = s.receiverChains.length - 1; i >= 0; i--) {
    const c = s.receiverChains[i] as SessionState['receiverChains'][number];
    const keep = Math.min(left, c.messageKeys.length);
    if (keep < c.messageKeys.length) c.messageKeys = c.messageKeys.slice(0, keep);
    left -= keep;
  }
  if (q && q.recvPrev.size > spqrQuota) {
    const newest = [...q.recvPrev.keys()].sort((a, b) => b - a).slice(0, spqrQuota);
    const kept = new Map<number, Uint8Array>();
    for (const k of newest.reverse()) kept.set(k, q.recvPrev.get(k) as Uint8Array);
    q.recvPrev = kept;
  }
  if (s.braid && pqKeys > spqrQuota) s.braid = spqrKeepNewestKeys(s.braid, spqrQuota);
}

/**
 * The archive (encoded states, newest first) within the caps. States within them are returned as
 * the same bytes; a state over the remaining key quota is re-encoded with its oldest keys evicted;
 * states past the byte cap are dropped.
 */
export function capArchive(previous: readonly Uint8Array[]): Uint8Array[] {
  let keysLeft = ARCHIVED_SKIPPED_KEYS_MAX;
  let bytesLeft = ARCHIVED_STATES_MAX_BYTES;
  const out: Uint8Array[] = [];
  for (const p of previous) {
    let bytes = p;
    let state: SessionState | undefined;
    try {
      state = SessionState.decode(p);
    } catch {
      // Unreadable: nothing to count; it is never used and only the byte cap applies.
    }
    if (state) {
      const n = skippedKeyCount(state);
      if (n > keysLeft) {
        trimState(state, keysLeft);
        bytes = state.encode();
      }
      keysLeft -= Math.min(n, keysLeft);
    }
    if (bytes.length > bytesLeft) break;
    bytesLeft -= bytes.length;
    out.push(bytes);
  }
  return out;
}
