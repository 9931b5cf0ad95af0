// Receiving sender keys, live against @signalapp/libsignal-client 0.103.0: one of our receivers and
// one libsignal receiver get the same distribution messages and group messages in the same order,
// and every accept/reject decision must be libsignal's. Our receiver's clock runs far past the
// rotation grace where libsignal (which has no clock) would still decrypt.
import { randomUUID } from 'node:crypto';
import { type Address, E2eeError, PrivateKey, utf8, xeddsaSign } from '@e2ee-kit/core';
import { nodeProvider } from '@e2ee-kit/core/node';
import {
  GroupCipher,
  SenderKeyDistributionMessage,
  SenderKeyMessage,
  SenderKeyRecord,
} from '@e2ee-kit/sender-keys';
import { InMemorySenderKeyStore } from '@e2ee-kit/sender-keys/testing';
import { describe, expect, it } from 'vitest';
import { LibSenderKeyBytesStore } from '../src/lib-sender-key-store.js';
import { lib103 } from '../src/libsignal.js';

const alice: Address = Object.freeze({ name: 'a11ce000-0000-4000-8000-0000000a11ce', deviceId: 2 });
const libAlice = lib103.ProtocolAddress.new(alice.name, alice.deviceId);
const HOUR = 60 * 60 * 1000;

/** Our receiver and libsignal's, fed the same bytes; each answer reduced to one word. */
function receivers(clock: { now: number }) {
  const ours = new GroupCipher(new InMemorySenderKeyStore(), {
    provider: nodeProvider,
    now: () => clock.now,
  });
  const libStore = new LibSenderKeyBytesStore();
  const word = (err: unknown): string => {
    if (E2eeError.is(err, 'DUPLICATE_MESSAGE')) return 'duplicate';
    if (E2eeError.is(err, 'SENDER_KEY_MISSING')) return 'missing';
    if (E2eeError.is(err, 'INVALID_SIGNATURE')) return 'bad signature';
    if (E2eeError.is(err)) return `rejected (${err.message})`;
    const e = err as { code: unknown; message: string };
    if (e.code === lib103.ErrorCode.DuplicatedMessage) return 'duplicate';
    if (e.message.includes('missing sender key state')) return 'missing';
    if (e.message.includes('signature')) return 'bad signature';
    return `rejected (lib: ${e.message})`;
  };
  return {
    async process(skdm: Uint8Array) {
      await ours.processDistributionMessage(alice, skdm);
      await lib103.processSenderKeyDistributionMessage(
        libAlice,
        lib103.SenderKeyDistributionMessage.deserialize(new Uint8Array(skdm)),
        libStore,
      );
    },
    /** [ours, libsignal's] for one group message. */
    async decrypt(wire: Uint8Array): Promise<[string, string]> {
      const a = await ours.decrypt(alice, wire).then((m) => new TextDecoder().decode(m.plaintext), word);
      const b = await lib103
        .groupDecrypt(libAlice, libStore, new Uint8Array(wire))
        .then((p) => new TextDecoder().decode(p), word);
      return [a, b];
    },
  };
}

describe('receiving: our decisions are libsignal’s (live)', () => {
  it('a stale SKDM of the replaced chain, processed after the new one: both chains keep decrypting', async () => {
    const clock = { now: 1_800_000_000_000 };
    const D = randomUUID();
    const sender = new GroupCipher(new InMemorySenderKeyStore(), { provider: nodeProvider });
    const r = receivers(clock);
    const skdmA = (await sender.createDistributionMessage(alice, D)).serialize();
    await r.process(skdmA);
    const onA = await sender.encrypt(alice, D, utf8('on A'));
    await r.process((await sender.rotate(alice, D)).serialize());
    clock.now += 60_000;
    await r.process(skdmA); // resent with an old message's content
    clock.now += 3 * HOUR;
    const onB = await sender.encrypt(alice, D, utf8('on B'));
    expect(await r.decrypt(onB)).toEqual(['on B', 'on B']);
    expect(await r.decrypt(onA)).toEqual(['on A', 'on A']);
    expect(await r.decrypt(onB)).toEqual(['duplicate', 'duplicate']);
  });
});

type SenderKeyStateData = SenderKeyRecord['states'][number];

/** Our sender whose own chain is moved to `iteration` (any chain key: receivers learn it from the SKDM). */
async function senderAt(D: string, iteration: number) {
  const store = new InMemorySenderKeyStore();
  const sender = new GroupCipher(store, { provider: nodeProvider });
  await sender.createDistributionMessage(alice, D);
  const state = ((await store.loadSenderKey(alice, D)) as SenderKeyRecord).states[0]!;
  await store.storeSenderKey(alice, D, SenderKeyRecord.fromStates([{ ...state, iteration }]));
  return { sender, state: { ...state, iteration } };
}

/** A validly signed message at `iteration`, which no sender would produce (past the chain's end). */
async function signedAt(state: SenderKeyStateData, D: string, iteration: number): Promise<Uint8Array> {
  const unsigned = SenderKeyMessage.encodeUnsigned({
    distributionId: D,
    chainId: state.chainId,
    iteration,
    ciphertext: new Uint8Array(16),
  });
  const signature = await xeddsaSign(
    PrivateKey.deserialize(state.signingPrivate as Uint8Array),
    unsigned,
    nodeProvider,
  );
  return new Uint8Array([...unsigned, ...signature]);
}

describe('receiving near the end of a chain (iteration 2^32 − 1), live', () => {
  it('an SKDM at 2^32 − 4: the last three iterations decrypt out of order, 2^32 − 1 is refused by both', async () => {
    const D = randomUUID();
    const { sender, state } = await senderAt(D, 0xffff_fffc);
    const r = receivers({ now: Date.now() });
    const skdm = await sender.createDistributionMessage(alice, D);
    expect(skdm.iteration).toBe(0xffff_fffc);
    await r.process(skdm.serialize());
    const m = [];
    for (let i = 0; i < 3; i++) m.push(await sender.encrypt(alice, D, utf8(`m${i}`)));
    expect(SenderKeyMessage.deserialize(m[2] as Uint8Array).iteration).toBe(0xffff_fffe);
    expect(await r.decrypt(m[2] as Uint8Array)).toEqual(['m2', 'm2']);
    const last = await signedAt(state, D, 0xffff_ffff);
    const [ours, lib] = await r.decrypt(last);
    expect(ours).toMatch(/^rejected .*sender chain is too long/);
    expect(lib).toMatch(/^rejected \(lib: .*too long/i);
    expect(await r.decrypt(m[0] as Uint8Array)).toEqual(['m0', 'm0']);
    expect(await r.decrypt(m[1] as Uint8Array)).toEqual(['m1', 'm1']);
    expect(await r.decrypt(m[2] as Uint8Array)).toEqual(['duplicate', 'duplicate']);
  });

  it('an SKDM at 2^32 − 1 is stored by both; its one message is refused by both', async () => {
    const D = randomUUID();
    const { sender, state } = await senderAt(D, 0xffff_ffff);
    const r = receivers({ now: Date.now() });
    await r.process((await sender.createDistributionMessage(alice, D)).serialize());
    const [ours, lib] = await r.decrypt(await signedAt(state, D, 0xffff_ffff));
    expect(ours).toMatch(/^rejected /);
    expect(lib).toMatch(/^rejected /);
    expect(await r.decrypt(await signedAt(state, D, 0xffff_fffe))).toEqual(['duplicate', 'duplicate']);
  });
});

/** A genuine chain both receivers hold, its first message, and an SKDM for the same chain id. */
async function knownChain() {
  const D = randomUUID();
  const sender = new GroupCipher(new InMemorySenderKeyStore(), { provider: nodeProvider });
  const genuine = await sender.createDistributionMessage(alice, D);
  const r = receivers({ now: Date.now() });
  await r.process(genuine.serialize());
  const sameChainId = (chainKey: Uint8Array, signingKey: typeof genuine.signingKey) =>
    SenderKeyDistributionMessage.create({
      distributionId: D,
      chainId: genuine.chainId,
      iteration: 0,
      chainKey,
      signingKey,
    });
  return { D, sender, genuine, r, m0: await sender.encrypt(alice, D, utf8('genuine 0')), sameChainId };
}

describe('an SKDM for a chain id the receiver already has (libsignal’s add_sender_key_state), live', () => {
  it('same chain id and signing key, another chain key: the stored chain is kept, so forged keys fail', async () => {
    const { D, sender, genuine, r, m0, sameChainId } = await knownChain();
    expect(await r.decrypt(m0)).toEqual(['genuine 0', 'genuine 0']);
    // The same chain at iteration 0 again, with another chain key (rewind + reset attempt).
    await r.process(sameChainId(new Uint8Array(32).fill(0x5a), genuine.signingKey).serialize());
    expect(await r.decrypt(m0)).toEqual(['duplicate', 'duplicate']);
    const m1 = await sender.encrypt(alice, D, utf8('genuine 1'));
    expect(await r.decrypt(m1)).toEqual(['genuine 1', 'genuine 1']);
  });

  it('same chain id, another signing key: the state is replaced, the old chain’s messages fail the signature', async () => {
    const { D, genuine, r, m0, sameChainId } = await knownChain();
    const other = await new GroupCipher(new InMemorySenderKeyStore()).createDistributionMessage(alice, D);
    await r.process(sameChainId(other.chainKey(), other.signingKey).serialize());
    expect(await r.decrypt(m0)).toEqual(['bad signature', 'bad signature']);
    // The genuine SKDM again: replaces it back, at its own iteration 0 (libsignal's rule).
    await r.process(genuine.serialize());
    expect(await r.decrypt(m0)).toEqual(['genuine 0', 'genuine 0']);
  });
});
