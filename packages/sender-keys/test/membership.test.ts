// Membership (issue 4, point 3), as user stories: who needs a distribution message after a join, a
// removal or a device change; rotation with a grace for messages in flight; the "missing sender key"
// answer that names sender and distribution id, and the resend that repairs it.
import { type Address, E2eeError, StoreError, utf8 } from '@e2ee-kit/core';
import {
  DEFAULT_ROTATION_GRACE_MS,
  GroupCipher,
  MissingSenderKeyError,
  type SenderKeyDistributionMessage,
  type SenderKeyRecord,
} from '@e2ee-kit/sender-keys';
import { InMemorySenderKeyStore } from '@e2ee-kit/sender-keys/testing';
import { describe, expect, it } from 'vitest';
import { thrown } from './helpers.js';

const D = '0c6d7e8f-1111-4222-8333-444455556666';
const alice: Address = { name: 'alice', deviceId: 1 };
const bob1: Address = { name: 'bob', deviceId: 1 };
const bob2: Address = { name: 'bob', deviceId: 2 };
const carol: Address = { name: 'carol', deviceId: 1 };
const dave: Address = { name: 'dave', deviceId: 1 };
const text = (b: Uint8Array) => new TextDecoder().decode(b);

/** A small group: alice sends; every other device has its own store and cipher; one shared clock. */
function group() {
  const clock = { now: 1_750_000_000_000 };
  const now = () => clock.now;
  const aliceStore = new InMemorySenderKeyStore();
  const sender = new GroupCipher(aliceStore, { now });
  const devices = new Map<string, GroupCipher>();
  const device = (a: Address) => {
    const k = `${a.name}.${a.deviceId}`;
    let c = devices.get(k);
    if (!c) {
      c = new GroupCipher(new InMemorySenderKeyStore(), { now });
      devices.set(k, c);
    }
    return c;
  };
  /** What an app does per send: plan, hand out the SKDM pairwise, record it, encrypt once. */
  const send = async (members: Address[], message: string) => {
    const plan = await sender.prepareSend(alice, D, members);
    for (const m of plan.needsDistribution)
      await device(m).processDistributionMessage(alice, plan.distributionMessage);
    await sender.markDelivered(alice, D, plan.chainId, plan.needsDistribution);
    const wire = await sender.encrypt(alice, D, utf8(message));
    return { plan, wire };
  };
  return { clock, aliceStore, sender, device, send };
}

describe('who needs a distribution message', () => {
  it('first send: every member device; then nobody', async () => {
    const g = group();
    const first = await g.send([bob1, bob2, carol], 'hello');
    expect(first.plan.rotation).toBe('created');
    expect(first.plan.needsDistribution).toEqual([bob1, bob2, carol]);
    for (const m of [bob1, bob2, carol])
      expect(text((await g.device(m).decrypt(alice, first.wire)).plaintext)).toBe('hello');
    const second = await g.send([bob1, bob2, carol], 'again');
    expect(second.plan.rotation).toBeUndefined();
    expect(second.plan.needsDistribution).toEqual([]);
    expect(second.plan.chainId).toBe(first.plan.chainId);
    expect(await g.sender.keyHolders(alice, D)).toEqual([bob1, bob2, carol]);
  });

  it('a join: only the new member, who cannot read what came before', async () => {
    const g = group();
    const before = await g.send([bob1], 'before dave');
    const join = await g.send([bob1, dave], 'welcome dave');
    expect(join.plan.rotation).toBeUndefined();
    expect(join.plan.needsDistribution).toEqual([dave]);
    expect(text((await g.device(dave).decrypt(alice, join.wire)).plaintext)).toBe('welcome dave');
    expect(E2eeError.is(await thrown(g.device(dave).decrypt(alice, before.wire)), 'DUPLICATE_MESSAGE')).toBe(
      true,
    );
  });

  it('a new device of a member: only that device', async () => {
    const g = group();
    await g.send([bob1, carol], 'one');
    const plan = await g.sender.prepareSend(alice, D, [bob1, bob2, carol]);
    expect([plan.rotation, plan.needsDistribution]).toEqual([undefined, [bob2]]);
  });

  it('a device that asked for a resend, or was re-registered: listed again, no rotation', async () => {
    const g = group();
    await g.send([bob1, carol], 'one');
    await g.sender.markNeedsDistribution(alice, D, [carol]);
    const plan = await g.sender.prepareSend(alice, D, [bob1, carol]);
    expect([plan.rotation, plan.needsDistribution]).toEqual([undefined, [carol]]);
  });

  it('a delivery recorded against a replaced chain is ignored', async () => {
    const g = group();
    const plan = await g.sender.prepareSend(alice, D, [bob1]);
    await g.sender.rotate(alice, D);
    expect(await g.sender.markDelivered(alice, D, plan.chainId, [bob1])).toBe(false);
    expect(await g.sender.keyHolders(alice, D)).toEqual([]);
  });
});

describe('the key-holder record', () => {
  it('is bound to a chain: after a rotation the old list counts for nothing', async () => {
    const g = group();
    await g.send([bob1, carol], 'one');
    const before = g.aliceStore.rawKeyHolders(alice, D);
    await g.sender.rotate(alice, D);
    expect(g.aliceStore.rawKeyHolders(alice, D)).toEqual(before); // not rewritten by the rotation
    expect(await g.sender.keyHolders(alice, D)).toEqual([]);
    const plan = await g.sender.prepareSend(alice, D, [bob1, carol]);
    expect([plan.rotation, plan.needsDistribution]).toEqual([undefined, [bob1, carol]]);
  });

  it('a failed write records nothing; encrypting never touches it', async () => {
    const g = group();
    const plan = await g.sender.prepareSend(alice, D, [bob1]);
    g.aliceStore.failNext('storeKeyHolders');
    expect(await thrown(g.sender.markDelivered(alice, D, plan.chainId, [bob1]))).toBeInstanceOf(StoreError);
    expect(await g.sender.keyHolders(alice, D)).toEqual([]);
    await g.sender.markDelivered(alice, D, plan.chainId, [bob1]);
    g.aliceStore.failNext('loadKeyHolders');
    g.aliceStore.failNext('storeKeyHolders');
    await g.sender.encrypt(alice, D, utf8('no membership involved'));
    expect(await thrown(g.sender.keyHolders(alice, D))).toBeInstanceOf(StoreError);
  });
});

describe('a store without key-holder methods', () => {
  it('keeps the list inside the sender-key record, with the same answers', async () => {
    const inner = new InMemorySenderKeyStore();
    const store = {
      loadSenderKey: inner.loadSenderKey.bind(inner),
      storeSenderKey: inner.storeSenderKey.bind(inner),
    };
    const sender = new GroupCipher(store);
    const created = await sender.rotate(alice, D); // an own chain, nobody recorded yet
    const small = inner.rawRecord(alice, D)?.length ?? 0;
    const plan = await sender.prepareSend(alice, D, [bob1, carol]);
    expect(plan.chainId).toBe(created.chainId);
    expect((inner.rawRecord(alice, D)?.length ?? 0) > small).toBe(true); // handed out: recorded inside
    await sender.markDelivered(alice, D, plan.chainId, [bob1, carol]);
    expect(inner.rawKeyHolders(alice, D)).toBeUndefined();
    expect(await sender.keyHolders(alice, D)).toEqual([bob1, carol]);
    await sender.markNeedsDistribution(alice, D, [carol]);
    expect((await sender.prepareSend(alice, D, [bob1, carol])).needsDistribution).toEqual([carol]);
    const removal = await sender.prepareSend(alice, D, [carol]);
    expect([removal.rotation, removal.removed, removal.needsDistribution]).toEqual([
      'member-removed',
      [bob1],
      [carol],
    ]);
    const half = {
      loadSenderKey: store.loadSenderKey,
      storeSenderKey: store.storeSenderKey,
      loadKeyHolders: inner.loadKeyHolders.bind(inner),
    };
    expect(() => new GroupCipher(half as never)).toThrow(TypeError);
  });
});

describe('rotation', () => {
  it('a removed member: new chain id, chain key and signing key, same distribution id; the removed device reads nothing new', async () => {
    const g = group();
    const first = await g.send([bob1, carol], 'all three');
    const inFlight = await g.sender.encrypt(alice, D, utf8('sent before carol left'));
    const after = await g.send([bob1], 'without carol');
    expect(after.plan.rotation).toBe('member-removed');
    expect(after.plan.removed).toEqual([carol]);
    expect(after.plan.needsDistribution).toEqual([bob1]);
    expect(after.plan.chainId).not.toBe(first.plan.chainId);
    const a = first.plan.distributionMessage;
    const b = after.plan.distributionMessage;
    expect(b.distributionId).toBe(D);
    expect(b.signingKey.equals(a.signingKey)).toBe(false);
    expect(Buffer.from(b.chainKey()).equals(Buffer.from(a.chainKey()))).toBe(false);
    expect(text((await g.device(bob1).decrypt(alice, after.wire)).plaintext)).toBe('without carol');
    // in flight on the old chain: still readable within the grace
    expect(text((await g.device(bob1).decrypt(alice, inFlight)).plaintext)).toBe('sent before carol left');
    const carolErr = await thrown(g.device(carol).decrypt(alice, after.wire));
    expect(carolErr).toBeInstanceOf(MissingSenderKeyError);
    // the sender keeps only the new chain
    expect(((await g.aliceStore.loadSenderKey(alice, D)) as SenderKeyRecord).chainIds).toEqual([
      after.plan.chainId,
    ]);
  });

  it('a removed device that asks for a resend before the next send still rotates the chain (both store kinds)', async () => {
    for (const holderMethods of [true, false]) {
      const g = group();
      const sender = holderMethods
        ? g.sender
        : new GroupCipher({
            loadSenderKey: g.aliceStore.loadSenderKey.bind(g.aliceStore),
            storeSenderKey: g.aliceStore.storeSenderKey.bind(g.aliceStore),
          });
      const first = await sender.prepareSend(alice, D, [bob1, carol]);
      for (const m of [bob1, carol])
        await g.device(m).processDistributionMessage(alice, first.distributionMessage);
      await sender.markDelivered(alice, D, first.chainId, [bob1, carol]);
      // carol leaves; her device (which holds the chain key) then reports a missing sender key, and
      // the app, as the docs say, calls markNeedsDistribution for it
      await sender.markNeedsDistribution(alice, D, [carol]);
      expect(await sender.keyHolders(alice, D)).toEqual([bob1]);
      const plan = await sender.prepareSend(alice, D, [bob1]);
      expect([plan.rotation, plan.removed, plan.needsDistribution]).toEqual([
        'member-removed',
        [carol],
        [bob1],
      ]);
      const wire = await sender.encrypt(alice, D, utf8('without carol'));
      expect(await thrown(g.device(carol).decrypt(alice, wire))).toBeInstanceOf(MissingSenderKeyError);
    }
  });

  it('a device handed the distribution message but never confirmed still rotates the chain when removed', async () => {
    const g = group();
    const plan = await g.sender.prepareSend(alice, D, [bob1, carol]);
    for (const m of [bob1, carol])
      await g.device(m).processDistributionMessage(alice, plan.distributionMessage);
    // carol's send reported a failure (a timeout) although it reached her: only bob1 is confirmed
    await g.sender.markDelivered(alice, D, plan.chainId, [bob1]);
    expect(await g.sender.keyHolders(alice, D)).toEqual([bob1]);
    const retry = await g.sender.prepareSend(alice, D, [bob1, carol]);
    expect([retry.rotation, retry.needsDistribution]).toEqual([undefined, [carol]]);
    const after = await g.sender.prepareSend(alice, D, [bob1]);
    expect([after.rotation, after.removed]).toEqual(['member-removed', [carol]]);
    const wire = await g.sender.encrypt(alice, D, utf8('without carol'));
    expect(await thrown(g.device(carol).decrypt(alice, wire))).toBeInstanceOf(MissingSenderKeyError);
  });

  it('a removed device of a remaining member also rotates', async () => {
    const g = group();
    await g.send([bob1, bob2], 'x');
    const plan = await g.sender.prepareSend(alice, D, [bob1]);
    expect([plan.rotation, plan.removed]).toEqual(['member-removed', [bob2]]);
  });

  it('the grace ends: messages of the replaced chain are refused, the record forgets it on its next write', async () => {
    const g = group();
    await g.send([bob1], 'first');
    const late = await g.sender.encrypt(alice, D, utf8('late'));
    const lateToo = await g.sender.encrypt(alice, D, utf8('late too'));
    await g.sender.rotate(alice, D);
    const after = await g.send([bob1], 'new chain');
    expect(text((await g.device(bob1).decrypt(alice, after.wire)).plaintext)).toBe('new chain');
    g.clock.now += DEFAULT_ROTATION_GRACE_MS - 1;
    expect(text((await g.device(bob1).decrypt(alice, late)).plaintext)).toBe('late');
    g.clock.now += 2;
    const err = await thrown(g.device(bob1).decrypt(alice, lateToo));
    expect(err).toBeInstanceOf(MissingSenderKeyError);
    await g.device(bob1).decrypt(alice, await g.sender.encrypt(alice, D, utf8('write')));
  });

  it('after too long a chain (maxAgeMs) the next send rotates', async () => {
    const g = group();
    await g.send([bob1], 'x');
    g.clock.now += 10_000;
    const fresh = await g.sender.prepareSend(alice, D, [bob1], { maxAgeMs: 60_000 });
    expect(fresh.rotation).toBeUndefined();
    g.clock.now += 60_000;
    const old = await g.sender.prepareSend(alice, D, [bob1], { maxAgeMs: 60_000 });
    expect(old.rotation).toBe('expired');
    expect(old.needsDistribution).toEqual([bob1]);
  });

  it('distribution messages that arrive in the wrong order heal after a resend', async () => {
    const g = group();
    const bobStore = new InMemorySenderKeyStore();
    const bob = new GroupCipher(bobStore, { now: () => g.clock.now });
    const plan1 = await g.sender.prepareSend(alice, D, [bob1]);
    await g.sender.rotate(alice, D);
    const plan2 = await g.sender.prepareSend(alice, D, [bob1]);
    // the new chain's SKDM arrives first, the old one after it
    await bob.processDistributionMessage(alice, plan2.distributionMessage);
    await bob.processDistributionMessage(alice, plan1.distributionMessage);
    const w = await g.sender.encrypt(alice, D, utf8('current'));
    expect(text((await bob.decrypt(alice, w)).plaintext)).toBe('current'); // within the grace
    g.clock.now += 2 * DEFAULT_ROTATION_GRACE_MS;
    const w2 = await g.sender.encrypt(alice, D, utf8('later'));
    const outcome = await bob.tryDecrypt(alice, w2);
    expect(outcome.status).toBe('missing-sender-key');
    // the app asks alice to resend: she marks bob as needing the key and sends it (and the message) again
    await g.sender.markNeedsDistribution(alice, D, [bob1]);
    const resend = await g.sender.prepareSend(alice, D, [bob1]);
    expect(resend.needsDistribution).toEqual([bob1]);
    await bob.processDistributionMessage(alice, resend.distributionMessage);
    const w3 = await g.sender.encrypt(alice, D, utf8('later (resent)'));
    expect(text((await bob.decrypt(alice, w3)).plaintext)).toBe('later (resent)');
  });
});

describe('missing sender key: a typed answer naming sender and distribution id', () => {
  it('no record, and unknown chain', async () => {
    const g = group();
    const { wire } = await g.send([bob1], 'hi');
    const stranger = new GroupCipher(new InMemorySenderKeyStore());
    const outcome = await stranger.tryDecrypt(alice, wire);
    expect(outcome.status).toBe('missing-sender-key');
    if (outcome.status === 'missing-sender-key') {
      expect(outcome.sender).toEqual(alice);
      expect(outcome.distributionId).toBe(D);
      expect(outcome.error.code).toBe('SENDER_KEY_MISSING');
    }
    const other = new GroupCipher(new InMemorySenderKeyStore());
    const unrelated = new GroupCipher(new InMemorySenderKeyStore());
    const someone: SenderKeyDistributionMessage = await unrelated.createDistributionMessage(alice, D);
    await other.processDistributionMessage(alice, someone);
    const err = (await thrown(other.decrypt(alice, wire))) as MissingSenderKeyError;
    expect(err).toBeInstanceOf(MissingSenderKeyError);
    expect([err.sender, err.distributionId, typeof err.chainId]).toEqual([alice, D, 'number']);
  });
});
