import type { Address } from '@e2ee-kit/core';
import type { KeyHolderRecord } from './holders.js';
import type { SenderKeyRecord } from './record.js';

/**
 * Where sender-key records live, keyed by (sender address, distribution id). The distribution id is
 * always passed in canonical lowercase form. Implementations persist `record.serialize()` and return
 * `SenderKeyRecord.deserialize(bytes)` (likewise `KeyHolderRecord`); `undefined` when nothing is stored.
 *
 * Two records per key: the sender-key record (every encrypt and decrypt reads and writes it) and,
 * for the app's own sending chains only, the key-holder record (who was handed the current chain;
 * only the membership calls touch it, so its size never slows a message down). The key-holder
 * methods are optional, both or neither: without them the list is kept inside the app's own
 * sender-key record, which then grows with the group and costs every encrypt a copy of it.
 *
 * A store call that throws must leave the previous record in place (write atomically). The cipher
 * serialises calls per key itself: implementations need no locking of their own.
 */
export interface SenderKeyStore {
  loadSenderKey(sender: Address, distributionId: string): Promise<SenderKeyRecord | undefined>;
  storeSenderKey(sender: Address, distributionId: string, record: SenderKeyRecord): Promise<void>;
  loadKeyHolders?(sender: Address, distributionId: string): Promise<KeyHolderRecord | undefined>;
  storeKeyHolders?(sender: Address, distributionId: string, record: KeyHolderRecord): Promise<void>;
}
