// Receiving distribution messages again: a stale SKDM of a chain the sender has already replaced
// (Signal's retry-receipt flow resends a message's original content, SKDM included; pairwise
// messages can also arrive out of order) must not cost the sender's current chain its life. libsignal
// keeps every state until a sixth chain evicts it; our rotation grace may only retire a chain that a
// genuinely new chain replaced.
import { type Address, utf8 } from '@e2ee-kit/core';
import { SenderKeyDistributionMessage } from '@e2ee-kit/sender-keys';
import { describe, expect, it } from 'vitest';
import { senderAndReceiver } from './helpers.js';

const D = '5a1e0000-0000-4000-8000-00000000d157';
const alice: Address = Object.freeze({ name: 'alice', deviceId: 1 });
const HOUR = 60 * 60 * 1000;
const text = (b: Uint8Array) => new TextDecoder().decode(b);

const setup = () => senderAndReceiver(alice, D);

describe('a distribution message of a known chain, processed again', () => {
  it('a stale SKDM of the replaced chain does not retire the current chain (libsignal keeps both)', async () => {
    const { clock, sender, receiver, load } = setup();
    const skdmA = (await sender.createDistributionMessage(alice, D)).serialize();
    await receiver.processDistributionMessage(alice, skdmA);
    const onA = await sender.encrypt(alice, D, utf8('on A'));
    const skdmB = await sender.rotate(alice, D);
    await receiver.processDistributionMessage(alice, skdmB.serialize());
    clock.now += 60_000;
    // The old SKDM again, e.g. inside a resent message's original content.
    await receiver.processDistributionMessage(alice, skdmA);
    // libsignal's order: the known chain moves to the front, unchanged.
    const chainA = SenderKeyDistributionMessage.deserialize(skdmA).chainId;
    expect((await load()).chainIds).toEqual([chainA, skdmB.chainId]);

    // Long after any grace: the sender still sends on B, and B must still decrypt.
    clock.now += 3 * HOUR;
    const onB = await sender.encrypt(alice, D, utf8('on B, hours later'));
    const got = await receiver.decrypt(alice, onB);
    expect([text(got.plaintext), got.chainId]).toEqual(['on B, hours later', skdmB.chainId]);
    // A was replaced by B hours ago: the stale SKDM revived it (as libsignal keeps it), no rewind.
    expect(text((await receiver.decrypt(alice, onA)).plaintext)).toBe('on A');
  });

  it('a genuinely new chain still retires every earlier one after the grace', async () => {
    const { clock, sender, receiver, load } = setup();
    const skdmA = (await sender.createDistributionMessage(alice, D)).serialize();
    await receiver.processDistributionMessage(alice, skdmA);
    const skdmB = await sender.rotate(alice, D);
    await receiver.processDistributionMessage(alice, skdmB.serialize());
    await receiver.processDistributionMessage(alice, skdmA); // stale: both stay live
    const onB = await sender.encrypt(alice, D, utf8('on B'));
    const skdmC = await sender.rotate(alice, D);
    await receiver.processDistributionMessage(alice, skdmC.serialize());
    clock.now += 2 * HOUR;
    const onC = await sender.encrypt(alice, D, utf8('on C'));
    expect(text((await receiver.decrypt(alice, onC)).plaintext)).toBe('on C');
    expect((await load()).chainIds).toEqual([skdmC.chainId]);
    expect((await receiver.tryDecrypt(alice, onB)).status).toBe('missing-sender-key');
  });
});
