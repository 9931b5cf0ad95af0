// GroupCipher behaviour: libsignal's record rules, limits, check order, typed errors, storage guarantees.

import { inspect } from 'node:util';
import {
  type Address,
  DecodeError,
  DuplicateMessageError,
  defaultProvider,
  E2eeError,
  fromHex,
  MessageGapError,
  PrivateKey,
  StoreError,
  toHex,
  utf8,
  VerificationError,
  xeddsaSign,
} from '@e2ee-kit/core';
import {
  GroupCipher,
  InvalidSenderKeySessionError,
  MAX_FORWARD_JUMPS,
  MAX_MESSAGE_KEYS,
  MAX_SENDER_KEY_STATES,
  MissingSenderKeyError,
  SenderKeyDistributionMessage,
  SenderKeyMessage,
  SenderKeyRecord,
} from '@e2ee-kit/sender-keys';
import { InMemorySenderKeyStore } from '@e2ee-kit/sender-keys/testing';
import { describe, expect, it } from 'vitest';
import { fixedSenderRecordAt, sessions, thrown, vectorSender } from './helpers.js';

const f = sessions.fixed;
const D = f.distributionId;
const sender = vectorSender;
const text = (b: Uint8Array) => new TextDecoder().decode(b);

/** A sender (the vectors' fixed session) at `iteration`, and a receiver that processed its SKDM then. */
async function pairAt(iteration: number, receiverIteration = 0) {
  const senderStore = new InMemorySenderKeyStore();
  senderStore.setRawRecord(
    sender,
    D,
    SenderKeyRecord.fromLibsignal(await fixedSenderRecordAt(receiverIteration)).serialize(),
  );
  const us = new GroupCipher(senderStore);
  const skdm = await us.createDistributionMessage(sender, D);
  senderStore.setRawRecord(
    sender,
    D,
    SenderKeyRecord.fromLibsignal(await fixedSenderRecordAt(iteration)).serialize(),
  );
  const receiverStore = new InMemorySenderKeyStore();
  const receiver = new GroupCipher(receiverStore);
  await receiver.processDistributionMessage(sender, skdm);
  return { us, senderStore, receiver, receiverStore };
}

describe('sender and receivers', () => {
  it('one encrypt serves every receiver', async () => {
    const us = new GroupCipher(new InMemorySenderKeyStore());
    const skdm = (await us.createDistributionMessage(sender, D)).serialize();
    const receivers = [1, 2, 3].map(() => new GroupCipher(new InMemorySenderKeyStore()));
    for (const r of receivers) await r.processDistributionMessage(sender, skdm);
    const wire = await us.encrypt(sender, D, utf8('to all'));
    for (const r of receivers) expect(text((await r.decrypt(sender, wire)).plaintext)).toBe('to all');
  });

  it('a later distribution message starts at the current iteration: earlier messages stay unreadable', async () => {
    const us = new GroupCipher(new InMemorySenderKeyStore());
    const first = await us.createDistributionMessage(sender, D);
    const early = await us.encrypt(sender, D, utf8('early'));
    await us.encrypt(sender, D, utf8('early 2'));
    const second = await us.createDistributionMessage(sender, D);
    expect([second.chainId, second.iteration]).toEqual([first.chainId, 2]);
    const late = new GroupCipher(new InMemorySenderKeyStore());
    await late.processDistributionMessage(sender, second);
    const err = await thrown(late.decrypt(sender, early));
    expect(err).toBeInstanceOf(DuplicateMessageError);
    expect(text((await late.decrypt(sender, await us.encrypt(sender, D, utf8('now')))).plaintext)).toBe(
      'now',
    );
  });

  it('parallel encrypts never reuse an iteration (the per-key mutex)', async () => {
    const store = new InMemorySenderKeyStore();
    const us = new GroupCipher(store);
    await us.createDistributionMessage(sender, D);
    const other = new GroupCipher(store);
    const wires = await Promise.all(
      Array.from({ length: 40 }, (_, i) => (i % 2 ? us : other).encrypt(sender, D, utf8(`${i}`))),
    );
    const iterations = wires.map((w) => SenderKeyMessage.deserialize(w).iteration).sort((a, b) => a - b);
    expect(iterations).toEqual(Array.from({ length: 40 }, (_, i) => i));
  });

  it('encrypt needs the sender’s own state', async () => {
    const store = new InMemorySenderKeyStore();
    const us = new GroupCipher(store);
    const missing = await thrown(us.encrypt(sender, D, utf8('x')));
    expect(missing).toBeInstanceOf(MissingSenderKeyError);
    await us.processDistributionMessage(sender, fromHex(f.senderKeyDistributionMessageHex));
    const receiverOnly = await thrown(us.encrypt(sender, D, utf8('x')));
    expect(receiverOnly).toBeInstanceOf(InvalidSenderKeySessionError);
    expect(E2eeError.is(receiverOnly, 'INVALID_SENDER_KEY_SESSION')).toBe(true);
  });

  it('the chain ends at iteration 2^32 − 1, as libsignal’s', async () => {
    const store = new InMemorySenderKeyStore();
    const chainKey = new Uint8Array(32).fill(0x77);
    const at = await fixedSenderRecordAt(0xffff_fffc, { chainKey });
    store.setRawRecord(sender, D, SenderKeyRecord.fromLibsignal(at).serialize());
    const us = new GroupCipher(store);
    const receiver = new GroupCipher(new InMemorySenderKeyStore());
    await receiver.processDistributionMessage(sender, await us.createDistributionMessage(sender, D));
    await us.encrypt(sender, D, utf8('skipped'));
    await us.encrypt(sender, D, utf8('skipped'));
    const last = await us.encrypt(sender, D, utf8('last'));
    expect(SenderKeyMessage.deserialize(last).iteration).toBe(0xffff_fffe);
    expect(text((await receiver.decrypt(sender, last)).plaintext)).toBe('last');
    expect(await thrown(us.encrypt(sender, D, utf8('one more')))).toBeInstanceOf(
      InvalidSenderKeySessionError,
    );
  });
});

describe('limits', () => {
  it(`a forward jump of ${MAX_FORWARD_JUMPS} is accepted, ${MAX_FORWARD_JUMPS + 1} refused without change`, async () => {
    const a = await pairAt(MAX_FORWARD_JUMPS + 1);
    const tooFar = await a.us.encrypt(sender, D, utf8('too far'));
    const before = a.receiverStore.snapshot();
    const err = await thrown(a.receiver.decrypt(sender, tooFar));
    expect(err).toBeInstanceOf(MessageGapError);
    expect(err.message).toBe('message from too far into the future');
    expect(a.receiverStore.snapshot()).toEqual(before);
    const b = await pairAt(MAX_FORWARD_JUMPS);
    const justFar = await b.us.encrypt(sender, D, utf8('just far enough'));
    expect(text((await b.receiver.decrypt(sender, justFar)).plaintext)).toBe('just far enough');
    const record = (await b.receiverStore.loadSenderKey(sender, D)) as SenderKeyRecord;
    expect(record.states[0]?.skipped.length).toBe(MAX_MESSAGE_KEYS);
    expect(record.states[0]?.skipped[0]?.iteration).toBe(MAX_FORWARD_JUMPS - MAX_MESSAGE_KEYS);
  });

  it(`keeps ${MAX_MESSAGE_KEYS} skipped keys, evicting the oldest first (also across jumps)`, async () => {
    // jump to 1500 keeps 0..1499; the jump to 2500 adds 1501..2499: 2,499 keys, so 0..498 go first
    const { us, senderStore, receiver, receiverStore } = await pairAt(1500);
    await receiver.decrypt(sender, await us.encrypt(sender, D, utf8('1500')));
    senderStore.setRawRecord(
      sender,
      D,
      SenderKeyRecord.fromLibsignal(await fixedSenderRecordAt(2500)).serialize(),
    );
    await receiver.decrypt(sender, await us.encrypt(sender, D, utf8('2500')));
    const kept = ((await receiverStore.loadSenderKey(sender, D)) as SenderKeyRecord).states[0]?.skipped ?? [];
    expect(kept.length).toBe(MAX_MESSAGE_KEYS);
    expect([
      kept[0]?.iteration,
      kept[1000]?.iteration,
      kept[1001]?.iteration,
      kept.at(-1)?.iteration,
    ]).toEqual([499, 1499, 1501, 2499]);
    const resend = async (i: number) => {
      senderStore.setRawRecord(
        sender,
        D,
        SenderKeyRecord.fromLibsignal(await fixedSenderRecordAt(i)).serialize(),
      );
      return us.encrypt(sender, D, utf8(`m${i}`));
    };
    expect((await thrown(receiver.decrypt(sender, await resend(498)))).message).toBe(
      'message with old counter 2501 / 498',
    );
    expect(text((await receiver.decrypt(sender, await resend(499))).plaintext)).toBe('m499');
    expect(text((await receiver.decrypt(sender, await resend(1501))).plaintext)).toBe('m1501');
    expect((await thrown(receiver.decrypt(sender, await resend(1500)))).message).toBe(
      'message with old counter 2501 / 1500',
    );
  });

  it(`keeps at most ${MAX_SENDER_KEY_STATES} states, dropping the oldest; same chain id + key keeps the state`, async () => {
    const store = new InMemorySenderKeyStore();
    const receiver = new GroupCipher(store, { rotationGraceMs: Number.POSITIVE_INFINITY });
    const senders = await Promise.all(
      [1, 2, 3, 4, 5, 6].map(async () => {
        const s = new GroupCipher(new InMemorySenderKeyStore());
        return { s, skdm: await s.createDistributionMessage(sender, D) };
      }),
    );
    for (const { skdm } of senders) await receiver.processDistributionMessage(sender, skdm);
    const record = (await store.loadSenderKey(sender, D)) as SenderKeyRecord;
    expect(record.chainIds).toEqual(
      senders
        .slice(1)
        .map((x) => x.skdm.chainId)
        .reverse(),
    );
    // the first chain was dropped
    const oldest = senders[0] as (typeof senders)[number];
    const gone = await thrown(receiver.decrypt(sender, await oldest.s.encrypt(sender, D, utf8('x'))));
    expect(gone).toBeInstanceOf(MissingSenderKeyError);
    // re-processing chain 2's SKDM (advanced by the sender meanwhile) moves it to the front, unchanged
    const second = senders[1] as (typeof senders)[number];
    const w0 = await second.s.encrypt(sender, D, utf8('zero'));
    await receiver.decrypt(sender, w0);
    const again = await second.s.createDistributionMessage(sender, D);
    expect(again.iteration).toBe(1);
    await receiver.processDistributionMessage(sender, again);
    const after = (await store.loadSenderKey(sender, D)) as SenderKeyRecord;
    expect(after.chainIds[0]).toBe(second.skdm.chainId);
    expect(after.states[0]?.iteration).toBe(1);
    expect((await thrown(receiver.decrypt(sender, w0))).message).toBe('message with old counter 1 / 0');
  });

  it('a chain id that comes back with a different signing key replaces the old state', async () => {
    const store = new InMemorySenderKeyStore();
    const receiver = new GroupCipher(store);
    await receiver.processDistributionMessage(sender, fromHex(f.senderKeyDistributionMessageHex));
    const other = SenderKeyDistributionMessage.deserialize(
      fromHex(sessions.random.senderKeyDistributionMessageHex),
    );
    const sameChainNewKey = SenderKeyDistributionMessage.create({
      distributionId: D,
      chainId: f.chainId,
      iteration: 7,
      chainKey: new Uint8Array(32).fill(9),
      signingKey: other.signingKey,
    });
    await receiver.processDistributionMessage(sender, sameChainNewKey);
    const record = (await store.loadSenderKey(sender, D)) as SenderKeyRecord;
    expect(record.chainIds).toEqual([f.chainId]);
    expect(record.states[0]?.iteration).toBe(7);
    const err = await thrown(receiver.decrypt(sender, fromHex(f.messages[0]!.senderKeyMessageHex)));
    expect(E2eeError.is(err, 'INVALID_SIGNATURE')).toBe(true);
  });
});

describe('check order and failures', () => {
  it('a decode error comes before any store access', async () => {
    const store = new InMemorySenderKeyStore();
    store.failNext('load');
    const err = await thrown(new GroupCipher(store).decrypt(sender, new Uint8Array(10)));
    expect(err).toBeInstanceOf(DecodeError);
  });

  it('the signature is checked before the iteration (a bad signature on a duplicate is a bad signature)', async () => {
    const store = new InMemorySenderKeyStore();
    const receiver = new GroupCipher(store);
    await receiver.processDistributionMessage(sender, fromHex(f.senderKeyDistributionMessageHex));
    const wire = fromHex(f.messages[0]!.senderKeyMessageHex);
    await receiver.decrypt(sender, wire);
    wire[wire.length - 2] = (wire[wire.length - 2] as number) ^ 4;
    expect(E2eeError.is(await thrown(receiver.decrypt(sender, wire)), 'INVALID_SIGNATURE')).toBe(true);
  });

  it('a badly padded ciphertext under a valid signature is a decryption failure, nothing stored', async () => {
    // The vectors' sender signs a message whose ciphertext is not valid AES-CBC output.
    const { us, senderStore, receiver, receiverStore } = await pairAt(0);
    const record = (await senderStore.loadSenderKey(sender, D)) as SenderKeyRecord;
    expect(record.size).toBe(1);
    const unsigned = SenderKeyMessage.encodeUnsigned({
      distributionId: D,
      chainId: f.chainId,
      iteration: 0,
      ciphertext: new Uint8Array(16).fill(0x5a),
    });
    const priv = PrivateKey.deserialize(fromHex(f.signingPrivateKeyHex_senderOnly_notNeededToDecrypt));
    const sig = xeddsaSign(priv, unsigned, defaultProvider);
    const before = receiverStore.snapshot();
    const err = await thrown(receiver.decrypt(sender, new Uint8Array([...unsigned, ...sig])));
    expect(err).toBeInstanceOf(VerificationError);
    expect(E2eeError.is(err, 'BAD_PADDING')).toBe(true);
    expect(receiverStore.snapshot()).toEqual(before);
    const empty = SenderKeyMessage.encodeUnsigned({
      distributionId: D,
      chainId: f.chainId,
      iteration: 0,
      ciphertext: new Uint8Array(0),
    });
    const err2 = await thrown(
      receiver.decrypt(sender, new Uint8Array([...empty, ...xeddsaSign(priv, empty, defaultProvider)])),
    );
    expect(E2eeError.is(err2, 'BAD_PADDING')).toBe(true);
    expect(text((await receiver.decrypt(sender, await us.encrypt(sender, D, utf8('fine')))).plaintext)).toBe(
      'fine',
    );
  });

  it('a failed store write returns no plaintext and leaves the record byte-identical; a retry works', async () => {
    const store = new InMemorySenderKeyStore();
    const receiver = new GroupCipher(store);
    await receiver.processDistributionMessage(sender, fromHex(f.senderKeyDistributionMessageHex));
    const before = store.snapshot();
    store.failNext('store', new Error('disk full'));
    const wire = fromHex(f.messages[2]!.senderKeyMessageHex);
    const err = await thrown(receiver.decrypt(sender, wire));
    expect(err).toBeInstanceOf(StoreError);
    expect((err.cause as Error).message).toBe('disk full');
    expect(store.snapshot()).toEqual(before);
    expect(text((await receiver.decrypt(sender, wire)).plaintext)).toBe('ninja camp');
  });

  it('a failed load is a StoreError; a failed write on encrypt does not advance the chain', async () => {
    const store = new InMemorySenderKeyStore();
    const us = new GroupCipher(store);
    await us.createDistributionMessage(sender, D);
    store.failNext('load');
    expect(await thrown(us.encrypt(sender, D, utf8('x')))).toBeInstanceOf(StoreError);
    const before = store.snapshot();
    store.failNext('store');
    expect(await thrown(us.encrypt(sender, D, utf8('x')))).toBeInstanceOf(StoreError);
    expect(store.snapshot()).toEqual(before);
    expect(SenderKeyMessage.deserialize(await us.encrypt(sender, D, utf8('x'))).iteration).toBe(0);
  });

  it('a store that returns something else is refused', async () => {
    const bogus = {
      loadSenderKey: async () => ({ serialize: () => new Uint8Array(0) }) as unknown as SenderKeyRecord,
      storeSenderKey: async () => {},
      loadKeyHolders: async () => undefined,
      storeKeyHolders: async () => {},
    };
    expect(await thrown(new GroupCipher(bogus).encrypt(sender, D, utf8('x')))).toBeInstanceOf(StoreError);
  });

  it('tryDecrypt reports every message-level failure as data', async () => {
    const store = new InMemorySenderKeyStore();
    const receiver = new GroupCipher(store);
    const wire = fromHex(f.messages[0]!.senderKeyMessageHex);
    const missing = await receiver.tryDecrypt(sender, wire);
    expect(missing.status).toBe('missing-sender-key');
    await receiver.processDistributionMessage(sender, fromHex(f.senderKeyDistributionMessageHex));
    const ok = await receiver.tryDecrypt(sender, wire);
    expect(ok.status === 'decrypted' && text(ok.plaintext)).toBe('swim camp');
    expect((await receiver.tryDecrypt(sender, wire)).status).toBe('duplicate');
    const bad = await receiver.tryDecrypt(sender, wire.subarray(0, 20));
    expect(bad.status === 'rejected' && bad.error instanceof DecodeError).toBe(true);
    store.failNext('load');
    expect(
      await thrown(receiver.tryDecrypt(sender, fromHex(f.messages[1]!.senderKeyMessageHex))),
    ).toBeInstanceOf(StoreError);
  });

  it('tryDecrypt hands the message to deliver; an error deliver throws is rethrown, not a status, and stores nothing', async () => {
    const store = new InMemorySenderKeyStore();
    const receiver = new GroupCipher(store);
    await receiver.processDistributionMessage(sender, fromHex(f.senderKeyDistributionMessageHex));
    const wire = fromHex(f.messages[0]!.senderKeyMessageHex);
    const before = (await store.loadSenderKey(sender, D))?.serialize();
    // The app's own failure, even an E2eeError (here a DecodeError of its content), is not 'rejected'.
    const appError = new DecodeError('the app could not parse its content');
    const failed = await thrown(
      receiver.tryDecrypt(sender, wire, {
        deliver: () => {
          throw appError;
        },
      }),
    );
    expect(failed).toBe(appError);
    expect((await store.loadSenderKey(sender, D))?.serialize()).toEqual(before);
    // The same message then decrypts and is delivered once.
    const seen: string[] = [];
    const ok = await receiver.tryDecrypt(sender, wire, {
      deliver: (m) => {
        seen.push(text(m.plaintext));
      },
    });
    expect([ok.status, seen]).toEqual(['decrypted', ['swim camp']]);
  });
});

describe('no secrets in strings', () => {
  it('messages, records and errors print no key bytes', async () => {
    const skdm = SenderKeyDistributionMessage.deserialize(fromHex(f.senderKeyDistributionMessageHex));
    const store = new InMemorySenderKeyStore();
    const receiver = new GroupCipher(store);
    await receiver.processDistributionMessage(sender, skdm);
    const record = (await store.loadSenderKey(sender, D)) as SenderKeyRecord;
    const err = await thrown(
      receiver.decrypt(sender, fromHex(sessions.random.messages[0]!.senderKeyMessageHex)),
    );
    const printed = [
      String(skdm),
      JSON.stringify(skdm),
      inspect(skdm),
      String(record),
      JSON.stringify({ record }),
      inspect(record),
      String(err),
      inspect(err),
      String(SenderKeyMessage.deserialize(fromHex(f.messages[0]!.senderKeyMessageHex))),
    ].join('\n');
    for (const secret of [
      f.chainKeyHex,
      f.chainKeyHex.slice(0, 16),
      f.derivations[1]!.chainKeyHex.slice(0, 16),
    ]) {
      expect(printed.includes(secret)).toBe(false);
    }
    expect(toHex(skdm.chainKey())).toBe(f.chainKeyHex);
  });
});

describe('argument checks', () => {
  const us = new GroupCipher(new InMemorySenderKeyStore());
  const bad: Array<[string, () => Promise<unknown>]> = [
    ['address without name', () => us.encrypt({ deviceId: 1 } as unknown as Address, D, utf8('x'))],
    ['device id 0', () => us.encrypt({ name: 'a', deviceId: 0 }, D, utf8('x'))],
    ['distribution id not a UUID', () => us.encrypt(sender, 'group-1', utf8('x'))],
    ['plaintext a string', () => us.encrypt(sender, D, 'x' as unknown as Uint8Array)],
    ['message a string', () => us.decrypt(sender, 'x' as unknown as Uint8Array)],
    ['members not an array', () => us.prepareSend(sender, D, 'bob' as unknown as Address[])],
  ];
  for (const [name, call] of bad) {
    it(name, async () => {
      const err = await thrown(call());
      expect(err instanceof TypeError || err instanceof RangeError).toBe(true);
    });
  }
  it('options', () => {
    const store = new InMemorySenderKeyStore();
    expect(() => new GroupCipher(store, { rotationGraceMs: -1 })).toThrow(RangeError);
    expect(() => new GroupCipher({} as never)).toThrow(TypeError);
    expect(() => new GroupCipher(store, { provider: {} as never })).toThrow(TypeError);
  });
});
