/**
 * What the server holds: the pre-key state fields of each key kind, which retired keys may go, and
 * what `PreKeyManager.confirmUpload` records (the keys an upload confirmed) and `maintain` offers
 * again (the keys generated since the last confirmed upload), and the current key of each kind.
 */
import type { KyberPreKeyRecord } from './records/kyber-prekey-record.js';
import type { PreKeyRecord } from './records/prekey-record.js';
import type { PreKeyStateFields, PreKeyStateRecord, RetiredKey } from './records/prekey-state-record.js';
import type { ProtocolStore } from './stores.js';
import { type KeyOf, readKey } from './writes.js';

/** The pre-key state fields of each rotating key kind. */
export const ROTATING = {
  signed: {
    next: 'nextSignedPreKeyId',
    current: 'currentSignedPreKeyId',
    retired: 'retiredSignedPreKeys',
    uploaded: 'uploadedSignedPreKeyId',
    get: 'getSignedPreKey',
    remove: 'removeSignedPreKey',
  },
  lastResort: {
    next: 'nextKyberPreKeyId',
    current: 'currentLastResortKyberPreKeyId',
    retired: 'retiredLastResortKyberPreKeys',
    uploaded: 'uploadedLastResortKyberPreKeyId',
    get: 'getKyberPreKey',
    remove: 'removeKyberPreKey',
  },
} as const;
export type Rotating = (typeof ROTATING)[keyof typeof ROTATING];

/**
 * Retired keys of a kind whose grace period is over — except the one the server was last confirmed
 * to hold: while a newer upload is unconfirmed, it may still be what the server hands out. A key
 * retired at least the grace period in the future was retired while the clock ran ahead: its real
 * age is unknown, and waiting for the clock to catch up could keep its private key for years (as
 * `PreKeyManager` rotates a key whose timestamp is that far ahead).
 */
export function expiredOf(state: PreKeyStateRecord, f: Rotating, now: number, grace: number): RetiredKey[] {
  return state[f.retired].filter((k) => outlived(k.retiredAt, grace, now) && k.id !== state[f.uploaded]);
}

/**
 * `time` is `span` or more in the past — or as far in the future: set while the clock ran ahead, so
 * the real age is unknown (the rotation interval of a key's timestamp, the grace period of a retired key).
 */
export function outlived(time: number, span: number, now: number): boolean {
  return time + span <= now || time - now >= span;
}

/** The pre-key state fields of each one-time key kind. */
export const ONE_TIME = {
  ec: { next: 'nextPreKeyId', uploaded: 'uploadedNextPreKeyId', get: 'getPreKey' },
  kyber: { next: 'nextKyberPreKeyId', uploaded: 'uploadedNextKyberPreKeyId', get: 'getKyberPreKey' },
} as const;

/**
 * Up to `count` one-time keys generated since the last confirmed upload and still stored: a failed
 * upload's batch, offered again instead of storing one more batch at every failed attempt.
 */
export async function unconfirmedOneTime<R extends PreKeyRecord | KyberPreKeyRecord>(
  store: ProtocolStore,
  state: PreKeyStateRecord,
  f: (typeof ONE_TIME)[keyof typeof ONE_TIME],
  count: number,
): Promise<R[]> {
  const from = state[f.uploaded];
  if (from === undefined) return [];
  const out: R[] = [];
  for (let id = from; id < state[f.next] && id < from + count; id++) {
    const r = (await readKey(store, f.get, id)) as R | null;
    if (r) out.push(r);
  }
  return out;
}

type Mutable<T> = { -readonly [K in keyof T]?: T[K] };

/** What an accepted upload changes in the state; ids only grow (a late confirmation moves nothing back). */
export function confirmedChanges(
  state: PreKeyStateRecord,
  upload: {
    preKeys?: readonly { id: number }[] | undefined;
    kyberPreKeys?: readonly { id: number }[] | undefined;
    signedPreKey?: { id: number } | undefined;
    lastResortKyberPreKey?: { id: number } | undefined;
  },
): Mutable<PreKeyStateFields> {
  const changes: Mutable<PreKeyStateFields> = {};
  for (const [f, id] of [
    [ROTATING.signed, upload.signedPreKey?.id],
    [ROTATING.lastResort, upload.lastResortKyberPreKey?.id],
  ] as const) {
    if (id === undefined) continue;
    const known = id === state[f.current] || state[f.retired].some((k) => k.id === id);
    const previous = state[f.uploaded];
    if (known && (previous === undefined || id > previous)) changes[f.uploaded] = id;
  }
  for (const [f, keys] of [
    [ONE_TIME.ec, upload.preKeys],
    [ONE_TIME.kyber, upload.kyberPreKeys],
  ] as const) {
    if (!keys || keys.length === 0) continue;
    const end = Math.max(...keys.map((k) => k.id)) + 1;
    const previous = state[f.uploaded];
    if (end <= state[f.next] && (previous === undefined || end > previous)) changes[f.uploaded] = end;
  }
  return changes;
}

/** The current key of kind `f` the state names, or null (none yet, or not stored). */
export function currentKey<F extends Rotating>(
  store: ProtocolStore,
  state: PreKeyStateRecord,
  f: F,
): Promise<KeyOf<F['get']>> {
  const id = state[f.current];
  return id === undefined
    ? Promise.resolve(null as KeyOf<F['get']>)
    : (readKey(store, f.get, id) as Promise<KeyOf<F['get']>>);
}
