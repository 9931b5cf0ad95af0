// One group message decrypted several times at once on one store (two ciphers over it, decrypt and
// tryDecrypt mixed, the next message and a kept skipped key alike): exactly one call gets the
// plaintext, every other one is a duplicate, and the record ends as after one decrypt.
import { utf8 } from '@e2ee-kit/core';
import { GroupCipher, generateDistributionId } from '@e2ee-kit/sender-keys';
import { InMemorySenderKeyStore } from '@e2ee-kit/sender-keys/testing';
import { expect, it } from 'vitest';

const alice = { name: 'alice', deviceId: 1 };

it('concurrent decrypts of one message: one plaintext, the rest duplicates', async () => {
  const id = generateDistributionId();
  const sender = new GroupCipher(new InMemorySenderKeyStore());
  const store = new InMemorySenderKeyStore();
  const ciphers = [new GroupCipher(store), new GroupCipher(store)];
  await ciphers[0]!.processDistributionMessage(alice, await sender.createDistributionMessage(alice, id));
  const wires = [];
  for (let i = 0; i < 3; i++) wires.push(await sender.encrypt(alice, id, utf8(`m${i}`)));
  // m2 first: m0 and m1 are then kept skipped keys; m0 is also the chain's oldest key.
  for (const i of [2, 0, 1]) {
    const wire = wires[i] as Uint8Array;
    const outcomes = await Promise.all(
      Array.from({ length: 6 }, (_, j) => {
        const c = ciphers[j % 2] as GroupCipher;
        return j % 3 === 0
          ? c.tryDecrypt(alice, wire).then((o) => o.status)
          : c.decrypt(alice, wire).then(
              () => 'decrypted',
              (e: { code?: string }) => (e.code === 'DUPLICATE_MESSAGE' ? 'duplicate' : `other ${e.code}`),
            );
      }),
    );
    expect(outcomes.filter((o) => o === 'decrypted')).toHaveLength(1);
    expect(outcomes.filter((o) => o === 'duplicate')).toHaveLength(5);
  }
  const record = await store.loadSenderKey(alice, id);
  expect(record?.states[0]?.iteration).toBe(3);
  expect(record?.states[0]?.skipped).toEqual([]);
});
