// Issue 11.6 (sender keys), live against @signalapp/libsignal-client 0.103.0: a hostile group member
// opens 6 chains and jumps each one twice by the full 25,000; one of our receivers and one libsignal
// receiver get the same messages in the same order. Every accept/reject decision must be libsignal's
// (kept keys decrypt once, evicted keys are duplicates, the evicted chain is missing, one step past
// 25,000 is refused), and our record — within its caps — must hold what libsignal's holds.
import { randomUUID } from 'node:crypto';
import { type Address, DuplicateMessageError, MessageGapError, utf8 } from '@e2ee-kit/core';
import { nodeProvider } from '@e2ee-kit/core/node';
import {
  GroupCipher,
  MAX_FORWARD_JUMPS,
  MAX_RECORD_MESSAGE_KEYS,
  MAX_SENDER_KEY_RECORD_BYTES,
  MAX_SENDER_KEY_STATES,
  MissingSenderKeyError,
  SenderKeyRecord,
} from '@e2ee-kit/sender-keys';
import { InMemorySenderKeyStore } from '@e2ee-kit/sender-keys/testing';
import { describe, expect, it } from 'vitest';
import { LibSenderKeyBytesStore } from '../src/lib-sender-key-store.js';
import { lib103 } from '../src/libsignal.js';

const mallory: Address = Object.freeze({ name: 'mallory', deviceId: 1 });
const libMallory = lib103.ProtocolAddress.new(mallory.name, mallory.deviceId);

describe('record caps: every decision is libsignal’s (live)', () => {
  it('6 chains × two 25,000 jumps, then the in-flight messages, a next message and one jump too far', async () => {
    const D = randomUUID();
    const senderStore = new InMemorySenderKeyStore();
    const sender = new GroupCipher(senderStore, { provider: nodeProvider });
    const jumpTo = async (iteration: number) => {
      const record = (await senderStore.loadSenderKey(mallory, D)) as SenderKeyRecord;
      const state = record.states[0]!;
      let ck = state.chainKey;
      for (let i = state.iteration; i < iteration; i++)
        ck = await nodeProvider.hmacSha256(ck, Uint8Array.of(2));
      await senderStore.storeSenderKey(
        mallory,
        D,
        SenderKeyRecord.fromStates([{ ...state, iteration, chainKey: ck }]),
      );
    };
    const send = (t: string) => sender.encrypt(mallory, D, utf8(t));

    const oursStore = new InMemorySenderKeyStore();
    const ours = new GroupCipher(oursStore, {
      provider: nodeProvider,
      rotationGraceMs: Number.POSITIVE_INFINITY,
    });
    const libStore = new LibSenderKeyBytesStore();
    const oursOutcome = async (wire: Uint8Array) => {
      try {
        await ours.decrypt(mallory, wire);
        return 'ok';
      } catch (err) {
        if (err instanceof DuplicateMessageError) return 'duplicate';
        if (err instanceof MissingSenderKeyError) return 'missing';
        if (err instanceof MessageGapError) return 'too far';
        return `other ${String(err)}`;
      }
    };
    const libOutcome = async (wire: Uint8Array) => {
      try {
        await lib103.groupDecrypt(libMallory, libStore, new Uint8Array(wire));
        return 'ok';
      } catch (err) {
        const e = err as { code: unknown; message: string };
        if (e.code === lib103.ErrorCode.DuplicatedMessage) return 'duplicate';
        if (e.message.includes('missing sender key state')) return 'missing';
        if (e.message.includes('too far into the future')) return 'too far';
        return `other ${e.message}`;
      }
    };
    const log: Array<[string, string, string]> = [];
    const deliver = async (what: string, wire: Uint8Array) => {
      log.push([what, await oursOutcome(wire), await libOutcome(wire)]);
    };

    const held: Array<[string, Uint8Array]> = [];
    for (let c = 0; c <= MAX_SENDER_KEY_STATES; c++) {
      const skdm = await sender.rotate(mallory, D);
      await ours.processDistributionMessage(mallory, skdm.serialize());
      await lib103.processSenderKeyDistributionMessage(
        libMallory,
        lib103.SenderKeyDistributionMessage.deserialize(new Uint8Array(skdm.serialize())),
        libStore,
      );
      for (let i = 0; i < 3; i++) held.push([`chain ${c} early ${i}`, await send('early')]);
      await jumpTo(MAX_FORWARD_JUMPS);
      await deliver(`chain ${c} jump 1`, await send('jump'));
      await jumpTo(2 * MAX_FORWARD_JUMPS - 4);
      for (let i = 0; i < 5; i++) held.push([`chain ${c} late ${i}`, await send('late')]);
      await deliver(`chain ${c} jump 2`, await send('jump 2'));
    }
    for (const [what, wire] of held) {
      await deliver(what, wire);
      await deliver(`${what} again`, wire);
    }
    await deliver('next', await send('next'));
    await jumpTo(3 * MAX_FORWARD_JUMPS + 4); // the receiver is at 2 × 25,000 + 3
    await deliver('one past the limit', await send('too far'));

    const differ = log.filter(([, a, b]) => a !== b);
    expect(differ).toEqual([]);
    // The schedule exercised every decision.
    const seen = new Set(log.map(([, a]) => a));
    expect([...seen].sort()).toEqual(['duplicate', 'missing', 'ok', 'too far']);

    const record = (await oursStore.loadSenderKey(mallory, D)) as SenderKeyRecord;
    expect(record.states.reduce((n, s) => n + s.skipped.length, 0)).toBeLessThanOrEqual(
      MAX_RECORD_MESSAGE_KEYS,
    );
    expect(record.serialize().length).toBeLessThanOrEqual(MAX_SENDER_KEY_RECORD_BYTES);
    // What we keep is what libsignal keeps: same chains, same skipped iterations.
    const lib = SenderKeyRecord.fromLibsignal(libStore.map.values().next().value as Uint8Array);
    expect(record.chainIds).toEqual(lib.chainIds);
    expect(record.states.map((s) => s.skipped.map((k) => k.iteration))).toEqual(
      lib.states.map((s) => s.skipped.map((k) => k.iteration)),
    );
  }, 180_000);
});
