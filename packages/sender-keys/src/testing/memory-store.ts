// Public classes come through the package name so this entry shares them with the main entry.
import { type Address, addressToString, copyBytes, redact } from '@e2ee-kit/core';
import { KeyHolderRecord, SenderKeyRecord, type SenderKeyStore } from '@e2ee-kit/sender-keys';

/** A store call `failNext` can make fail. */
export type Operation = 'load' | 'store' | 'loadKeyHolders' | 'storeKeyHolders';

/**
 * A `SenderKeyStore` that keeps **bytes** (`record.serialize()`), so tests exercise the record codecs
 * exactly as a database-backed store would. `failNext` injects a store failure for tests of the
 * "a failure changes nothing" guarantee.
 */
export class InMemorySenderKeyStore implements SenderKeyStore {
  readonly #records = new Map<string, Uint8Array>();
  readonly #holders = new Map<string, Uint8Array>();
  readonly #failures: Array<{ op: Operation; error: Error }> = [];
  /** Number of successful writes of either kind (tests use it to check that nothing was written). */
  writes = 0;

  static key(sender: Address, distributionId: string): string {
    return `${addressToString(sender)}\u0000${distributionId}`;
  }

  async loadSenderKey(sender: Address, distributionId: string): Promise<SenderKeyRecord | undefined> {
    this.#maybeFail('load');
    const bytes = this.#records.get(InMemorySenderKeyStore.key(sender, distributionId));
    return bytes === undefined ? undefined : SenderKeyRecord.deserialize(bytes);
  }

  async storeSenderKey(sender: Address, distributionId: string, record: SenderKeyRecord): Promise<void> {
    this.#maybeFail('store');
    this.#records.set(InMemorySenderKeyStore.key(sender, distributionId), record.serialize());
    this.writes++;
  }

  async loadKeyHolders(sender: Address, distributionId: string): Promise<KeyHolderRecord | undefined> {
    this.#maybeFail('loadKeyHolders');
    const bytes = this.#holders.get(InMemorySenderKeyStore.key(sender, distributionId));
    return bytes === undefined ? undefined : KeyHolderRecord.deserialize(bytes);
  }

  async storeKeyHolders(sender: Address, distributionId: string, record: KeyHolderRecord): Promise<void> {
    this.#maybeFail('storeKeyHolders');
    this.#holders.set(InMemorySenderKeyStore.key(sender, distributionId), record.serialize());
    this.writes++;
  }

  /** Removes both records of a key (an app does this when it leaves a group or forgets a sender). */
  async deleteSenderKey(sender: Address, distributionId: string): Promise<void> {
    this.#records.delete(InMemorySenderKeyStore.key(sender, distributionId));
    this.#holders.delete(InMemorySenderKeyStore.key(sender, distributionId));
  }

  /** The stored bytes of one sender-key record (a copy), or undefined. */
  rawRecord(sender: Address, distributionId: string): Uint8Array | undefined {
    return this.#records.get(InMemorySenderKeyStore.key(sender, distributionId))?.slice();
  }

  /** Replaces the stored bytes of one sender-key record (tests: load a fixture, or corrupt a record). */
  setRawRecord(sender: Address, distributionId: string, bytes: Uint8Array): void {
    this.#records.set(InMemorySenderKeyStore.key(sender, distributionId), copyBytes(bytes));
  }

  /** The stored bytes of one key-holder record (a copy), or undefined. */
  rawKeyHolders(sender: Address, distributionId: string): Uint8Array | undefined {
    return this.#holders.get(InMemorySenderKeyStore.key(sender, distributionId))?.slice();
  }

  /** Replaces the stored bytes of one key-holder record. */
  setRawKeyHolders(sender: Address, distributionId: string, bytes: Uint8Array): void {
    this.#holders.set(InMemorySenderKeyStore.key(sender, distributionId), copyBytes(bytes));
  }

  /** Every stored record of both kinds as bytes (copies), to compare before and after an operation. */
  snapshot(): Map<string, Uint8Array> {
    const out = new Map<string, Uint8Array>();
    for (const [k, v] of this.#records) out.set(`record\u0000${k}`, v.slice());
    for (const [k, v] of this.#holders) out.set(`holders\u0000${k}`, v.slice());
    return out;
  }

  /** The next `op` call throws `error` (queued: call several times to fail several calls). */
  failNext(op: Operation, error: Error = new Error(`injected ${op} failure`)): void {
    this.#failures.push({ op, error });
  }

  #maybeFail(op: Operation): void {
    const i = this.#failures.findIndex((f) => f.op === op);
    if (i >= 0) {
      const [f] = this.#failures.splice(i, 1);
      throw (f as { error: Error }).error;
    }
  }
}
redact(InMemorySenderKeyStore, '[InMemorySenderKeyStore]');
