// Issue 11.1: sender-keys' byte-taking entries — distribution messages, encrypt, decrypt, tryDecrypt,
// every record and message deserializer, the testing store — on every provider with offset views and
// pooled Node Buffers. The caller's bytes (and the bytes around them) stay untouched, nothing we
// return changes when the caller reuses its buffer, and the group keeps working.
import { readFileSync } from 'node:fs';
import {
  GroupCipher,
  generateDistributionId,
  KeyHolderRecord,
  SenderKeyDistributionMessage,
  SenderKeyMessage,
  SenderKeyRecord,
} from '@e2ee-kit/sender-keys';
import { InMemorySenderKeyStore } from '@e2ee-kit/sender-keys/testing';
import { describe, expect, it } from 'vitest';
import { checkCallerBytes, foreignShapes, hexOf } from '../../../tools/caller-bytes.js';
import { allProviders } from '../../../tools/providers.js';

const alice = { name: 'alice', deviceId: 1 };
const bob = { name: 'bob', deviceId: 1 };
const text = (s: string) => new TextEncoder().encode(s);
const retiredFixture = new Uint8Array(
  readFileSync(new URL('./fixtures/record-v2-receiver.bin', import.meta.url)),
);

describe.each(allProviders)('provider $label', ({ provider }) => {
  it.each(foreignShapes)('a group conversation fed from $name inputs', async ({ make }) => {
    const groupId = generateDistributionId();
    const aliceStore = new InMemorySenderKeyStore();
    const bobStore = new InMemorySenderKeyStore();
    const aliceKeys = new GroupCipher(aliceStore, { provider });
    const bobKeys = new GroupCipher(bobStore, { provider });
    const plan = await aliceKeys.prepareSend(alice, groupId, [bob]);
    const skdm = plan.distributionMessage.serialize();
    await checkCallerBytes(
      make,
      [skdm],
      async (b) => {
        await bobKeys.processDistributionMessage(alice, b);
        return bobStore;
      },
      (s) => hexOf(s.rawRecord(alice, groupId)),
    );
    await aliceKeys.markDelivered(alice, groupId, plan.chainId, plan.needsDistribution);

    const sent: Array<{ wire: Uint8Array; plaintext: Uint8Array }> = [];
    for (let i = 0; i < 5; i++) {
      const plaintext = text(`group message ${i}`);
      const wire = await checkCallerBytes(
        make,
        [plaintext],
        (p) => aliceKeys.encrypt(alice, groupId, p),
        hexOf,
      );
      sent.push({ wire, plaintext });
    }
    // Out of order, so skipped keys are stored from the caller's bytes too.
    for (const i of [2, 0, 1, 4, 3]) {
      const { wire, plaintext } = sent[i]!;
      const got = await checkCallerBytes(
        make,
        [wire],
        async (w): Promise<{ plaintext?: Uint8Array; status?: string }> =>
          i === 4 ? bobKeys.tryDecrypt(alice, w) : bobKeys.decrypt(alice, w),
        (r) => hexOf(r.plaintext ?? r.status),
        hexOf(plaintext),
      );
      expect(got.plaintext).toEqual(plaintext);
    }

    // Deserializers keep copies.
    const record = (await aliceStore.loadSenderKey(alice, groupId))!;
    const recordBytes = record.serialize();
    const libsignalBytes = (await bobStore.loadSenderKey(alice, groupId))!.toLibsignal();
    const holders = KeyHolderRecord.create(plan.chainId, [bob]).serialize();
    const cases: Array<[string, Uint8Array, (b: Uint8Array) => { serialize(): Uint8Array }]> = [
      ['SenderKeyRecord', recordBytes, (b) => SenderKeyRecord.deserialize(b)],
      ['SenderKeyRecord with retired-chain markers', retiredFixture, (b) => SenderKeyRecord.deserialize(b)],
      ['SenderKeyDistributionMessage', skdm, (b) => SenderKeyDistributionMessage.deserialize(b)],
      ['SenderKeyMessage', sent[0]!.wire, (b) => SenderKeyMessage.deserialize(b)],
      ['KeyHolderRecord', holders, (b) => KeyHolderRecord.deserialize(b)],
    ];
    for (const [name, bytes, decode] of cases) {
      await checkCallerBytes(make, [bytes], decode, (r) => hexOf(r.serialize()), hexOf(bytes)).catch(
        (e: Error) => {
          throw new Error(`${name}: ${e.message}`);
        },
      );
    }
    await checkCallerBytes(
      make,
      [libsignalBytes],
      (b) => SenderKeyRecord.fromLibsignal(b, { now: 1 }),
      (r) => hexOf(r.toLibsignal()),
      hexOf(libsignalBytes),
    );
    const distribution = SenderKeyDistributionMessage.deserialize(skdm);
    expect(distribution.chainKey()).toEqual(plan.distributionMessage.chainKey());
    // The testing store keeps a copy of raw bytes it is given.
    const store = new InMemorySenderKeyStore();
    await checkCallerBytes(
      make,
      [recordBytes],
      (b) => {
        store.setRawRecord(alice, groupId, b);
        return store;
      },
      (s) => hexOf(s.rawRecord(alice, groupId)),
      hexOf(recordBytes),
    );
  });
});
