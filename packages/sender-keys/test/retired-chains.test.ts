// Retired chains stay retired. A receiver drops a sender's replaced chain when its grace ends, when a
// sixth chain pushes it out, or when a new signing key takes its chain id. A distribution message of
// that chain processed later (a replayed or long-delayed pairwise message, a retry's original content)
// must not store it again: otherwise replays of the chain's messages decrypt a second time, and the
// revived chain retires the chain the sender actually uses now. libsignal forgets evicted chains; the
// record keeps a bounded list of retired (chain id, signing key, iteration reached) markers instead. An
// SKDM of a retired chain at or past that iteration is the sender still using it (a resend after
// SKDMs arrived out of order): accepted from there, so nothing decrypted before decrypts again.
import { type Address, PublicKey, toHex, utf8 } from '@e2ee-kit/core';
import { MAX_RETIRED_CHAINS, SenderKeyDistributionMessage, SenderKeyRecord } from '@e2ee-kit/sender-keys';
import { describe, expect, it } from 'vitest';
import { senderAndReceiver } from './helpers.js';

const D = '5a1e0000-0000-4000-8000-0000000e71ed';
const alice: Address = Object.freeze({ name: 'alice', deviceId: 1 });
const HOUR = 60 * 60 * 1000;
const text = (b: Uint8Array) => new TextDecoder().decode(b);

function setup() {
  const parties = senderAndReceiver(alice, D);
  const raw = () => toHex(parties.receiverStore.rawRecord(alice, D) as Uint8Array);
  return { ...parties, raw };
}

describe('a distribution message of a retired chain', () => {
  it('after the grace ended and the chain was dropped: ignored, its messages stay refused, the current chain lives on', async () => {
    const { clock, sender, receiver, raw, load } = setup();
    const skdmA = (await sender.createDistributionMessage(alice, D)).serialize();
    await receiver.processDistributionMessage(alice, skdmA);
    const a0 = await sender.encrypt(alice, D, utf8('A0'));
    const a1 = await sender.encrypt(alice, D, utf8('A1')); // delayed: never arrives in time
    expect(text((await receiver.decrypt(alice, a0)).plaintext)).toBe('A0');
    const skdmB = await sender.rotate(alice, D);
    await receiver.processDistributionMessage(alice, skdmB.serialize());
    clock.now += 2 * HOUR;
    await receiver.decrypt(alice, await sender.encrypt(alice, D, utf8('B0'))); // drops A
    expect((await load()).chainIds).toEqual([skdmB.chainId]);

    const before = raw();
    await receiver.processDistributionMessage(alice, skdmA); // replayed or delayed
    expect(raw()).toBe(before);
    for (const m of [a0, a1]) expect((await receiver.tryDecrypt(alice, m)).status).toBe('missing-sender-key');
    // B was not retired by a revived A: hours later it still decrypts.
    clock.now += 3 * HOUR;
    const b1 = await receiver.decrypt(alice, await sender.encrypt(alice, D, utf8('B1')));
    expect([text(b1.plaintext), b1.chainId]).toEqual(['B1', skdmB.chainId]);
    // The marker survives the later writes (encrypting, decrypting) and a store round trip.
    await receiver.processDistributionMessage(alice, skdmA);
    expect((await receiver.tryDecrypt(alice, a1)).status).toBe('missing-sender-key');
  });

  it('past its grace but not yet dropped (no write since): ignored too', async () => {
    const { clock, sender, receiver, raw } = setup();
    const skdmA = (await sender.createDistributionMessage(alice, D)).serialize();
    await receiver.processDistributionMessage(alice, skdmA);
    const a0 = await sender.encrypt(alice, D, utf8('A0'));
    await receiver.decrypt(alice, a0);
    await receiver.processDistributionMessage(alice, (await sender.rotate(alice, D)).serialize());
    clock.now += 2 * HOUR;
    const before = raw();
    await receiver.processDistributionMessage(alice, skdmA);
    expect(raw()).toBe(before);
    expect((await receiver.tryDecrypt(alice, a0)).status).toBe('missing-sender-key');
  });

  it('pushed out by a sixth chain within the grace: ignored, the five kept chains stay', async () => {
    const { sender, receiver, raw, load } = setup();
    const skdms: Uint8Array[] = [];
    const first: Uint8Array[] = [];
    for (let i = 0; i < 6; i++) {
      const skdm = i === 0 ? await sender.createDistributionMessage(alice, D) : await sender.rotate(alice, D);
      skdms.push(skdm.serialize());
      await receiver.processDistributionMessage(alice, skdm);
      first.push(await sender.encrypt(alice, D, utf8(`chain ${i}`)));
      await receiver.decrypt(alice, first[i] as Uint8Array);
    }
    const kept = (await load()).chainIds;
    expect(kept).toHaveLength(5);
    const before = raw();
    await receiver.processDistributionMessage(alice, skdms[0] as Uint8Array);
    expect(raw()).toBe(before);
    expect((await receiver.tryDecrypt(alice, first[0] as Uint8Array)).status).toBe('missing-sender-key');
    for (let i = 1; i < 6; i++) {
      expect((await receiver.tryDecrypt(alice, first[i] as Uint8Array)).status).toBe('duplicate');
    }
  });

  it('whose chain id a new signing key took over: the old key is not let back in', async () => {
    const { sender, receiver, raw, load } = setup();
    const skdmA = await sender.createDistributionMessage(alice, D);
    await receiver.processDistributionMessage(alice, skdmA);
    await receiver.decrypt(alice, await sender.encrypt(alice, D, utf8('A0')));
    const otherKey = PublicKey.deserialize(Uint8Array.of(5, ...new Uint8Array(32).fill(9)));
    const sameId = SenderKeyDistributionMessage.create({
      distributionId: D,
      chainId: skdmA.chainId,
      iteration: 0,
      chainKey: new Uint8Array(32).fill(7),
      signingKey: otherKey,
    });
    await receiver.processDistributionMessage(alice, sameId);
    const before = raw();
    await receiver.processDistributionMessage(alice, skdmA.serialize());
    expect(raw()).toBe(before);
    expect((await load()).states[0]?.signingPublic.equals(otherKey)).toBe(true);
  });

  it('retired because SKDMs arrived out of order: a resend from the sender’s current iteration is accepted, old messages stay refused', async () => {
    const { clock, sender, receiver } = setup();
    const skdmA = await sender.createDistributionMessage(alice, D);
    const skdmB = await sender.rotate(alice, D); // the sender now uses B
    await receiver.processDistributionMessage(alice, skdmB);
    await receiver.processDistributionMessage(alice, skdmA); // A arrives late and looks new: B's grace starts
    const b0 = await sender.encrypt(alice, D, utf8('B0'));
    expect(text((await receiver.decrypt(alice, b0)).plaintext)).toBe('B0');
    clock.now += 2 * HOUR;
    const b1 = await sender.encrypt(alice, D, utf8('B1'));
    expect((await receiver.tryDecrypt(alice, b1)).status).toBe('missing-sender-key');
    // the original SKDM of B again (iteration 0, below the 1 reached here): a replay, ignored
    await receiver.processDistributionMessage(alice, skdmB.serialize());
    expect((await receiver.tryDecrypt(alice, b0)).status).toBe('missing-sender-key');
    // the app asked for a resend: the sender's SKDM now is at iteration 2
    await receiver.processDistributionMessage(alice, await sender.createDistributionMessage(alice, D));
    const b2 = await sender.encrypt(alice, D, utf8('B2'));
    expect(text((await receiver.decrypt(alice, b2)).plaintext)).toBe('B2');
    expect((await receiver.tryDecrypt(alice, b0)).status).toBe('duplicate');
    // accepted back, B retired nothing: hours later A's state is still there beside it
    clock.now += 3 * HOUR;
    const b3 = await sender.encrypt(alice, D, utf8('B3'));
    expect(text((await receiver.decrypt(alice, b3)).plaintext)).toBe('B3');
  });

  it('a flood of new chains from one sender: at most MAX_RETIRED_CHAINS markers, the oldest dropped first', async () => {
    const { sender, receiver, load } = setup();
    const skdms: Uint8Array[] = [];
    const count = MAX_RETIRED_CHAINS + 5 + 3;
    for (let i = 0; i < count; i++) {
      const skdm = i === 0 ? await sender.createDistributionMessage(alice, D) : await sender.rotate(alice, D);
      skdms.push(skdm.serialize());
      await receiver.processDistributionMessage(alice, skdm);
    }
    const record = await load();
    expect(record.size).toBe(5);
    expect(record.retiredChains).toHaveLength(MAX_RETIRED_CHAINS);
    const chainOf = (b: Uint8Array) => SenderKeyDistributionMessage.deserialize(b).chainId;
    // oldest first: chains 3 .. count-6 are marked, chains 0..2 fell off the end
    expect(record.retiredChains.map((r) => r.chainId)).toEqual(skdms.slice(3, count - 5).map(chainOf));
    // a stored record stays small: a marker is at most 32 bytes (≤ 26 here: iteration 0 is not written)
    const empty = SenderKeyRecord.fromStates(record.states).serialize().length;
    expect(record.serialize().length - empty).toBeLessThanOrEqual(MAX_RETIRED_CHAINS * 26);
  });
});

describe('retired-chain markers in the record', () => {
  it('survive serialize/deserialize, stay out of libsignal’s bytes, and are bounded on read', async () => {
    const { sender, receiver, load } = setup();
    for (let i = 0; i < 7; i++) {
      const skdm = i === 0 ? await sender.createDistributionMessage(alice, D) : await sender.rotate(alice, D);
      await receiver.processDistributionMessage(alice, skdm);
    }
    const record = await load();
    expect(record.retiredChains).toHaveLength(2);
    const again = SenderKeyRecord.deserialize(record.serialize());
    expect(again.retiredChains).toEqual(record.retiredChains);
    const lib = record.toLibsignal();
    expect(toHex(lib)).toBe(toHex(SenderKeyRecord.fromStates(record.states).toLibsignal()));
    expect(SenderKeyRecord.fromLibsignal(lib).retiredChains).toEqual([]);
    // what the getter hands out is a copy: changing it changes nothing in the record
    const bytes = toHex(record.serialize());
    (record.retiredChains[0] as { keyPrint: Uint8Array }).keyPrint.fill(0);
    expect(toHex(record.serialize())).toBe(bytes);
  });
});
