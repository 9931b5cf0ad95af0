/**
 * A libsignal-client `SenderKeyStore` that keeps serialized bytes (so libsignal's record codec runs
 * on every load, like ours in `InMemorySenderKeyStore`). For interop tests and benches; the older
 * copies in `test/sender-keys-libsignal.test.ts` and the sender-keys bench can move here.
 */
import { lib103 } from './libsignal.js';

type LibAddress = ReturnType<typeof lib103.ProtocolAddress.new>;
type LibRecord = ReturnType<typeof lib103.SenderKeyRecord.deserialize>;

export class LibSenderKeyBytesStore extends lib103.SenderKeyStore {
  readonly map = new Map<string, Uint8Array<ArrayBuffer>>();
  static key(a: LibAddress, d: string): string {
    return `${a.name()}.${a.deviceId()}\u0000${d}`;
  }
  async saveSenderKey(a: LibAddress, d: string, r: LibRecord): Promise<void> {
    this.map.set(LibSenderKeyBytesStore.key(a, d), r.serialize());
  }
  async getSenderKey(a: LibAddress, d: string): Promise<LibRecord | null> {
    const b = this.map.get(LibSenderKeyBytesStore.key(a, d));
    return b === undefined ? null : lib103.SenderKeyRecord.deserialize(b);
  }
}
