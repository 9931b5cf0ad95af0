// A sender that rotates more often than the receiver's record has retired-chain markers for (32 in the
// first release): the oldest marker was dropped, so a replayed distribution message of that chain
// looked new — it was stored again (its old messages decrypting a second time) and started the grace
// of the chain the sender uses now. A dropped chain must never come back, and every genuinely new
// chain must still be accepted.
import { type Address, toHex, utf8 } from '@e2ee-kit/core';
import { expect, it } from 'vitest';
import { senderAndReceiver } from './helpers.js';

const D = '5a1e0000-0000-4000-8000-00000000a40a';
const alice: Address = Object.freeze({ name: 'alice', deviceId: 1 });
const HOUR = 60 * 60 * 1000;
const text = (b: Uint8Array) => new TextDecoder().decode(b);
const ROTATIONS = 40;

it(`${ROTATIONS} rotations, then a replay of every earlier distribution message: none is stored again, the current chain lives on`, async () => {
  const { clock, sender, receiver, receiverStore, load } = senderAndReceiver(alice, D);
  const raw = () => toHex(receiverStore.rawRecord(alice, D) as Uint8Array);
  const skdms: Uint8Array[] = [];
  const firsts: Uint8Array[] = [];
  for (let i = 0; i <= ROTATIONS; i++) {
    const skdm = i === 0 ? await sender.createDistributionMessage(alice, D) : await sender.rotate(alice, D);
    skdms.push(skdm.serialize());
    // Every new chain is accepted: its first message decrypts.
    await receiver.processDistributionMessage(alice, skdm);
    const first = await sender.encrypt(alice, D, utf8(`chain ${i}`));
    firsts.push(first);
    expect(text((await receiver.decrypt(alice, first)).plaintext)).toBe(`chain ${i}`);
    clock.now += 2 * HOUR; // each replaced chain's grace ends before the next rotation
  }
  const current = skdms[ROTATIONS] as Uint8Array;
  const before = raw();
  for (const [i, skdm] of skdms.entries()) {
    if (skdm === current) continue;
    await receiver.processDistributionMessage(alice, skdm);
    expect(raw(), `replayed SKDM of chain ${i}`).toBe(before);
    expect((await receiver.tryDecrypt(alice, firsts[i] as Uint8Array)).status, `chain ${i}`).toBe(
      'missing-sender-key',
    );
  }
  // The chain the sender uses now was not retired by a revived one: hours later it still decrypts.
  clock.now += 3 * HOUR;
  const later = await receiver.decrypt(alice, await sender.encrypt(alice, D, utf8('later')));
  expect(text(later.plaintext)).toBe('later');
  expect((await load()).size).toBe(1);
  // And a further genuinely new chain is still accepted.
  await receiver.processDistributionMessage(alice, await sender.rotate(alice, D));
  const next = await receiver.decrypt(alice, await sender.encrypt(alice, D, utf8('next')));
  expect(text(next.plaintext)).toBe('next');
});
