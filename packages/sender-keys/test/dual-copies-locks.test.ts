// Two copies of @e2ee-kit/sender-keys in one app (its ESM and CommonJS builds, or two versions in a
// bundle) over one store object. The README promises that every operation on one (sender,
// distribution id) runs under one mutex "shared by every GroupCipher on the same store object": with
// a mutex per copy, the copies' calls interleaved, so two encrypts at once sent one iteration twice
// (one message key for two plaintexts) and one group message decrypted twice. The second copy is a
// second module instance of the same sources (vi.resetModules: core evaluated again too).
import { afterEach, expect, it, vi } from 'vitest';

type SenderKeys = typeof import('@e2ee-kit/sender-keys');
type Testing = typeof import('@e2ee-kit/sender-keys/testing');

const D = '0c6d7e8f-1111-4222-8333-4444555566aa';
const alice = { name: 'alice', deviceId: 1 };
const utf8 = (s: string) => new TextEncoder().encode(s);

async function load(): Promise<{ keys: SenderKeys; testing: Testing }> {
  vi.resetModules();
  return {
    keys: await import('@e2ee-kit/sender-keys'),
    testing: await import('@e2ee-kit/sender-keys/testing'),
  };
}

afterEach(() => void vi.resetModules());

it('encrypts through both copies at once never send one iteration twice', async () => {
  const a = await load();
  const b = await load();
  expect(b.keys.GroupCipher).not.toBe(a.keys.GroupCipher);
  const store = new a.testing.InMemorySenderKeyStore();
  const ciphers = [new a.keys.GroupCipher(store), new b.keys.GroupCipher(store)];
  await ciphers[0]!.createDistributionMessage(alice, D);
  const wires = await Promise.all(
    Array.from({ length: 8 }, (_, i) => ciphers[i % 2]!.encrypt(alice, D, utf8(`m${i}`))),
  );
  const iterations = wires.map((w) => a.keys.SenderKeyMessage.deserialize(w).iteration);
  expect(new Set(iterations).size).toBe(8);
  expect([...iterations].sort((x, y) => x - y)).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
  const record = await store.loadSenderKey(alice, D);
  expect(record?.states[0]?.iteration).toBe(8);
});

it('one group message decrypted through both copies at once: one plaintext, the other a duplicate', async () => {
  const a = await load();
  const b = await load();
  const sender = new a.keys.GroupCipher(new a.testing.InMemorySenderKeyStore());
  const skdm = await sender.createDistributionMessage(alice, D);
  const store = new b.testing.InMemorySenderKeyStore();
  const ciphers = [new a.keys.GroupCipher(store), new b.keys.GroupCipher(store)];
  await ciphers[1]!.processDistributionMessage(alice, skdm.serialize());
  for (let i = 0; i < 3; i++) {
    const wire = await sender.encrypt(alice, D, utf8(`m${i}`));
    const outcomes = await Promise.all(ciphers.map((c) => c.tryDecrypt(alice, wire).then((o) => o.status)));
    expect(outcomes.sort()).toEqual(['decrypted', 'duplicate']);
  }
  expect((await store.loadSenderKey(alice, D))?.states[0]?.iteration).toBe(3);
});
