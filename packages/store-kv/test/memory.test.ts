import * as ratchet from '@e2ee-kit/ratchet';
import * as senderKeys from '@e2ee-kit/sender-keys';
import { KvStore } from '@e2ee-kit/store-kv';
import { MemoryKvBackend, runKvStoreConformance } from '@e2ee-kit/store-kv/testing';
import { describe, expect, it } from 'vitest';

describe('KvStore over the memory backend', () => {
  runKvStoreConformance({ describe, it, expect }, (o) => KvStore.open(new MemoryKvBackend(), o), {
    ratchet,
    senderKeys,
  });
});

describe('KvStore sealed over the memory backend', () => {
  runKvStoreConformance(
    { describe, it, expect },
    (o) => KvStore.open(new MemoryKvBackend(), { ...o, encryptionKey: new Uint8Array(32).fill(1) }),
    { ratchet, senderKeys },
  );
});
