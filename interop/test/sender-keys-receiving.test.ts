// Receiving sender keys, live against @signalapp/libsignal-client 0.103.0: one of our receivers and
// one libsignal receiver get the same distribution messages and group messages in the same order,
// and every accept/reject decision must be libsignal's. Our receiver's clock runs far past the
// rotation grace where libsignal (which has no clock) would still decrypt.
import { randomUUID } from 'node:crypto';
import { type Address, DuplicateMessageError, E2eeError, utf8 } from '@e2ee-kit/core';
import { nodeProvider } from '@e2ee-kit/core/node';
import { GroupCipher, MissingSenderKeyError } from '@e2ee-kit/sender-keys';
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
    if (err instanceof DuplicateMessageError) return 'duplicate';
    if (err instanceof MissingSenderKeyError) return 'missing';
    if (E2eeError.is(err)) return `other ${err.code}`;
    const e = err as { code: unknown; message: string };
    if (e.code === lib103.ErrorCode.DuplicatedMessage) return 'duplicate';
    if (e.message.includes('missing sender key state')) return 'missing';
    return `other ${e.message}`;
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
