// Hostile group messages and distribution messages, table-driven, live against
// @signalapp/libsignal-client 0.103.0: one of our receivers and one libsignal receiver get the same
// bytes in the same order. For every row both must give the same answer (accept or the same kind of
// refusal), and a refusal must leave each side's stored record byte-identical. Rows: the next
// message, a duplicate, forged signatures (next, 25,000 ahead, at 2^32 − 2), valid signatures over
// bad ciphertexts (next, 25,000 ahead), the forward limit exactly and one past it, an evicted key, a
// changed version nibble, a replayed SKDM (lower iteration than stored), an SKDM with the same chain
// id and another signing key, and a chain pushed out by five newer ones. The one documented
// difference (README, Security notes: a retired chain stays retired) is its own row.
import { randomUUID } from 'node:crypto';
import { type Address, PrivateKey, toHex, utf8, xeddsaSign } from '@e2ee-kit/core';
import { nodeProvider } from '@e2ee-kit/core/node';
import {
  E2eeError,
  GroupCipher,
  MAX_FORWARD_JUMPS,
  SenderKeyDistributionMessage,
  SenderKeyMessage,
  SenderKeyRecord,
} from '@e2ee-kit/sender-keys';
import { InMemorySenderKeyStore } from '@e2ee-kit/sender-keys/testing';
import { describe, expect, it } from 'vitest';
import { badPaddingCiphertext, openWithDerivedKey } from '../../tools/sender-key-ciphertext.js';
import { LibSenderKeyBytesStore } from '../src/lib-sender-key-store.js';
import { lib103 } from '../src/libsignal.js';

const alice: Address = Object.freeze({ name: 'a11ce000-0000-4000-8000-00000000d0c5', deviceId: 3 });
const libAlice = lib103.ProtocolAddress.new(alice.name, alice.deviceId);

/** Each side's answer in one word: the plaintext, or the kind of refusal. */
function ourWord(err: unknown): string {
  if (E2eeError.is(err, 'DUPLICATE_MESSAGE')) return 'duplicate';
  if (E2eeError.is(err, 'SENDER_KEY_MISSING')) return 'missing';
  if (E2eeError.is(err, 'INVALID_SIGNATURE')) return 'bad signature';
  if (E2eeError.is(err, 'BAD_PADDING')) return 'undecryptable';
  if (E2eeError.is(err, 'MESSAGE_GAP')) return 'too far ahead';
  return `other: ${String(err)}`;
}
function libWord(err: unknown): string {
  const e = err as { code?: unknown; message?: string };
  const m = e.message ?? '';
  if (e.code === lib103.ErrorCode.DuplicatedMessage) return 'duplicate';
  if (m.includes('missing sender key state')) return 'missing';
  if (m.includes('signature')) return 'bad signature';
  // A ciphertext that does not decrypt: a bad length is an invalid message ("decryption failed"),
  // bad padding an invalid sender key session.
  if (m.includes('decryption failed') || e.code === lib103.ErrorCode.InvalidSenderKeySession)
    return 'undecryptable';
  if (m.includes('too far into the future')) return 'too far ahead';
  return `other: ${m}`;
}

/** Our sender (its chain can be moved to any iteration) and the two receivers. */
async function setUp() {
  const D = randomUUID();
  const senderStore = new InMemorySenderKeyStore();
  const sender = new GroupCipher(senderStore, { provider: nodeProvider });
  const skdm0 = await sender.createDistributionMessage(alice, D);
  const start = ((await senderStore.loadSenderKey(alice, D)) as SenderKeyRecord).states[0]!;
  const signing = PrivateKey.deserialize(start.signingPrivate as Uint8Array);

  /** The genuine message at `iteration` (the sender's chain moved there first). */
  const genuine = async (iteration: number, text: string): Promise<Uint8Array> => {
    let ck = start.chainKey;
    for (let i = 0; i < iteration; i++) ck = await nodeProvider.hmacSha256(ck, Uint8Array.of(2));
    await senderStore.storeSenderKey(
      alice,
      D,
      SenderKeyRecord.fromStates([{ ...start, iteration, chainKey: ck }]),
    );
    return sender.encrypt(alice, D, utf8(text));
  };
  /** A message at `iteration` with `ciphertext`, validly signed with the chain's signing key. */
  const signed = (iteration: number, ciphertext: Uint8Array): Uint8Array => {
    const unsigned = SenderKeyMessage.encodeUnsigned({
      distributionId: D,
      chainId: start.chainId,
      iteration,
      ciphertext,
    });
    return new Uint8Array([...unsigned, ...xeddsaSign(signing, unsigned, nodeProvider)]);
  };
  const flip = (wire: Uint8Array, at: number, bit: number): Uint8Array => {
    const out = wire.slice();
    const i = at < 0 ? out.length + at : at;
    out[i] = (out[i] as number) ^ bit;
    return out;
  };

  const ourStore = new InMemorySenderKeyStore();
  const ours = new GroupCipher(ourStore, { provider: nodeProvider });
  const libStore = new LibSenderKeyBytesStore();
  const libKey = LibSenderKeyBytesStore.key(libAlice, D);
  const snapshot = () => [
    toHex(ourStore.rawRecord(alice, D) ?? new Uint8Array(0)),
    toHex(libStore.map.get(libKey) ?? new Uint8Array(0)),
  ];
  const r = {
    async process(skdm: Uint8Array) {
      await ours.processDistributionMessage(alice, skdm);
      await lib103.processSenderKeyDistributionMessage(
        libAlice,
        lib103.SenderKeyDistributionMessage.deserialize(new Uint8Array(skdm)),
        libStore,
      );
    },
    /** [ours, libsignal's], and whether each side's stored record changed. */
    async decrypt(wire: Uint8Array) {
      const before = snapshot();
      const a = await ours.decrypt(alice, wire).then((m) => new TextDecoder().decode(m.plaintext), ourWord);
      const b = await lib103
        .groupDecrypt(libAlice, libStore, new Uint8Array(wire))
        .then((p) => new TextDecoder().decode(p), libWord);
      const after = snapshot();
      return { answers: [a, b], changed: [before[0] !== after[0], before[1] !== after[1]] };
    },
  };
  await r.process(skdm0.serialize());
  return { D, skdm0, start, genuine, signed, flip, r, snapshot };
}

describe('hostile messages: every decision is libsignal’s, every refusal stores nothing (live)', () => {
  it('the table', async () => {
    const { D, skdm0, start, genuine, signed, flip, r, snapshot } = await setUp();
    const far = MAX_FORWARD_JUMPS;
    // Bodies that are bad padding under that iteration's key for certain (fixed bytes under a random
    // key decrypt to valid padding once in ~256 runs); the derivation is checked on m0 below.
    const badNext = await badPaddingCiphertext(start.chainKey, start.iteration, 1);
    const badFar = await badPaddingCiphertext(start.chainKey, start.iteration, 1 + far, 2);
    const m0 = await genuine(0, 'm0');
    const m1 = await genuine(1, 'm1');
    const m0Body = SenderKeyMessage.deserialize(m0).ciphertext();
    expect(
      new TextDecoder().decode(await openWithDerivedKey(start.chainKey, start.iteration, 0, m0Body)),
    ).toBe('m0');
    // Current iteration after m0: 1. Exactly MAX_FORWARD_JUMPS ahead of it is 1 + far.
    const atLimit = await genuine(1 + far, 'at the limit');
    const pastLimit = await genuine(2 + far, 'one past the limit'); // ahead of 1 by far + 1
    const kept = await genuine(far - 100, 'kept'); // within the 2,000 newest skipped keys then
    const afterLimit = await genuine(2 + far, 'next after the limit');

    type Row = [name: string, wire: Uint8Array, answer: string];
    const rows: Row[] = [
      ['the next message', m0, 'm0'],
      ['a duplicate', m0, 'duplicate'],
      ['forged: the next message with one signature bit flipped', flip(m1, -1, 0x01), 'bad signature'],
      ['forged: 25,000 ahead, bad signature', flip(atLimit, -2, 0x10), 'bad signature'],
      [
        'forged: at 2^32 − 2, bad signature',
        flip(signed(0xffff_fffe, new Uint8Array(16)), -3, 0x80),
        'bad signature',
      ],
      ['forged: a duplicate with a bad signature', flip(m0, -5, 0x04), 'bad signature'],
      ['forged: the version nibble’s low bits changed', flip(m1, 0, 0x01), 'bad signature'],
      ['valid signature, 15-byte ciphertext, next', signed(1, new Uint8Array(15)), 'undecryptable'],
      ['valid signature, bad padding, next', signed(1, badNext), 'undecryptable'],
      ['valid signature, bad padding, 25,000 ahead', signed(1 + far, badFar), 'undecryptable'],
      ['valid signature, 25,001 ahead', pastLimit, 'too far ahead'],
      ['valid signature, 2^32 − 2 ahead', signed(0xffff_fffe, new Uint8Array(16)), 'too far ahead'],
      ['exactly 25,000 ahead', atLimit, 'at the limit'],
      ['the evicted key of the jump (m1)', m1, 'duplicate'],
      ['a kept skipped key', kept, 'kept'],
      ['the kept key again', kept, 'duplicate'],
      ['the next message after the jump', afterLimit, 'next after the limit'],
    ];
    for (const [name, wire, answer] of rows) {
      const { answers, changed } = await r.decrypt(wire);
      expect(answers, name).toEqual([answer, answer]);
      const accepted = !['duplicate', 'missing', 'bad signature', 'undecryptable', 'too far ahead'].includes(
        answer,
      );
      expect(changed, `${name}: stored records changed`).toEqual([accepted, accepted]);
    }

    // A replayed SKDM, below the stored iteration: neither side rewinds.
    const before = snapshot();
    await r.process(skdm0.serialize());
    expect(snapshot()[0], 'our record after a replayed SKDM').toBe(before[0]);
    expect((await r.decrypt(m0)).answers).toEqual(['duplicate', 'duplicate']);
    expect((await r.decrypt(atLimit)).answers).toEqual(['duplicate', 'duplicate']);

    // The same chain id with another signing key: both replace the state; the genuine chain's
    // messages then fail the signature on both sides.
    const other = await new GroupCipher(new InMemorySenderKeyStore(), {
      provider: nodeProvider,
    }).createDistributionMessage(alice, D);
    const impostor = SenderKeyDistributionMessage.create({
      distributionId: D,
      chainId: skdm0.chainId,
      iteration: 0,
      chainKey: other.chainKey(),
      signingKey: other.signingKey,
    });
    await r.process(impostor.serialize());
    const genuineNext = await genuine(3 + far, 'genuine, after the impostor');
    expect((await r.decrypt(genuineNext)).answers).toEqual(['bad signature', 'bad signature']);

    // The genuine SKDM at iteration 0 again. libsignal stores it from 0, so messages it already
    // decrypted decrypt a second time; this package remembers the chain it retired (at the iteration
    // it had reached) and ignores the replay: the documented difference.
    await r.process(skdm0.serialize());
    expect((await r.decrypt(m0)).answers).toEqual(['bad signature', 'm0']);

    // Five newer chains push the chain of this id out on both sides: its messages are then missing.
    for (let i = 0; i < 5; i++) {
      const other = new GroupCipher(new InMemorySenderKeyStore(), { provider: nodeProvider });
      await r.process((await other.createDistributionMessage(alice, D)).serialize());
    }
    const { answers, changed } = await r.decrypt(await genuine(4 + far, 'pushed out'));
    expect(answers).toEqual(['missing', 'missing']);
    expect(changed).toEqual([false, false]);
  }, 120_000);
});
