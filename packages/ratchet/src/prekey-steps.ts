/**
 * The write steps of `PreKeyManager`'s operations, run under the pre-key lock with one `Writes` per
 * operation: each takes the state the previous step produced and returns the next, so one
 * operation (`maintain`) chains several and commits — or is undone — as a whole. Each step saves the
 * id counter before the keys it allocates (a crash wastes ids, never reuses one) and records an undo
 * for every save (a fresh id's key is removed, the previous state put back). Removals are not undone:
 * the store forgets a removed key's replay markers, so putting the key back would reopen replays.
 */
import { type CryptoProvider, StoreError } from '@e2ee-kit/core';
import { MAX_RETIRED_PRE_KEYS } from './constants.js';
import { generateKyberPreKey, generatePreKeys, generateSignedPreKey } from './prekey-generation.js';
import { expiredOf, ROTATING, type Rotating } from './prekey-uploads.js';
import { MAX_PREKEY_ID } from './records/ids.js';
import type { KyberPreKeyRecord } from './records/kyber-prekey-record.js';
import type { PreKeyRecord } from './records/prekey-record.js';
import { PreKeyStateRecord, type RetiredKey } from './records/prekey-state-record.js';
import type { SignedPreKeyRecord } from './records/signed-prekey-record.js';
import type { ProtocolStore } from './stores.js';
import { type KeyGetter, readKey, storeCall, type Writes } from './writes.js';

export interface StepContext {
  readonly provider: CryptoProvider;
  readonly now: () => number;
  readonly grace: number;
}

/** Random first id in 1..2^24 (as Signal's clients), then sequential. */
export function initialState(provider: CryptoProvider): PreKeyStateRecord {
  const r = () => {
    const b = provider.randomBytes(3);
    return (((b[0] as number) << 16) | ((b[1] as number) << 8) | (b[2] as number)) + 1;
  };
  return new PreKeyStateRecord({
    nextPreKeyId: r(),
    nextSignedPreKeyId: r(),
    nextKyberPreKeyId: r(),
    retiredSignedPreKeys: [],
    retiredLastResortKyberPreKeys: [],
  });
}

/** Checked before the counter moves: a negative count would move it back, and ids would be reused. */
function checkCount(count: number): void {
  if (!Number.isInteger(count) || count < 0 || count > 10_000) throw new RangeError('count must be 0..10000');
}

/** Stored ids skipped in one allocation at most: bounded work for a store far ahead of its state. */
const MAX_SKIPPED_IDS = 100_000;

/**
 * `count` ids from `from` on that no stored key of this kind holds and the state does not name. A
 * state restored from an older backup, or lost and started again at a random id, points at ids still
 * in use: a new key under one would overwrite a key the server may still hand out, and a sender
 * would encrypt to a key the device no longer has. Ids are never wrapped: from a first id below 2^24
 * (as Signal's apps, whose ids wrap at 0xFFFFFF), libsignal's 32-bit id space lasts past four billion
 * keys, and a wrapped id would compare below the ids the server was confirmed to hold.
 */
async function freeIds(
  store: ProtocolStore,
  get: KeyGetter,
  from: number,
  count: number,
  named: ReadonlySet<number | undefined> = new Set(),
): Promise<number[]> {
  checkCount(count);
  const ids: number[] = [];
  let skipped = 0;
  for (let id = from; ids.length < count; id++) {
    // The counter after the last id must fit too (the state stores it as a 32-bit id).
    if (id >= MAX_PREKEY_ID) throw new RangeError('pre-key id space exhausted (ids are never reused)');
    // readKey answers null for a store's `undefined` too (else every id would look taken).
    const taken = named.has(id) || (await readKey(store, get, id)) !== null;
    if (!taken) ids.push(id);
    else if (++skipped > MAX_SKIPPED_IDS)
      throw new StoreError(
        'the store holds pre-keys at too many ids past the pre-key state (an older state?)',
      );
  }
  return ids;
}

/** The ids of kind `f` the state names: never given to a new key (removeExpired would delete it). */
function namedIds(state: PreKeyStateRecord, f: Rotating): Set<number | undefined> {
  return new Set([state[f.current], state[f.uploaded], ...state[f.retired].map((k) => k.id)]);
}

/** Saves `next` over `previous` (the undo puts `previous` back); returns `next`. */
export async function saveState(
  store: ProtocolStore,
  w: Writes,
  previous: PreKeyStateRecord,
  next: PreKeyStateRecord,
): Promise<PreKeyStateRecord> {
  await w.do(
    'savePreKeyState',
    () => store.savePreKeyState(next),
    () => () => store.savePreKeyState(previous),
  );
  return next;
}

export async function storeNewPreKeys(
  ctx: StepContext,
  store: ProtocolStore,
  w: Writes,
  state: PreKeyStateRecord,
  count: number,
): Promise<[PreKeyStateRecord, PreKeyRecord[]]> {
  const ids = await freeIds(store, 'getPreKey', state.nextPreKeyId, count);
  const records: PreKeyRecord[] = [];
  for (const id of ids) records.push(...(await generatePreKeys(id, 1, { provider: ctx.provider })));
  // The id counter first: after a crash (no undo runs) ids are wasted, never reused.
  const last = ids[ids.length - 1]; // not `at(-1)`: Hermes (React Native) lacks Array#at
  const next =
    last === undefined ? state : await saveState(store, w, state, state.with({ nextPreKeyId: last + 1 }));
  for (const r of records)
    await w.do(
      'savePreKey',
      () => store.savePreKey(r.id, r),
      () => () => store.removePreKey(r.id),
    );
  return [next, records];
}

export async function storeNewKyberPreKeys(
  ctx: StepContext,
  store: ProtocolStore,
  w: Writes,
  state: PreKeyStateRecord,
  count: number,
): Promise<[PreKeyStateRecord, KyberPreKeyRecord[]]> {
  const ids = await freeIds(
    store,
    'getKyberPreKey',
    state.nextKyberPreKeyId,
    count,
    namedIds(state, ROTATING.lastResort),
  );
  const last = ids[ids.length - 1]; // not `at(-1)`: Hermes (React Native) lacks Array#at
  if (last === undefined) return [state, []];
  const next = await saveState(store, w, state, state.with({ nextKyberPreKeyId: last + 1 }));
  const identity = await storeCall('getIdentityKeyPair', () => store.getIdentityKeyPair());
  const out: KyberPreKeyRecord[] = [];
  for (const id of ids) {
    const r = await generateKyberPreKey(identity, id, {
      provider: ctx.provider,
      timestamp: ctx.now(),
    });
    await w.do(
      'saveKyberPreKey',
      () => store.saveKyberPreKey(r.id, r),
      () => () => store.removeKyberPreKey(r.id),
    );
    out.push(r);
  }
  return [next, out];
}

/** The new key of kind `f`, stored with id `id`; the undo removes it (a fresh id: nothing else there). */
async function storeNewKey<F extends Rotating>(
  ctx: StepContext,
  store: ProtocolStore,
  w: Writes,
  f: F,
  id: number,
  timestamp: number,
): Promise<F extends typeof ROTATING.signed ? SignedPreKeyRecord : KyberPreKeyRecord> {
  const identity = await storeCall('getIdentityKeyPair', () => store.getIdentityKeyPair());
  const provider = ctx.provider;
  if (f === ROTATING.signed) {
    const r = await generateSignedPreKey(identity, id, { provider, timestamp });
    await w.do(
      'saveSignedPreKey',
      () => store.saveSignedPreKey(id, r),
      () => () => store.removeSignedPreKey(id),
    );
    return r as never;
  }
  const r = await generateKyberPreKey(identity, id, { provider, timestamp, lastResort: true });
  await w.do(
    'saveKyberPreKey',
    () => store.saveKyberPreKey(id, r),
    () => () => store.removeKyberPreKey(id),
  );
  return r as never;
}

/**
 * Allocates an id (persisted first: after a crash it is wasted, never reused), stores the new key,
 * then makes it current and retires the previous one.
 */
export async function rotateKey<F extends Rotating>(
  ctx: StepContext,
  store: ProtocolStore,
  w: Writes,
  loaded: PreKeyStateRecord,
  f: F,
): Promise<[PreKeyStateRecord, F extends typeof ROTATING.signed ? SignedPreKeyRecord : KyberPreKeyRecord]> {
  const now = ctx.now(); // before any write
  const [id] = (await freeIds(store, f.get, loaded[f.next], 1, namedIds(loaded, f))) as [number];
  const state = await saveState(store, w, loaded, loaded.with({ [f.next]: id + 1 }));
  const record = await storeNewKey(ctx, store, w, f, id, now);
  const previous = state[f.current];
  let retired =
    previous === undefined ? state[f.retired] : [...state[f.retired], { id: previous, retiredAt: now }];
  // Bounded: the oldest go first (never the key the server was last confirmed to hold). Removed
  // before the state that drops them is saved: a crash leaves a listed id with no key, never a
  // private key no state names. A removal cannot be undone (the store forgets its replay markers).
  while (retired.length > MAX_RETIRED_PRE_KEYS) {
    const oldest = retired.find((k) => k.id !== state[f.uploaded]) as RetiredKey;
    await w.do(f.remove, () => store[f.remove](oldest.id));
    retired = retired.filter((k) => k !== oldest);
  }
  const next = await saveState(store, w, state, state.with({ [f.current]: id, [f.retired]: retired }));
  return [next, record];
}

/**
 * Keys first, then the state without them (so a crash never leaves a private key that no state
 * names); removing an absent key again is harmless, so a retry finishes the job.
 */
export async function removeExpired(
  ctx: StepContext,
  store: ProtocolStore,
  w: Writes,
  state: PreKeyStateRecord,
): Promise<[PreKeyStateRecord, number]> {
  const now = ctx.now();
  const goneSigned = expiredOf(state, ROTATING.signed, now, ctx.grace);
  const goneKyber = expiredOf(state, ROTATING.lastResort, now, ctx.grace);
  if (goneSigned.length + goneKyber.length === 0) return [state, 0];
  for (const k of goneSigned) await w.do('removeSignedPreKey', () => store.removeSignedPreKey(k.id));
  for (const k of goneKyber) await w.do('removeKyberPreKey', () => store.removeKyberPreKey(k.id));
  const next = await saveState(
    store,
    w,
    state,
    state.with({
      retiredSignedPreKeys: state.retiredSignedPreKeys.filter((k) => !goneSigned.includes(k)),
      retiredLastResortKyberPreKeys: state.retiredLastResortKyberPreKeys.filter(
        (k) => !goneKyber.includes(k),
      ),
    }),
  );
  return [next, goneSigned.length + goneKyber.length];
}
