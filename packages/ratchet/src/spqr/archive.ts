/**
 * What the record's archive caps (`records/archive-caps.ts`) need from an SPQR state: how many skipped
 * keys it holds, and a copy keeping only the newest of them (an archived session only reads late
 * messages; the oldest keys go first, as in a chain's own trimming).
 */
import { cloneChain, ownRecv } from './chain.js';
import { SpqrState, stateData } from './state.js';

/** Skipped receive keys held over all chain epochs. */
export function spqrSkippedKeyCount(s: SpqrState): number {
  let n = 0;
  for (const l of stateData(s).chain.links) n += l.recv.prev.size;
  return n;
}

/** A new state keeping at most `quota` skipped keys: the newest epochs' newest keys. */
export function spqrKeepNewestKeys(s: SpqrState, quota: number): SpqrState {
  const d = stateData(s);
  const chain = cloneChain(d.chain);
  let left = Math.max(0, Math.floor(quota));
  for (let i = chain.links.length - 1; i >= 0; i--) {
    const shared = (chain.links[i] as (typeof chain.links)[number]).recv;
    if (shared.prev.size <= left) {
      left -= shared.prev.size;
      continue;
    }
    // The clone shares its links with `s`: the one changed here is copied first.
    const recv = ownRecv(chain, i);
    const newest = [...recv.prev.keys()].sort((a, b) => b - a).slice(0, left);
    const kept = new Map<number, Uint8Array>();
    for (const k of newest.reverse()) kept.set(k, recv.prev.get(k) as Uint8Array);
    recv.prev = kept;
    left = 0;
  }
  return SpqrState._create({ a2b: d.a2b, braid: d.braid, chain });
}
