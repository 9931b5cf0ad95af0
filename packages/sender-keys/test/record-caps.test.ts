// Issue 11.6 (sender keys): a SenderKeyRecord stays bounded whatever a peer sends. A malicious
// group member (it holds its own chain and signing keys, so every message is validly signed) opens
// chain after chain and jumps each one as far as the protocol allows, twice; the receiver keeps at
// most 5 states × 2,000 skipped keys, its record stays under the byte cap, and the newest
// legitimate messages still decrypt, with libsignal's accept/reject rule for each probe
// (consts.rs: 5 states, 2,000 keys FIFO, jump ≤ 25,000; see spec "Record" checklist).
import {
  type Address,
  DecodeError,
  DuplicateMessageError,
  MessageGapError,
  ProtoReader,
  ProtoWriter,
  utf8,
} from '@e2ee-kit/core';
import { nodeProvider } from '@e2ee-kit/core/node';
import {
  GroupCipher,
  MAX_FORWARD_JUMPS,
  MAX_MESSAGE_KEYS,
  MAX_RECORD_HOLDERS_BYTES,
  MAX_RECORD_MESSAGE_KEYS,
  MAX_SENDER_KEY_RECORD_BYTES,
  MAX_SENDER_KEY_STATES,
  MissingSenderKeyError,
  SENDER_KEY_RECORD_TAG,
  SenderKeyRecord,
} from '@e2ee-kit/sender-keys';
import { InMemorySenderKeyStore } from '@e2ee-kit/sender-keys/testing';
import { describe, expect, it } from 'vitest';
import { thrown } from './helpers.js';

const D = '0a11ce00-0000-4000-8000-00000000cafe';
const mallory: Address = Object.freeze({ name: 'mallory', deviceId: 1 });
const provider = nodeProvider;
/** Upper bound of one stored skipped key: tag, length, iteration (≤ 5-byte varint), seed field. */
const SKIPPED_ENTRY_MAX = 1 + 1 + 6 + 2 + 32;

/** The malicious sender: an ordinary GroupCipher whose own chain it fast-forwards at will. */
function maliciousSender() {
  const store = new InMemorySenderKeyStore();
  const cipher = new GroupCipher(store, { provider });
  return {
    cipher,
    /** Moves the sender's current chain to `iteration` (chain key stepped with HMAC(ck, 0x02)). */
    async jumpTo(iteration: number) {
      const record = (await store.loadSenderKey(mallory, D)) as SenderKeyRecord;
      const state = record.states[0]!;
      let ck = state.chainKey;
      for (let i = state.iteration; i < iteration; i++) ck = await provider.hmacSha256(ck, Uint8Array.of(2));
      await store.storeSenderKey(
        mallory,
        D,
        SenderKeyRecord.fromStates([{ ...state, iteration, chainKey: ck }]),
      );
    },
    send: (text: string) => cipher.encrypt(mallory, D, utf8(text)),
  };
}

function totalSkipped(r: SenderKeyRecord): number {
  return r.states.reduce((n, s) => n + s.skipped.length, 0);
}

describe('SenderKeyRecord caps against a sender that tries to exceed them', () => {
  it('≤ 5 states, ≤ 2,000 keys each (10,000 in all), serialized ≤ the byte cap; the newest messages decrypt', async () => {
    const m = maliciousSender();
    const receiverStore = new InMemorySenderKeyStore();
    const receiver = new GroupCipher(receiverStore, { provider, rotationGraceMs: Number.POSITIVE_INFINITY });
    const chains = MAX_SENDER_KEY_STATES + 1;
    const held: Array<{
      chain: number;
      iteration: number;
      bytes: Uint8Array;
      expect: 'ok' | 'dup' | 'missing';
    }> = [];
    const chainIds: number[] = [];
    for (let c = 0; c < chains; c++) {
      const skdm = await m.cipher.rotate(mallory, D);
      chainIds.push(skdm.chainId);
      await receiver.processDistributionMessage(mallory, skdm.serialize());
      const survives = c >= chains - MAX_SENDER_KEY_STATES;
      // In flight from the start of the chain: evicted by the later jumps (libsignal: duplicate).
      for (let i = 0; i < 3; i++) {
        held.push({
          chain: c,
          iteration: i,
          bytes: await m.send(`early ${c}.${i}`),
          expect: survives ? 'dup' : 'missing',
        });
      }
      // Jump 1: exactly MAX_FORWARD_JUMPS ahead of the receiver (accepted).
      await m.jumpTo(MAX_FORWARD_JUMPS);
      expect((await receiver.decrypt(mallory, await m.send(`jump ${c}`))).iteration).toBe(MAX_FORWARD_JUMPS);
      // In flight just before jump 2: the newest skipped keys, kept.
      const base = 2 * MAX_FORWARD_JUMPS - 4;
      await m.jumpTo(base);
      for (let i = 0; i < 5; i++) {
        held.push({
          chain: c,
          iteration: base + i,
          bytes: await m.send(`late ${c}.${i}`),
          expect: survives ? 'ok' : 'missing',
        });
      }
      // Jump 2: exactly MAX_FORWARD_JUMPS ahead again (the receiver is at MAX_FORWARD_JUMPS + 1).
      expect((await receiver.decrypt(mallory, await m.send(`jump2 ${c}`))).iteration).toBe(base + 5);

      const record = (await receiverStore.loadSenderKey(mallory, D)) as SenderKeyRecord;
      expect(record.size).toBeLessThanOrEqual(MAX_SENDER_KEY_STATES);
      for (const s of record.states) expect(s.skipped.length).toBeLessThanOrEqual(MAX_MESSAGE_KEYS);
      expect(totalSkipped(record)).toBe(Math.min(c + 1, MAX_SENDER_KEY_STATES) * MAX_MESSAGE_KEYS);
    }

    const full = (await receiverStore.loadSenderKey(mallory, D)) as SenderKeyRecord;
    expect(full.chainIds).toEqual(chainIds.slice(-MAX_SENDER_KEY_STATES).reverse());
    expect(totalSkipped(full)).toBe(MAX_RECORD_MESSAGE_KEYS);
    const bytes = full.serialize();
    const bound =
      SENDER_KEY_RECORD_TAG.length + 1 + MAX_SENDER_KEY_STATES * (MAX_MESSAGE_KEYS * SKIPPED_ENTRY_MAX + 300);
    expect(bytes.length).toBeLessThanOrEqual(bound);
    expect(bound).toBeLessThanOrEqual(MAX_SENDER_KEY_RECORD_BYTES);
    expect(SenderKeyRecord.deserialize(bytes).serialize()).toEqual(bytes);
    expect(full.toLibsignal().length).toBeLessThanOrEqual(bound);

    // The in-flight messages: kept keys decrypt exactly once; evicted keys are duplicates; evicted
    // chains are missing — libsignal's decisions for each.
    for (const h of held) {
      const where = `chain ${h.chain} iteration ${h.iteration}`;
      if (h.expect === 'ok') {
        expect((await receiver.decrypt(mallory, h.bytes)).iteration, where).toBe(h.iteration);
        expect(await thrown(receiver.decrypt(mallory, h.bytes)), where).toBeInstanceOf(DuplicateMessageError);
      } else if (h.expect === 'dup') {
        expect(await thrown(receiver.decrypt(mallory, h.bytes)), where).toBeInstanceOf(DuplicateMessageError);
      } else {
        expect(await thrown(receiver.decrypt(mallory, h.bytes)), where).toBeInstanceOf(MissingSenderKeyError);
      }
    }
    expect(held.filter((h) => h.expect === 'ok').length).toBe(5 * MAX_SENDER_KEY_STATES);
    // And the current chain goes on.
    expect((await receiver.decrypt(mallory, await m.send('next'))).iteration).toBe(2 * MAX_FORWARD_JUMPS + 2);

    // One more jump past the limit is refused and stores nothing.
    const before = ((await receiverStore.loadSenderKey(mallory, D)) as SenderKeyRecord).serialize();
    await m.jumpTo(3 * MAX_FORWARD_JUMPS + 4);
    const tooFar = await thrown(receiver.decrypt(mallory, await m.send('too far')));
    expect(tooFar).toBeInstanceOf(MessageGapError);
    expect(((await receiverStore.loadSenderKey(mallory, D)) as SenderKeyRecord).serialize()).toEqual(before);
  }, 120_000);
});

describe('caps enforced when a record is built or read', () => {
  const state = async () => {
    const store = new InMemorySenderKeyStore();
    await new GroupCipher(store, { provider }).createDistributionMessage(mallory, D);
    return ((await store.loadSenderKey(mallory, D)) as SenderKeyRecord).states[0]!;
  };
  const keys = (n: number, from = 0) =>
    Array.from({ length: n }, (_, i) => ({ iteration: from + i, seed: new Uint8Array(32) }));

  it('no more than 5 states, 2,000 keys per state, and a bounded key-holder list', async () => {
    const s = await state();
    expect(() => SenderKeyRecord.fromStates(Array(MAX_SENDER_KEY_STATES + 1).fill(s))).toThrow(RangeError);
    expect(() => SenderKeyRecord.fromStates([{ ...s, skipped: keys(MAX_MESSAGE_KEYS + 1) }])).toThrow(
      RangeError,
    );
    expect(() =>
      SenderKeyRecord.fromStates([{ ...s, holders: new Uint8Array(MAX_RECORD_HOLDERS_BYTES + 1) }]),
    ).toThrow(RangeError);
    const most = SenderKeyRecord.fromStates(
      Array.from({ length: MAX_SENDER_KEY_STATES }, (_, i) => ({
        ...s,
        chainId: i,
        iteration: 0xffff_fff0,
        skipped: keys(MAX_MESSAGE_KEYS, 0xffff_ffff - MAX_MESSAGE_KEYS),
      })),
    );
    expect(most.serialize().length).toBeLessThanOrEqual(MAX_SENDER_KEY_RECORD_BYTES);
  });

  it('a longer serialized record is refused before parsing, as are 6 states or 2,001 keys in a state', async () => {
    const long = new Uint8Array(MAX_SENDER_KEY_RECORD_BYTES + 1);
    long.set(SENDER_KEY_RECORD_TAG, 0);
    long[SENDER_KEY_RECORD_TAG.length] = 1;
    const err = await thrown(Promise.resolve().then(() => SenderKeyRecord.deserialize(long)));
    expect(err).toBeInstanceOf(DecodeError);
    expect(err.message).toBe('sender key record too long');
    expect(() => SenderKeyRecord.fromLibsignal(new Uint8Array(MAX_SENDER_KEY_RECORD_BYTES + 1))).toThrow(
      'sender key record too long',
    );

    const s = await state();
    const six = SenderKeyRecord.fromStates(Array(5).fill(s)).toLibsignal();
    const one = SenderKeyRecord.fromStates([s]).toLibsignal();
    const withSix = new Uint8Array([...six, ...one]); // repeated field: a sixth state appended
    expect(() => SenderKeyRecord.fromLibsignal(withSix)).toThrow(DecodeError);
    // A state with 2,001 skipped keys: libsignal's 2,000 plus one more field-4 entry appended.
    const full = SenderKeyRecord.fromStates([{ ...s, skipped: keys(MAX_MESSAGE_KEYS) }]).toLibsignal();
    const r = new ProtoReader(full);
    r.next();
    const st = r.bytes();
    const extra = new ProtoWriter()
      .bytes(4, new ProtoWriter().uint32(1, 5000).bytes(2, new Uint8Array(32)).finish())
      .finish();
    const rec = new ProtoWriter().bytes(1, new Uint8Array([...st, ...extra])).finish();
    expect(SenderKeyRecord.fromLibsignal(full).states[0]!.skipped.length).toBe(MAX_MESSAGE_KEYS);
    expect(() => SenderKeyRecord.fromLibsignal(rec)).toThrow(DecodeError);
  });
});
