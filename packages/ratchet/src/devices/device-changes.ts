/**
 * The device changes a fan-out call applied, per account, as the app sees them: the changes
 * themselves and the sender-key holders to add, forget or re-share with. `ChangeLog` merges what one
 * or several calls noted (a device removed and re-added is re-registered) until a result takes them.
 */
import { type Address, createAddress } from '@e2ee-kit/core';

/** What changed in one account's device list. Show it to the user ("Bob linked a new device"). */
export interface DeviceChange {
  readonly account: string;
  readonly devicesAdded: readonly number[];
  readonly devicesRemoved: readonly number[];
  /** Same id, new registration (a device re-linked or a reused id): a new session was started. */
  readonly devicesReregistered: readonly number[];
}

/**
 * Sender-key holders to update (plain addresses for `@e2ee-kit/sender-keys`):
 * - `add`: new devices; put them in the group's member list, so `prepareSend` lists them for the
 *   distribution message;
 * - `forget`: devices that left; drop them from the member list, so the next `prepareSend` rotates
 *   the chain (do not `markNeedsDistribution` them: that would hide the removal and skip the rotation);
 * - `redistribute`: devices re-registered under the same id; they stay members, call
 *   `markNeedsDistribution` so the new registration gets the key.
 */
export interface KeyHolderChange {
  readonly add: readonly Address[];
  readonly forget: readonly Address[];
  readonly redistribute: readonly Address[];
}

export interface DeviceChangeResult {
  readonly changes: readonly DeviceChange[];
  readonly keyHolders: KeyHolderChange;
}

export class ChangeLog {
  readonly #by = new Map<string, { added: Set<number>; removed: Set<number>; rereg: Set<number> }>();

  note(
    account: string,
    added: readonly number[],
    removed: readonly number[],
    rereg: readonly number[],
  ): void {
    let e = this.#by.get(account);
    if (!e) {
      e = { added: new Set(), removed: new Set(), rereg: new Set() };
      this.#by.set(account, e);
    }
    for (const id of added) {
      if (e.removed.delete(id)) e.rereg.add(id);
      else e.added.add(id);
    }
    for (const id of removed) {
      if (!e.added.delete(id)) e.removed.add(id);
      e.rereg.delete(id);
    }
    for (const id of rereg) if (!e.added.has(id)) e.rereg.add(id);
  }

  /** The changes of `accounts` noted so far, which are forgotten here: each is reported once. */
  take(accounts: readonly string[]): DeviceChangeResult {
    const changes: DeviceChange[] = [];
    const add: Address[] = [];
    const forget: Address[] = [];
    const redistribute: Address[] = [];
    const sorted = (s: Set<number>) => [...s].sort((a, b) => a - b);
    for (const account of new Set(accounts)) {
      const e = this.#by.get(account);
      this.#by.delete(account);
      if (e === undefined || e.added.size + e.removed.size + e.rereg.size === 0) continue;
      changes.push(
        Object.freeze({
          account,
          devicesAdded: sorted(e.added),
          devicesRemoved: sorted(e.removed),
          devicesReregistered: sorted(e.rereg),
        }),
      );
      for (const id of sorted(e.added)) add.push(createAddress(account, id));
      for (const id of sorted(e.removed)) forget.push(createAddress(account, id));
      for (const id of sorted(e.rereg)) redistribute.push(createAddress(account, id));
    }
    return { changes, keyHolders: Object.freeze({ add, forget, redistribute }) };
  }
}
