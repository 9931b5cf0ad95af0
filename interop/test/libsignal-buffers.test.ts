// Issue 11.1: the live libsignal interop run once with Node Buffer inputs on both sides — every byte
// array either side receives (bundle parts, message bodies, plaintexts, distribution messages, group
// messages) is a Buffer from Node's shared 8 KiB pool, as `ws`, `fs` and `net` deliver them. A
// pairwise session in both directions (either side initiating) and a group in both directions, on
// every provider, against @signalapp/libsignal-client 0.103.0. Every Buffer we were handed is checked
// byte for byte afterwards (our side never writes to it), and the conversation keeps decrypting
// (pooled bundle parts once gave INVALID_KEY_AGREEMENT, later messages INVALID_MESSAGE).
import type { Address } from '@e2ee-kit/core';
import { createTestParty } from '@e2ee-kit/ratchet/testing';
import { GroupCipher } from '@e2ee-kit/sender-keys';
import { InMemorySenderKeyStore } from '@e2ee-kit/sender-keys/testing';
import { describe, expect, it } from 'vitest';
import { allProviders } from '../../tools/providers.js';
import { LibsignalParty, lib103, libs, type RawPreKeyBundle } from '../src/libsignal.js';
import { ourBundleFromRaw, rawFromOurBundle } from './ratchet-endpoints.js';

/** Hands out pooled Buffers and remembers them, to check later that nobody wrote to them. */
class PooledInputs {
  readonly #given: Array<{ buffer: Buffer; hex: string }> = [];
  of(bytes: Uint8Array): Buffer {
    const buffer = Buffer.from(bytes);
    if (bytes.length < Buffer.poolSize >>> 2 && buffer.buffer.byteLength !== Buffer.poolSize)
      throw new Error('test setup: expected a pooled Buffer');
    this.#given.push({ buffer, hex: buffer.toString('hex') });
    return buffer;
  }
  bundle(raw: RawPreKeyBundle): RawPreKeyBundle {
    return {
      registrationId: raw.registrationId,
      deviceId: raw.deviceId,
      identityKey: this.of(raw.identityKey),
      preKey: raw.preKey && { id: raw.preKey.id, publicKey: this.of(raw.preKey.publicKey) },
      signedPreKey: {
        id: raw.signedPreKey.id,
        publicKey: this.of(raw.signedPreKey.publicKey),
        signature: this.of(raw.signedPreKey.signature),
      },
      kyberPreKey: raw.kyberPreKey && {
        id: raw.kyberPreKey.id,
        publicKey: this.of(raw.kyberPreKey.publicKey),
        signature: this.of(raw.kyberPreKey.signature),
      },
    };
  }
  expectUntouched(): void {
    expect(this.#given.length).toBeGreaterThan(0);
    for (const { buffer, hex } of this.#given) expect(buffer.toString('hex')).toBe(hex);
  }
}

type LibAddress = ReturnType<typeof lib103.ProtocolAddress.new>;
type LibRecord = ReturnType<typeof lib103.SenderKeyRecord.deserialize>;

/** libsignal's sender-key store over a Map of serialized records. */
class LibSenderKeyStore extends lib103.SenderKeyStore {
  readonly #map = new Map<string, Uint8Array<ArrayBuffer>>();
  async saveSenderKey(a: LibAddress, d: string, r: LibRecord): Promise<void> {
    this.#map.set(`${a.name()}.${a.deviceId()}/${d}`, r.serialize());
  }
  async getSenderKey(a: LibAddress, d: string): Promise<LibRecord | null> {
    const b = this.#map.get(`${a.name()}.${a.deviceId()}/${d}`);
    return b === undefined ? null : lib103.SenderKeyRecord.deserialize(b);
  }
}

const text = (s: string) => new TextEncoder().encode(s);
const ROUNDS = 12;

describe.each(allProviders)('Buffer inputs on both sides, ours on $label', ({ provider }) => {
  for (const initiator of ['ours', 'libsignal'] as const) {
    it(`pairwise session, ${initiator} initiates`, async () => {
      const pool = new PooledInputs();
      const us = await createTestParty(crypto.randomUUID(), 1, { provider });
      const them = LibsignalParty.create(libs.lib103, { name: crypto.randomUUID() });
      const cipher = us.cipher(them.address);
      if (initiator === 'ours') {
        await cipher.initiate(ourBundleFromRaw(pool.bundle(await them.createBundle())));
      } else {
        await them.processBundle(us.address, pool.bundle(rawFromOurBundle(await us.bundle())));
      }
      for (let i = 0; i < ROUNDS; i++) {
        const oursSends = (i % 2 === 0) === (initiator === 'ours') || i % 5 === 3;
        const plaintext = text(`round ${i} ${oursSends ? 'from ours' : 'from libsignal'}`);
        if (oursSends) {
          const m = await cipher.encrypt(pool.of(plaintext));
          const got = await them.decrypt(us.address, { type: m.type, body: pool.of(m.body) });
          expect(got).toEqual(plaintext);
        } else {
          const m = await them.encrypt(us.address, pool.of(plaintext));
          const got = await cipher.decrypt({ type: m.type, body: pool.of(m.body) });
          expect(got.plaintext).toEqual(plaintext);
        }
      }
      pool.expectUntouched();
    });
  }

  it('group: libsignal sender to our receiver, our sender to a libsignal receiver', async () => {
    const pool = new PooledInputs();
    const groupId = crypto.randomUUID();
    const libSender: Address = { name: crypto.randomUUID(), deviceId: 1 };
    const ourSender: Address = { name: crypto.randomUUID(), deviceId: 1 };
    const libAddr = lib103.ProtocolAddress.new(libSender.name, libSender.deviceId);
    const ourAddr = lib103.ProtocolAddress.new(ourSender.name, ourSender.deviceId);
    const libStore = new LibSenderKeyStore();
    const ours = new GroupCipher(new InMemorySenderKeyStore(), { provider });
    type LibBytes = Parameters<typeof lib103.SenderKeyDistributionMessage.deserialize>[0];
    const toLib = (b: Uint8Array) => pool.of(b) as unknown as LibBytes;

    // libsignal → ours.
    const libSkdm = await lib103.SenderKeyDistributionMessage.create(libAddr, groupId, libStore);
    await ours.processDistributionMessage(libSender, pool.of(libSkdm.serialize()));
    for (let i = 0; i < ROUNDS; i++) {
      const plaintext = text(`group ${i} from libsignal`);
      const wire = await lib103.groupEncrypt(libAddr, groupId, libStore, toLib(plaintext));
      const got = await ours.decrypt(libSender, pool.of(wire.serialize()));
      expect(got.plaintext).toEqual(plaintext);
    }

    // ours → libsignal.
    const plan = await ours.prepareSend(ourSender, groupId, [libSender]);
    const receiverStore = new LibSenderKeyStore();
    await lib103.processSenderKeyDistributionMessage(
      ourAddr,
      lib103.SenderKeyDistributionMessage.deserialize(toLib(plan.distributionMessage.serialize())),
      receiverStore,
    );
    await ours.markDelivered(ourSender, groupId, plan.chainId, plan.needsDistribution);
    for (let i = 0; i < ROUNDS; i++) {
      const plaintext = text(`group ${i} from ours`);
      const wire = await ours.encrypt(ourSender, groupId, pool.of(plaintext));
      const got = await lib103.groupDecrypt(ourAddr, receiverStore, toLib(wire));
      expect(new Uint8Array(got)).toEqual(plaintext);
    }
    pool.expectUntouched();
  });
});
