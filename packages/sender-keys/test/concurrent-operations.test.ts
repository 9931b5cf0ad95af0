// Operations on one (sender, distribution id) started at once, through two ciphers over one store
// (the store's own lock, as the README says apps rely on: callers never lock): consecutive messages
// decrypted at once while a new chain's distribution message is processed, and a sender encrypting
// while a removal rotates its chain and deliveries are recorded. Every delivered message decrypts
// exactly once, no (chain, iteration) is sent twice, and the stored records end consistent.
import { type Address, utf8 } from '@e2ee-kit/core';
import { GroupCipher, generateDistributionId, SenderKeyMessage } from '@e2ee-kit/sender-keys';
import { InMemorySenderKeyStore } from '@e2ee-kit/sender-keys/testing';
import { expect, it } from 'vitest';

const alice: Address = Object.freeze({ name: 'alice', deviceId: 1 });
const bob: Address = Object.freeze({ name: 'bob', deviceId: 1 });
const carol: Address = Object.freeze({ name: 'carol', deviceId: 1 });
const text = (b: Uint8Array) => new TextDecoder().decode(b);
const status = (p: Promise<{ status: string; plaintext?: Uint8Array }>) =>
  p.then((o) => (o.status === 'decrypted' ? text(o.plaintext as Uint8Array) : o.status));

it('consecutive messages decrypted at once, racing a new chain’s SKDM: each exactly once', async () => {
  const id = generateDistributionId();
  const sender = new GroupCipher(new InMemorySenderKeyStore());
  const store = new InMemorySenderKeyStore();
  const ciphers = [new GroupCipher(store), new GroupCipher(store)];
  await ciphers[0]!.processDistributionMessage(alice, await sender.createDistributionMessage(alice, id));
  const old: Uint8Array[] = [];
  for (let i = 0; i < 10; i++) old.push(await sender.encrypt(alice, id, utf8(`old ${i}`)));
  const rotated = (await sender.rotate(alice, id)).serialize();
  const fresh: Uint8Array[] = [];
  for (let i = 0; i < 4; i++) fresh.push(await sender.encrypt(alice, id, utf8(`new ${i}`)));

  // Every old message twice, in an interleaved order, with the new SKDM in the middle.
  const order = [3, 0, 7, 1, 9, 2, 3, 8, 4, 0, 6, 5, 9, 1, 2, 4, 5, 6, 7, 8];
  const answers = await Promise.all([
    ...order.slice(0, 10).map((i, j) => status(ciphers[j % 2]!.tryDecrypt(alice, old[i]!))),
    ciphers[1]!.processDistributionMessage(alice, rotated).then(() => 'processed'),
    ...order.slice(10).map((i, j) => status(ciphers[j % 2]!.tryDecrypt(alice, old[i]!))),
  ]);
  const decrypted = answers.filter((a) => a.startsWith('old ')).sort();
  expect(decrypted).toEqual(Array.from({ length: 10 }, (_, i) => `old ${i}`).sort());
  expect(answers.filter((a) => a === 'duplicate')).toHaveLength(10);
  expect(answers.filter((a) => a === 'processed')).toHaveLength(1);

  // The new chain at once too, each message twice: once each.
  const second = await Promise.all(
    [...fresh, ...fresh].map((w, j) => status(ciphers[j % 2]!.tryDecrypt(alice, w))),
  );
  expect(second.filter((a) => a.startsWith('new ')).sort()).toEqual(['new 0', 'new 1', 'new 2', 'new 3']);
  expect(second.filter((a) => a === 'duplicate')).toHaveLength(4);
  const record = await store.loadSenderKey(alice, id);
  expect(record?.size).toBe(2);
  expect(record?.states[0]?.iteration).toBe(4);
  expect(record?.states[1]?.iteration).toBe(10);
  expect(record?.states[1]?.skipped).toEqual([]);
});

it('encrypts racing a rotating prepareSend and markDelivered: no iteration twice, the store consistent', async () => {
  const id = generateDistributionId();
  const store = new InMemorySenderKeyStore();
  const senders = [new GroupCipher(store), new GroupCipher(store)];
  const first = await senders[0]!.prepareSend(alice, id, [bob, carol]);
  await senders[0]!.markDelivered(alice, id, first.chainId, first.needsDistribution);
  const skdms = [first.distributionMessage.serialize()];

  // Carol is removed while encrypts run through both ciphers; the rotated chain's SKDM goes to Bob.
  const wires: Array<Promise<Uint8Array>> = [];
  for (let i = 0; i < 6; i++) wires.push(senders[i % 2]!.encrypt(alice, id, utf8(`m${i}`)));
  const plan = senders[1]!.prepareSend(alice, id, [bob]).then(async (p) => {
    skdms.push(p.distributionMessage.serialize());
    return { plan: p, delivered: await senders[0]!.markDelivered(alice, id, p.chainId, p.needsDistribution) };
  });
  for (let i = 6; i < 12; i++) wires.push(senders[i % 2]!.encrypt(alice, id, utf8(`m${i}`)));
  const [sent, { plan: p, delivered }] = await Promise.all([Promise.all(wires), plan]);
  expect(p.rotation).toBe('member-removed');
  expect(p.removed).toEqual([carol]);
  expect(delivered).toBe(true);

  const keys = sent.map((w) => SenderKeyMessage.deserialize(w)).map((m) => `${m.chainId}/${m.iteration}`);
  expect(new Set(keys).size).toBe(sent.length);
  // Each chain's iterations are 0, 1, 2, … with no gap: every encrypt advanced the chain it used.
  for (const chainId of [first.chainId, p.chainId]) {
    const its = sent
      .map((w) => SenderKeyMessage.deserialize(w))
      .filter((m) => m.chainId === chainId)
      .map((m) => m.iteration)
      .sort((a, b) => a - b);
    expect(its).toEqual(its.map((_, i) => i));
  }
  expect(await senders[0]!.keyHolders(alice, id)).toEqual([bob]);
  const state = (await store.loadSenderKey(alice, id))?.states[0];
  expect(state?.chainId).toBe(p.chainId);
  expect(state?.iteration).toBe(
    sent.filter((w) => SenderKeyMessage.deserialize(w).chainId === p.chainId).length,
  );

  // Bob (both SKDMs) reads every message once; Carol (the first only) reads none on the new chain.
  const bobKeys = new GroupCipher(new InMemorySenderKeyStore());
  const carolKeys = new GroupCipher(new InMemorySenderKeyStore());
  for (const s of skdms) await bobKeys.processDistributionMessage(alice, s);
  await carolKeys.processDistributionMessage(alice, skdms[0]!);
  const read = await Promise.all([...sent, ...sent].map((w) => status(bobKeys.tryDecrypt(alice, w))));
  expect(read.filter((r) => r.startsWith('m')).sort()).toEqual(
    Array.from({ length: 12 }, (_, i) => `m${i}`).sort(),
  );
  for (const w of sent) {
    const onNew = SenderKeyMessage.deserialize(w).chainId === p.chainId;
    const got = await status(carolKeys.tryDecrypt(alice, w));
    if (onNew) expect(got).toBe('missing-sender-key');
    else expect(got).toMatch(/^m\d+$/);
  }
});
