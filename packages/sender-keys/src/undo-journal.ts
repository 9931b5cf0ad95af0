/**
 * An operation's undo on a store without `transaction`. Its writes land one by one, so when it fails
 * after one landed (a later write threw; a write took effect and then threw, its acknowledgement
 * lost; the app's `deliver` threw) every record it wrote is stored again as it was when the operation
 * began: a failed operation changes nothing. Without it a decrypt whose write landed kept its message
 * key used (the redelivered message was a duplicate: lost), and a rotation whose key-holder write
 * failed left a chain nobody was handed. A record that did not exist cannot be put back (the store
 * contract has no delete): it stays, a chain never handed out, and `prepareSend`'s retry reports it.
 */
import type { Address } from '@e2ee-kit/core';
import type { SenderKeyStore } from './store.js';

/**
 * Tries to put each record back: the store failing is often the store failing for a moment (a busy
 * database), so the undo is retried, as the ratchet's undos are (`writes.ts`).
 */
export const UNDO_ATTEMPTS = 3;

type Call = (sender: Address, id: string, record?: unknown) => Promise<unknown>;

/**
 * `store` as one operation sees it, noting what it read before writing, and the undo of its writes.
 * An operation works on one (sender, distribution id): its records are told apart by kind alone.
 */
export function journaled(store: SenderKeyStore): { view: SenderKeyStore; undo: () => Promise<void> } {
  // Per kind: the record as the operation first read it (it reads before it writes). Written once,
  // its undo is noted and the entry cleared: later writes put back nothing more.
  const before: Record<string, unknown> = {};
  const undos: Array<() => Promise<unknown>> = [];
  const view: Record<string, Call> = {};
  for (const [load, save] of [
    ['loadSenderKey', 'storeSenderKey'],
    ['loadKeyHolders', 'storeKeyHolders'],
  ] as const) {
    const l = store[load] as Call | undefined;
    const w = store[save] as Call;
    if (l === undefined) continue; // no key-holder methods
    view[load] = async (s, id) => {
      const value = await l.call(store, s, id);
      if (!(load in before)) before[load] = value;
      return value;
    };
    view[save] = (s, id, record) => {
      const old = before[load];
      before[load] = undefined;
      // Noted before the call: a write that lands and then throws is undone too. A record that did
      // not exist (or was not read) has nothing to put back.
      if (old != null) undos.unshift(() => w.call(store, s, id, old));
      return w.call(store, s, id, record);
    };
  }
  const undo = async () => {
    for (const put of undos)
      for (let i = 0; i < UNDO_ATTEMPTS; i++)
        if (
          await put().then(
            () => 1,
            () => 0,
          )
        )
          break;
  };
  return { view: view as unknown as SenderKeyStore, undo };
}
