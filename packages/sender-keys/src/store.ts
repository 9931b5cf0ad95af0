import type { Address } from '@e2ee-kit/core';
import type { SenderKeyRecord } from './record.js';

/**
 * Where sender-key records live, keyed by (sender address, distribution id). The distribution id is
 * always passed in canonical lowercase form. Implementations persist `record.serialize()` and return
 * `SenderKeyRecord.deserialize(bytes)`; `undefined` when nothing is stored.
 *
 * A `storeSenderKey` that throws must leave the previous record in place (write atomically). The
 * cipher serialises calls per key itself: implementations need no locking of their own.
 */
export interface SenderKeyStore {
  loadSenderKey(sender: Address, distributionId: string): Promise<SenderKeyRecord | undefined>;
  storeSenderKey(sender: Address, distributionId: string, record: SenderKeyRecord): Promise<void>;
}
