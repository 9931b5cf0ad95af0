// Public classes come through the package name so this entry shares them with the main entry.
import { type Address, addressToString } from '@e2ee-kit/core';
import { SenderKeyRecord, type SenderKeyStore } from '@e2ee-kit/sender-keys';

type Operation = 'load' | 'store';

/**
 * A `SenderKeyStore` that keeps **bytes** (`record.serialize()`), so tests exercise the record codec
 * exactly as a database-backed store would. `failNext` injects a store failure for tests of the
 * "a failure changes nothing" guarantee.
 */
export class InMemorySenderKeyStore implements SenderKeyStore {
  readonly #map = new Map<string, Uint8Array>();
  readonly #failures: Array<{ op: Operation; error: Error }> = [];
  /** Number of successful writes (tests use it to check that nothing was written). */
  writes = 0;

  static key(sender: Address, distributionId: string): string {
    return `${addressToString(sender)}\u0000${distributionId}`;
  }

  async loadSenderKey(sender: Address, distributionId: string): Promise<SenderKeyRecord | undefined> {
    this.#maybeFail('load');
    const bytes = this.#map.get(InMemorySenderKeyStore.key(sender, distributionId));
    return bytes === undefined ? undefined : SenderKeyRecord.deserialize(bytes);
  }

  async storeSenderKey(sender: Address, distributionId: string, record: SenderKeyRecord): Promise<void> {
    this.#maybeFail('store');
    const bytes = record.serialize();
    this.#map.set(InMemorySenderKeyStore.key(sender, distributionId), bytes);
    this.writes++;
  }

  /** Removes a record (an app does this when it leaves a group or forgets a sender). */
  async deleteSenderKey(sender: Address, distributionId: string): Promise<void> {
    this.#map.delete(InMemorySenderKeyStore.key(sender, distributionId));
  }

  /** The stored bytes of one record (a copy), or undefined. */
  rawRecord(sender: Address, distributionId: string): Uint8Array | undefined {
    return this.#map.get(InMemorySenderKeyStore.key(sender, distributionId))?.slice();
  }

  /** Replaces the stored bytes of one record (tests: load a fixture, or corrupt a record). */
  setRawRecord(sender: Address, distributionId: string, bytes: Uint8Array): void {
    this.#map.set(InMemorySenderKeyStore.key(sender, distributionId), bytes.slice());
  }

  /** Every stored record as bytes (copies), to compare before and after an operation. */
  snapshot(): Map<string, Uint8Array> {
    return new Map([...this.#map].map(([k, v]) => [k, v.slice()]));
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
