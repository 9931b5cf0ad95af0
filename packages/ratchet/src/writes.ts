/**
 * Store calls and rollback. Every operation computes its new records in memory (cloned states; records
 * returned by the store are never modified) and only then writes, in an order whose every step can be
 * undone. A failure anywhere undoes the writes already done, so the store ends up as it was.
 */
import {
  type Address,
  E2eeError,
  type IdentityChange,
  type PublicKey,
  StoreError,
  UntrustedIdentityError,
} from '@e2ee-kit/core';
import type { ProtocolContext } from './context.js';
import type { SessionRecord } from './records/session-record.js';

/** Runs a store call; a non-E2eeError it throws becomes `StoreError` with the original as `cause`. */
export async function storeCall<T>(what: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    if (E2eeError.is(err)) throw err;
    throw new StoreError(`store call ${what} failed`, { cause: err });
  }
}

/** Ordered writes; on failure every earlier write is undone (best effort, in reverse order). */
export class Writes {
  readonly #undo: (() => Promise<unknown>)[] = [];

  async do<T>(
    what: string,
    fn: () => Promise<T>,
    undo?: (result: T) => (() => Promise<unknown>) | undefined,
  ): Promise<T> {
    const result = await storeCall(what, fn);
    const u = undo?.(result);
    if (u) this.#undo.push(u);
    return result;
  }

  async rollback(): Promise<void> {
    for (const u of this.#undo.reverse()) {
      try {
        await u();
      } catch {
        // The store is failing; nothing better to do than to try the remaining undos.
      }
    }
    this.#undo.length = 0;
  }
}

export async function writeAll(steps: (w: Writes) => Promise<void>): Promise<void> {
  const w = new Writes();
  try {
    await steps(w);
  } catch (err) {
    await w.rollback();
    throw err;
  }
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

export function saveIdentityStep(ctx: ProtocolContext, w: Writes, identity: PublicKey) {
  return w.do<IdentityChange>(
    'saveIdentity',
    () => ctx.store.saveIdentity(ctx.remote, identity),
    (change) => {
      if (change?.kind === 'replaced') {
        const previous = change.previous;
        return () => ctx.store.saveIdentity(ctx.remote, previous);
      }
      if (change?.kind === 'new' && typeof ctx.store.removeIdentity === 'function') {
        return () => (ctx.store.removeIdentity as (a: Address) => Promise<void>)(ctx.remote);
      }
      return undefined;
    },
  );
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
