/**
 * One identity key per account, for the fan-out: `checkAccountKey` refuses bundles with another key,
 * `replaceIdentity` is `DeviceFanout.approveIdentity` (the user accepted an account's new key: it
 * re-installed). The check compares with the key stored for the account's devices, whatever the
 * identity store's trust policy — so taking the key means storing it for every known device,
 * with their sessions archived first (they belong to the old key: encrypting on one would check and
 * store the old key again; archived, they still decrypt what was sent before). All or nothing: a
 * failing store call puts back what was written, and the change is reported only once all is done.
 */
import {
  type Address,
  createAddress,
  type IdentityChangeEvent,
  type IdentityEntry,
  type PublicKey,
  UntrustedIdentityError,
} from '@e2ee-kit/core';
import type { PreKeyBundle } from '../bundle.js';
import { SessionRecord } from '../records/session-record.js';
import type { ProtocolStore } from '../stores.js';
import { IdentityChangedError } from './fan-out-error.js';

/**
 * A device that comes with another key than `known` (the account's, ours for our own account) is
 * not a new device of the account but an identity change, or a server adding a device of its own.
 * Checked before any session is touched. A changed key of another account is the user's to accept
 * (`IdentityChangedError`, then `approveIdentity`). With no key known yet (first contact) the
 * bundles must still agree with each other — the safety number shows one key; that, and a device
 * of our own account with another key, is no change anyone can approve (`UntrustedIdentityError`).
 */
export function checkAccountKey(
  account: string,
  bundles: ReadonlyMap<number, PreKeyBundle>,
  known: PublicKey | undefined,
  isSelf: boolean,
): void {
  const accountKey = known ?? bundles.values().next().value?.identityKey;
  if (accountKey === undefined) return;
  for (const [id, bundle] of bundles)
    if (!bundle.identityKey.equals(accountKey))
      throw known !== undefined && !isSelf
        ? new IdentityChangedError(createAddress(account, id), bundle.identityKey)
        : new UntrustedIdentityError(createAddress(account, id));
}

interface Before {
  readonly address: Address;
  /** The session record's bytes (null: none), so the undo writes exactly what was there. */
  readonly session: Uint8Array | null;
  /** The store's own snapshot when it has one, else the key (null: none). */
  readonly identity: { readonly entry: IdentityEntry } | { readonly key: PublicKey | null };
}

export async function replaceIdentity(
  store: ProtocolStore,
  addresses: readonly Address[],
  identityKey: PublicKey,
  archive: (address: Address) => Promise<unknown>,
): Promise<void> {
  const exact =
    typeof store.getIdentityEntry === 'function' && typeof store.restoreIdentityEntry === 'function';
  // Reported after every write succeeded, never for a change that is undone.
  const defer = typeof store.notifyIdentityChange === 'function';
  const done: Before[] = [];
  const changes: IdentityChangeEvent[] = [];
  try {
    for (const address of addresses) {
      const record = await store.getSession(address);
      done.push({
        address,
        session: record === null ? null : record.serialize(),
        identity: exact
          ? { entry: await store.getIdentityEntry?.(address) }
          : { key: await store.getIdentity(address) },
      });
      await archive(address);
      const change = await store.saveIdentity(address, identityKey, defer ? { deferNotification: true } : {});
      if (change.kind === 'replaced')
        changes.push({ address, previous: change.previous, current: change.current });
    }
  } catch (err) {
    for (const before of done.reverse()) await undo(store, before, identityKey).catch(() => undefined);
    throw err;
  }
  for (const change of changes) store.notifyIdentityChange?.(change);
}

async function undo(store: ProtocolStore, before: Before, saved: PublicKey): Promise<void> {
  const { address, session, identity } = before;
  if (session === null) await store.removeSession(address);
  else await store.saveSession(address, SessionRecord.deserialize(session));
  // Only while `saved` is still stored: another tab's save or approval meanwhile stays.
  if ('entry' in identity) await store.restoreIdentityEntry?.(address, identity.entry, saved);
  else if (identity.key !== null) await store.saveIdentity(address, identity.key);
  else await store.removeIdentity?.(address);
}
