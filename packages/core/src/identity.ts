/**
 * The identity key store contract and its trust policy.
 *
 * Default policy is trust on first use: the first identity key seen for an address is stored and
 * trusted; a different key later is reported (old and new key) through `onIdentityChange` and, under
 * `tofu`, accepted and stored; under `blockOnChange` it is refused until the app calls `approve()`.
 */
import { type Address, addressToString, validateAddress } from './address.js';
import { constantTimeEqual, copyBytes } from './bytes.js';
import { StoreError } from './errors.js';
import { IdentityKeyPair, PublicKey } from './keys.js';
import { KeyedMutex } from './mutex.js';
import { redact } from './redact.js';
import { validateRegistrationId } from './registration-id.js';

export type Direction = 'sending' | 'receiving';

export type IdentityChange =
  | { readonly kind: 'new' }
  | { readonly kind: 'unchanged' }
  | { readonly kind: 'replaced'; readonly previous: PublicKey; readonly current: PublicKey };

export interface SaveIdentityOptions {
  /**
   * The caller reports a replacement itself, through `notifyIdentityChange`, once its whole operation
   * has committed (so a change that is rolled back is never reported). Only passed to stores that
   * implement `notifyIdentityChange`.
   */
  readonly deferNotification?: boolean;
}

/**
 * Everything an identity store keeps for one address (the key, any approval), as returned by
 * `getIdentityEntry`. Opaque to callers: they only hand it back to `restoreIdentityEntry`.
 */
export type IdentityEntry = unknown;

export interface IdentityKeyStore {
  getIdentityKeyPair(): Promise<IdentityKeyPair>;
  getLocalRegistrationId(): Promise<number>;
  /** Stores `identityKey` for `address` and says whether it was new, unchanged or replaced another. */
  saveIdentity(
    address: Address,
    identityKey: PublicKey,
    options?: SaveIdentityOptions,
  ): Promise<IdentityChange>;
  isTrustedIdentity(address: Address, identityKey: PublicKey, direction: Direction): Promise<boolean>;
  getIdentity(address: Address): Promise<PublicKey | null>;
  /**
   * Optional, with `restoreIdentityEntry` (both or neither): a snapshot of what is stored for `address`,
   * so a failed operation can undo its `saveIdentity` exactly (approvals included). Without them the
   * undo re-saves the previous key, which may drop approvals.
   */
  getIdentityEntry?(address: Address): Promise<IdentityEntry>;
  /**
   * Optional: puts back exactly an entry from `getIdentityEntry`, reporting nothing. `saved`: the key
   * the failed operation's `saveIdentity` stored — the entry is put back only while that key is still
   * stored, so a key or approval another context stored meanwhile is kept. Without `saved` (older
   * callers) the entry is written back unconditionally.
   */
  restoreIdentityEntry?(address: Address, entry: IdentityEntry, saved?: PublicKey): Promise<void>;
  /** Optional: reports a replacement saved with `deferNotification` after the caller committed. */
  notifyIdentityChange?(event: IdentityChangeEvent): void;
}

/**
 * - `tofu`: trust on first use; a changed key is reported and then trusted (Signal's behaviour).
 * - `blockOnChange`: a changed key is untrusted until `approve()` is called for it.
 * - a function: decide yourself; `stored` is null on first contact.
 */
export type TrustPolicy =
  | 'tofu'
  | 'blockOnChange'
  | ((
      address: Address,
      stored: PublicKey | null,
      presented: PublicKey,
      direction: Direction,
    ) => boolean | Promise<boolean>);

export interface IdentityChangeEvent {
  readonly address: Address;
  readonly previous: PublicKey;
  readonly current: PublicKey;
}

/** Byte-level persistence behind `KeyValueIdentityKeyStore`: implement it over any storage. */
export interface IdentityBackend {
  get(key: string): Promise<Uint8Array | undefined>;
  set(key: string, value: Uint8Array): Promise<void>;
  delete(key: string): Promise<void>;
  /**
   * Optional: writes `value` only if the record still holds `expected` (`undefined`: no record), as
   * one atomic step, and says whether it did. With it, store objects in several tabs or processes over
   * one backend never report a key change twice or against the wrong previous key.
   */
  compareAndSet?(key: string, expected: Uint8Array | undefined, value: Uint8Array): Promise<boolean>;
}

/** Reads and compare-and-sets of one save before it gives up with a `StoreError`. */
const MAX_SAVE_TRIES = 8;

export interface KeyValueIdentityKeyStoreOptions {
  identityKeyPair: IdentityKeyPair;
  registrationId: number;
  backend: IdentityBackend;
  policy?: TrustPolicy;
  onIdentityChange?: (event: IdentityChangeEvent) => void;
}

/** A complete `IdentityKeyStore` with a trust policy on top of a small async key-value backend. */
export class KeyValueIdentityKeyStore implements IdentityKeyStore {
  readonly #pair: IdentityKeyPair;
  readonly #regId: number;
  readonly #backend: IdentityBackend;
  readonly #policy: TrustPolicy;
  readonly #onChange: ((event: IdentityChangeEvent) => void) | undefined;
  /** Read-modify-write per address is serialized: two concurrent saves never both report `new`. */
  readonly #mutex = new KeyedMutex();

  constructor(options: KeyValueIdentityKeyStoreOptions) {
    // Another copy's pair (an app that loads two copies of this package) is kept as this copy's.
    const pair = IdentityKeyPair.from(options?.identityKeyPair, 'identityKeyPair');
    validateRegistrationId(options.registrationId);
    if (!options.backend || typeof options.backend.get !== 'function')
      throw new TypeError('backend must implement get/set/delete');
    const policy = options.policy ?? 'tofu';
    if (policy !== 'tofu' && policy !== 'blockOnChange' && typeof policy !== 'function') {
      throw new TypeError("policy must be 'tofu', 'blockOnChange' or a function");
    }
    this.#pair = pair;
    this.#regId = options.registrationId;
    this.#backend = options.backend;
    this.#policy = policy;
    this.#onChange = options.onIdentityChange;
  }

  async getIdentityKeyPair(): Promise<IdentityKeyPair> {
    return this.#pair;
  }

  async getLocalRegistrationId(): Promise<number> {
    return this.#regId;
  }

  async getIdentity(address: Address): Promise<PublicKey | null> {
    const bytes = await this.#backend.get(`identity:${addressToString(address)}`);
    return bytes ? PublicKey.deserialize(bytes) : null;
  }

  async saveIdentity(
    address: Address,
    key: PublicKey,
    options?: SaveIdentityOptions,
  ): Promise<IdentityChange> {
    validateAddress(address);
    const identityKey = PublicKey.from(key, 'identityKey');
    const id = addressToString(address);
    const change = await this.#mutex.run(id, async (): Promise<IdentityChange> => {
      const cas = this.#backend.compareAndSet?.bind(this.#backend);
      let previous: PublicKey | null = null;
      for (let tries = 0; ; tries++) {
        if (tries === MAX_SAVE_TRIES)
          throw new StoreError('the identity key kept changing under this save (too many contexts at once)');
        const previousBytes = await this.#backend.get(`identity:${id}`);
        previous = previousBytes ? PublicKey.deserialize(previousBytes) : null;
        if (previous?.equals(identityKey)) return { kind: 'unchanged' };
        if (!cas) {
          await this.#backend.set(`identity:${id}`, identityKey.serialize());
          break;
        }
        // Another store object over this backend (a second tab) may have written since the read: then
        // read again, so the change reported is the one really made (never twice, never the wrong key).
        // The bytes as read (copied: a backend may answer with a view of memory it reuses).
        const expected = previousBytes && copyBytes(previousBytes);
        const written = await cas(`identity:${id}`, expected, identityKey.serialize());
        if (written === true) break;
        if (written !== false) throw new StoreError('identity backend compareAndSet must resolve a boolean');
      }
      if (!previous) return { kind: 'new' };
      try {
        await this.#backend.delete(`approved:${id}`);
      } catch (err) {
        // Either both writes happen or neither: put the previous key back before reporting the failure.
        // The key's own bytes, not `previousBytes`: a backend may answer with a view of memory it reuses.
        await this.#backend.set(`identity:${id}`, previous.serialize()).catch(() => undefined);
        throw err;
      }
      return { kind: 'replaced', previous, current: identityKey };
    });
    // Reported after the writes (never for a failed save), and not at all when the caller defers it.
    if (change.kind === 'replaced' && options?.deferNotification !== true) {
      this.#onChange?.({ address, previous: change.previous, current: change.current });
    }
    return change;
  }

  /** The stored key and approval for `address` (copies), for an exact undo with `restoreIdentityEntry`. */
  async getIdentityEntry(address: Address): Promise<IdentityEntry> {
    validateAddress(address);
    const id = addressToString(address);
    return this.#mutex.run(id, async (): Promise<StoredEntry> => {
      // Each answer copied at once, not `slice()`d: a backend may answer with Node Buffers (whose
      // `slice` is a view) of memory it reuses for the next answer.
      const own = (b: Uint8Array | undefined) => (b === undefined ? null : copyBytes(b));
      const identity = own(await this.#backend.get(`identity:${id}`));
      const approved = own(await this.#backend.get(`approved:${id}`));
      return Object.freeze({ identity, approved });
    });
  }

  /**
   * Undoes a failed operation's `saveIdentity(address, saved)`: puts back what `getIdentityEntry`
   * returned before it (no policy, no callback), but only what that save changed and only while it
   * stands — another store object over this backend (a tab, a process) may have saved another key or
   * approved one since, and the undo must not take that back. So the key is put back only while
   * `saved` is still stored, and the approval the save deleted only while there is none.
   *
   * With the backend's `compareAndSet` each of those is one atomic step. Without it, and for the undo
   * of a first contact (a delete, which `compareAndSet` cannot do), it is a read then a write: only
   * this object's mutex orders them, so another object's write landing between the two is lost.
   * An undo retried after failing part-way finishes: the key found put back already, the approval
   * follows. Without `saved` (older callers) the entry is written back unconditionally.
   */
  async restoreIdentityEntry(address: Address, entry: IdentityEntry, saved?: PublicKey): Promise<void> {
    validateAddress(address);
    if (!isStoredEntry(entry)) throw new TypeError('entry must come from getIdentityEntry');
    const savedKey = saved === undefined ? undefined : PublicKey.from(saved, 'saved');
    const id = addressToString(address);
    await this.#mutex.run(id, async () => {
      const written = savedKey?.serialize();
      // The save found this key already stored (`unchanged`): it wrote nothing, there is nothing to undo.
      if (written && entry.identity && constantTimeEqual(entry.identity, written)) return;
      if (!(await this.#putBack(`identity:${id}`, written, entry.identity, !written))) return;
      // A replacement deleted the approval; a first contact left it as it was. Another context's
      // approval given meanwhile (of the new key, say) stays.
      if (!written || (entry.identity && entry.approved))
        await this.#putBack(`approved:${id}`, undefined, entry.approved, !written);
    });
  }

  /**
   * Writes `value` (`null`: deletes) only while `key` holds `expected` (`undefined`: no record) —
   * unless `always` (an older caller's restore). Says whether `key` now holds `value`.
   */
  async #putBack(
    key: string,
    expected: Uint8Array | undefined,
    value: Uint8Array | null,
    always: boolean,
  ): Promise<boolean> {
    const b = this.#backend;
    const write = async () => {
      await (value ? b.set(key, value.slice()) : b.delete(key));
      return true;
    };
    if (always) return write();
    if (b.compareAndSet && value) {
      const written = await b.compareAndSet(key, expected, value.slice());
      if (written !== true && written !== false)
        throw new StoreError('identity backend compareAndSet must resolve a boolean');
      if (written) return true;
    } else if (holds(await b.get(key), expected)) return write();
    // Not what the save left: put back already (an undo retried after failing part-way, which goes
    // on with the approval), or written by another context since, which stays.
    return holds(await b.get(key), value ?? undefined);
  }

  /** Reports a replacement saved with `deferNotification` (calls `onIdentityChange`). */
  notifyIdentityChange(event: IdentityChangeEvent): void {
    this.#onChange?.(event);
  }

  async isTrustedIdentity(address: Address, key: PublicKey, direction: Direction): Promise<boolean> {
    validateAddress(address);
    const identityKey = PublicKey.from(key, 'identityKey');
    if (direction !== 'sending' && direction !== 'receiving')
      throw new TypeError("direction must be 'sending' or 'receiving'");
    const id = addressToString(address);
    const policy = this.#policy;
    if (typeof policy === 'function') {
      const stored = await this.#mutex.run(id, () => this.getIdentity(address));
      return policy(address, stored, identityKey, direction);
    }
    return this.#mutex.run(id, async () => {
      const stored = await this.getIdentity(address);
      if (!stored || stored.equals(identityKey) || policy === 'tofu') return true;
      const approved = await this.#backend.get(`approved:${id}`);
      if (approved !== undefined && PublicKey.deserialize(approved).equals(identityKey)) return true;
      // Another store object over this backend (a second tab) may have stored the approved key between
      // the two reads, deleting its approval: read the key again, or a key trusted throughout is refused.
      return (await this.getIdentity(address))?.equals(identityKey) === true;
    });
  }

  /**
   * Forgets the stored identity key for `address` (approvals are kept). Session libraries call it to
   * roll back a first-contact `saveIdentity` when the operation that saved it fails.
   */
  async removeIdentity(address: Address): Promise<void> {
    validateAddress(address);
    const id = addressToString(address);
    await this.#mutex.run(id, () => this.#backend.delete(`identity:${id}`));
  }

  /** Under `blockOnChange`: the user has verified `identityKey` for `address` (e.g. by safety number). */
  async approve(address: Address, key: PublicKey): Promise<void> {
    validateAddress(address);
    const identityKey = PublicKey.from(key, 'identityKey');
    const id = addressToString(address);
    await this.#mutex.run(id, () => this.#backend.set(`approved:${id}`, identityKey.serialize()));
  }
}

/** Whether a record read (`undefined`: none) holds `bytes` (`undefined`: no record). */
function holds(stored: Uint8Array | undefined, bytes: Uint8Array | undefined): boolean {
  return stored && bytes ? constantTimeEqual(stored, bytes) : stored === bytes;
}

interface StoredEntry {
  readonly identity: Uint8Array | null;
  readonly approved: Uint8Array | null;
}

function isStoredEntry(e: unknown): e is StoredEntry {
  if (e === null || typeof e !== 'object') return false;
  const { identity, approved } = e as Record<string, unknown>;
  return (
    (identity === null || identity instanceof Uint8Array) &&
    (approved === null || approved instanceof Uint8Array)
  );
}
redact(KeyValueIdentityKeyStore, '[KeyValueIdentityKeyStore]');
