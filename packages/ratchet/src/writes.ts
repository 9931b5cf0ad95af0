/**
 * Store calls and rollback. Every operation computes its new records in memory (cloned states; records
 * returned by the store are never modified) and only then writes, in an order whose every step can be
 * undone. A failure anywhere undoes the writes already done, so the store ends up as it was.
 */
import {
  DecodeError,
  E2eeError,
  type IdentityChange,
  type PublicKey,
  StoreError,
  UntrustedIdentityError,
} from '@e2ee-kit/core';
import type { ProtocolContext } from './context.js';
import { ownRecord } from './records/own-record.js';
import type { SessionRecord } from './records/session-record.js';
import type { MessageIdentityChange } from './session-cipher.js';
import type { ProtocolStore } from './stores.js';

/**
 * Runs a store call; a non-E2eeError it throws becomes `StoreError` with the original as `cause`. A
 * record it returns that another copy of this package made is read as this copy's (`ownRecord`).
 */
export async function storeCall<T>(what: string, fn: () => Promise<T>): Promise<T> {
  let result: T;
  try {
    result = await fn();
  } catch (err) {
    if (E2eeError.is(err)) throw err;
    throw new StoreError(`store call ${what} failed`, { cause: err });
  }
  return ownRecord(result);
}

export type KeyGetter = 'getPreKey' | 'getSignedPreKey' | 'getKyberPreKey';
export type KeyOf<G extends KeyGetter> = Awaited<ReturnType<ProtocolStore[G]>>;

/**
 * The key the store keeps under `id`, or null (also for a store that answers `undefined`). A record
 * whose own id is another one (a misfiled row) is refused with `DecodeError`: handed out or uploaded
 * under `id`, its key would not be the one senders use; in a handshake, it would compute with the
 * wrong key and fail later as a MAC error.
 */
export async function readKey<G extends KeyGetter>(
  store: ProtocolStore,
  get: G,
  id: number,
): Promise<KeyOf<G>> {
  const r = ((await storeCall(get, () => store[get](id) as Promise<KeyOf<G>>)) ?? null) as KeyOf<G>;
  if (r !== null && r.id !== id) throw new DecodeError(`${get}(${id}) returned the record of id ${r.id}`);
  return r;
}

/** Times an undo is tried before giving up on it (a store that failed once often works again). */
const UNDO_ATTEMPTS = 3;

/**
 * Ordered writes; on failure every earlier write is undone, in reverse order, each undo retried a few
 * times. Effects that cannot be undone (callbacks) are queued with `afterCommit` and run only once
 * every write succeeded.
 */
export class Writes {
  readonly #undo: (() => Promise<unknown>)[] = [];
  readonly #afterCommit: (() => void)[] = [];
  readonly #deferred: (() => void)[] | undefined;

  /**
   * `deferred`: the writes go into a store transaction, which discards them all if anything throws —
   * so no undo is recorded, and the after-commit effects are handed to this list for the caller to
   * run once the transaction has committed.
   */
  constructor(deferred?: (() => void)[]) {
    this.#deferred = deferred;
  }

  /**
   * Runs a write and records its undo: `undo(result, false)` once the call resolved, and
   * `undo(undefined, true)` when it threw — a store may apply a write and then throw (a commit whose
   * acknowledgement was lost, a network reply that never came). So each undo puts back what was there
   * before the write (or removes a fresh id's key): harmless when the write did not land.
   */
  async do<T>(
    what: string,
    fn: () => Promise<T>,
    undo?: (result: T | undefined, threw: boolean) => (() => Promise<unknown>) | undefined,
  ): Promise<T> {
    if (this.#deferred !== undefined || undo === undefined) return storeCall(what, fn);
    let result: T;
    try {
      result = await storeCall(what, fn);
    } catch (err) {
      this.#record(undo(undefined, true));
      throw err;
    }
    this.#record(undo(result, false));
    return result;
  }

  #record(u: (() => Promise<unknown>) | undefined): void {
    if (u) this.#undo.push(u);
  }

  /** False inside a store transaction: no undo is recorded there (the transaction discards the writes). */
  get recordsUndo(): boolean {
    return this.#deferred === undefined;
  }

  afterCommit(fn: () => void): void {
    this.#afterCommit.push(fn);
  }

  async rollback(): Promise<void> {
    for (const u of this.#undo.reverse()) {
      for (let attempt = 1; attempt <= UNDO_ATTEMPTS; attempt++) {
        try {
          await u();
          break;
        } catch {
          // Try again, then go on with the remaining undos: the store is failing.
        }
      }
    }
    this.#undo.length = 0;
    this.#afterCommit.length = 0;
  }

  commit(): void {
    if (this.#deferred !== undefined) {
      this.#deferred.push(...this.#afterCommit);
      this.#afterCommit.length = 0;
      return;
    }
    runAfterCommit(this.#afterCommit);
    this.#afterCommit.length = 0;
  }
}

/** Runs after-commit effects; one that throws does not stop the others or fail the operation. */
export function runAfterCommit(effects: readonly (() => void)[]): void {
  for (const fn of effects) {
    try {
      fn();
    } catch {
      // The operation has committed; an app callback's failure must not turn it into an error.
    }
  }
}

export async function writeAll<T>(steps: (w: Writes) => Promise<T>, deferred?: (() => void)[]): Promise<T> {
  const w = new Writes(deferred);
  let result: T;
  try {
    result = await steps(w);
  } catch (err) {
    await w.rollback();
    throw err;
  }
  w.commit();
  return result;
}

export function saveSessionStep(
  ctx: ProtocolContext,
  w: Writes,
  record: SessionRecord,
  old: SessionRecord | null,
) {
  return w.do(
    'saveSession',
    () => ctx.store.saveSession(ctx.remote, record),
    () => (old ? () => ctx.store.saveSession(ctx.remote, old) : () => ctx.store.removeSession(ctx.remote)),
  );
}

/**
 * `saveIdentity` as an undoable write. With `getIdentityEntry`/`restoreIdentityEntry` the undo puts the
 * entry back exactly (approvals included) — also after a save that threw, which may have landed; the
 * entry is read before every save outside a transaction, even a last write's, for that reason. With
 * `notifyIdentityChange` a replacement is reported only after the whole operation committed. Older
 * stores get the previous best effort (re-save the old key, `removeIdentity` for a first contact;
 * their own callback timing) and no undo of a save that threw: what it replaced is unknown.
 */
export async function saveIdentityStep(
  ctx: ProtocolContext,
  w: Writes,
  identity: PublicKey,
): Promise<IdentityChange> {
  const { store, remote } = ctx;
  const getEntry = store.getIdentityEntry?.bind(store);
  const restoreEntry = store.restoreIdentityEntry?.bind(store);
  const notify = store.notifyIdentityChange?.bind(store);
  const exact = getEntry !== undefined && restoreEntry !== undefined;
  const entry =
    exact && w.recordsUndo ? await storeCall('getIdentityEntry', () => getEntry(remote)) : undefined;
  const change = await w.do<IdentityChange>(
    'saveIdentity',
    () =>
      notify
        ? store.saveIdentity(remote, identity, { deferNotification: true })
        : store.saveIdentity(remote, identity),
    (c, threw) => {
      const changed = c?.kind === 'new' || c?.kind === 'replaced';
      // After a throw: put back only while `identity` is stored (else the save did not land).
      if (exact) return changed || threw ? () => restoreEntry(remote, entry, identity) : undefined;
      if (c?.kind === 'replaced') {
        const previous = c.previous;
        return () => store.saveIdentity(remote, previous);
      }
      const remove = store.removeIdentity?.bind(store);
      return c?.kind === 'new' && remove ? () => remove(remote) : undefined;
    },
  );
  if (notify && change?.kind === 'replaced') {
    const event = { address: remote, previous: change.previous, current: change.current };
    w.afterCommit(() => notify(event));
  }
  return change;
}

/** What `DecryptedMessage.identityChange` reports for a `saveIdentity` result. */
export function identityChangeReport(change: IdentityChange | undefined): MessageIdentityChange {
  if (change?.kind === 'new') return { kind: 'new' };
  if (change?.kind === 'replaced') return { kind: 'replaced', previous: change.previous };
  return { kind: 'none' };
}

export async function checkTrusted(
  ctx: ProtocolContext,
  identity: PublicKey,
  direction: 'sending' | 'receiving',
): Promise<void> {
  const trusted = await storeCall('isTrustedIdentity', () =>
    ctx.store.isTrustedIdentity(ctx.remote, identity, direction),
  );
  if (trusted !== true) throw new UntrustedIdentityError(ctx.remote);
}
