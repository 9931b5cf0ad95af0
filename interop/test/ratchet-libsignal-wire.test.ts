// Live wire-level interop of @e2ee-kit/ratchet with @signalapp/libsignal-client, on every provider:
// message fields as each side reads the other's bytes, the 0.91+ `addresses` field checked both
// ways, bundle signatures refused both ways, X3DH refused where it must be, and bit flips of real
// messages rejected by both sides without changing the receiver's state.
import {
  E2eeError,
  PreKeySignalMessage,
  RatchetErrorCode,
  SignalMessage,
  VerificationError,
} from '@e2ee-kit/ratchet';
import { describe, expect, it } from 'vitest';
import { allProviders } from '../../tools/providers.js';
import { type LibHandle, libs, type RawPreKeyBundle, type RawWireMessage } from '../src/libsignal.js';
import { libEndpoint, ourBundleFromRaw, ourEndpoint, rawFromOurBundle } from './ratchet-endpoints.js';
import { baseSeed, createRng, type Endpoint, seedFor } from './ratchet-scenario.js';

const seed = baseSeed();
const enc = new TextEncoder();
const dec = new TextDecoder();

function flipBit(bytes: Uint8Array, bit: number): Uint8Array {
  const out = bytes.slice();
  out[bit >> 3]! ^= 1 << (bit & 7);
  return out;
}

async function send(from: Endpoint, to: Endpoint, text: string): Promise<RawWireMessage> {
  const m = await from.encrypt(to.address, enc.encode(text));
  expect(dec.decode(await to.decrypt(from.address, m))).toBe(text);
  return m;
}

describe.each(allProviders.map((p) => [p.label, p.provider] as const))(
  'ours on %s',
  (providerLabel, provider) => {
    const ours = (x3dh = false) => ourEndpoint({ provider, providerLabel, x3dh });

    describe.each([libs.lib103, libs.lib90].map((l) => [l.version, l] as const))(
      'libsignal-client %s',
      (_v, lib: LibHandle) => {
        const withAddresses = lib.features.decryptLocalAddress;

        it('our PreKey message as libsignal reads it, and theirs as we read it', async () => {
          const a = await ours();
          const b = libEndpoint(lib, { name: crypto.randomUUID() });
          const bundle = await b.createBundle();
          await a.processBundle(b.address, bundle);
          const m = await send(a, b, 'hello');
          expect(m.type).toBe('prekey');
          const theirView = lib.mod.PreKeySignalMessage.deserialize(new Uint8Array(m.body));
          expect(theirView.version()).toBe(4);
          expect(theirView.preKeyId()).toBe(bundle.preKey!.id);
          expect(theirView.signedPreKeyId()).toBe(bundle.signedPreKey.id);
          expect(theirView.registrationId()).toBe(await a.store.getLocalRegistrationId());
          // SPQR-lite framing on our first message: V1, epoch 1, index 1
          const ourView = PreKeySignalMessage.deserialize(m.body);
          expect(ourView.kyberPreKeyId).toBe(bundle.kyberPreKey!.id);
          expect(ourView.message.pqRatchet.subarray(0, 3)).toEqual(new Uint8Array([1, 1, 1]));
          expect(ourView.message.addresses?.length).toBe(36);

          // their reply and a PreKey message from them
          const reply = await send(b, a, 'reply');
          expect(reply.type).toBe('whisper');
          const r = SignalMessage.deserialize(reply.body);
          expect(r.messageVersion).toBe(4);
          expect(r.pqRatchet[0]).toBe(1);

          const c = libEndpoint(lib, { name: crypto.randomUUID() });
          const d = await ours();
          const ourBundle = await d.createBundle();
          await c.processBundle(d.address, ourBundle);
          const p = await send(c, d, 'theirs');
          const parsed = PreKeySignalMessage.deserialize(p.body);
          expect(parsed.messageVersion).toBe(4);
          expect(parsed.preKeyId).toBe(ourBundle.preKey!.id);
          expect(parsed.signedPreKeyId).toBe(ourBundle.signedPreKey.id);
          expect(parsed.kyberPreKeyId).toBe(ourBundle.kyberPreKey!.id);
          expect(parsed.kyberCiphertext?.length).toBe(1569);
          expect(parsed.kyberCiphertext?.[0]).toBe(0x08);
          expect(parsed.registrationId).toBe(c.party.registrationId);
          expect(parsed.identityKey.serialize()).toEqual(c.party.identityKey);
          expect(parsed.message.addresses?.length).toBe(withAddresses ? 36 : undefined);
        });

        it('the addresses field: a PreKey message claimed by the wrong sender is refused by both', async () => {
          // ours → libsignal, presented to libsignal as coming from someone else
          const a = await ours();
          const b = libEndpoint(lib, { name: crypto.randomUUID() });
          await a.processBundle(b.address, await b.createBundle());
          const m = await a.encrypt(b.address, enc.encode('to b'));
          const impostor = { name: crypto.randomUUID(), deviceId: a.address.deviceId };
          // 0.90 has no local address to compare the field with (it ignores it): only 0.91+ refuses.
          if (withAddresses) await expect(b.decrypt(impostor, m)).rejects.toThrow();
          expect(dec.decode(await b.decrypt(a.address, m))).toBe('to b');

          // libsignal → ours, presented to us as coming from someone else
          const c = libEndpoint(lib, { name: crypto.randomUUID() });
          const d = await ours();
          await c.processBundle(d.address, await d.createBundle());
          const n = await c.encrypt(d.address, enc.encode('to d'));
          if (withAddresses) {
            const before = await d.snapshot(impostor);
            const err = await d.decrypt(impostor, n).catch((e: unknown) => e);
            expect(err).toBeInstanceOf(E2eeError);
            expect(await d.snapshot(impostor)).toBe(before);
          }
          expect(dec.decode(await d.decrypt(c.address, n))).toBe('to d');
        });

        it('bundle signatures are checked both ways', async () => {
          const a = await ours();
          const b = libEndpoint(lib);
          const theirs = await b.createBundle();
          const badSigned: RawPreKeyBundle = {
            ...theirs,
            signedPreKey: { ...theirs.signedPreKey, signature: flipBit(theirs.signedPreKey.signature, 9) },
          };
          const badKyber: RawPreKeyBundle = {
            ...theirs,
            kyberPreKey: { ...theirs.kyberPreKey!, signature: flipBit(theirs.kyberPreKey!.signature, 9) },
          };
          for (const bad of [badSigned, badKyber]) {
            const err = await a.processBundle(b.address, bad).catch((e: unknown) => e);
            expect(err).toBeInstanceOf(VerificationError);
          }
          expect(await a.cipher(b.address).hasSession()).toBe(false);

          const c = libEndpoint(lib);
          const d = await ours();
          const mine = await d.createBundle();
          await expect(
            c.processBundle(d.address, {
              ...mine,
              signedPreKey: { ...mine.signedPreKey, signature: flipBit(mine.signedPreKey.signature, 9) },
            }),
          ).rejects.toThrow();
          await expect(
            c.processBundle(d.address, {
              ...mine,
              kyberPreKey: { ...mine.kyberPreKey!, signature: flipBit(mine.kyberPreKey!.signature, 9) },
            }),
          ).rejects.toThrow();
          // the untouched bundle round-trips through both bundle types and works
          const again = rawFromOurBundle(ourBundleFromRaw(mine));
          await c.processBundle(d.address, again);
          await send(c, d, 'ok');
        });

        it('bit flips of real messages are rejected by both sides and change nothing', async () => {
          const rng = createRng(seedFor(seed, `${providerLabel} ${lib.label} flips`));
          const a = await ours();
          const b = libEndpoint(lib, { name: crypto.randomUUID() });
          await a.processBundle(b.address, await b.createBundle());
          await send(a, b, 'setup');
          await send(b, a, 'ack');
          for (const [from, to] of [
            [a, b],
            [b, a],
          ] as const) {
            const m = await from.encrypt(to.address, enc.encode('flip me'));
            expect(m.type).toBe('whisper');
            const before = await to.snapshot(from.address);
            for (let i = 0; i < 24; i++) {
              const bit = rng.int(m.body.length * 8);
              const err = await to.decrypt(from.address, { type: m.type, body: flipBit(m.body, bit) }).then(
                () => undefined,
                (e: unknown) => e,
              );
              expect(err, `bit ${bit} of ${from.label}'s message accepted by ${to.label}`).toBeDefined();
              expect(await to.snapshot(from.address)).toBe(before);
            }
            expect(dec.decode(await to.decrypt(from.address, m))).toBe('flip me');
          }
        });
      },
    );

    it('X3DH (version 3): libsignal 0.103.0 refuses ours; ours refuses 0.72.1 unless acceptX3dh', async () => {
      const a = await ours(true);
      const b = libEndpoint(libs.lib103);
      // 0.103 hands out PQXDH bundles; strip the Kyber part to force our X3DH initiation
      const { kyberPreKey: _drop, ...x3dhBundle } = await b.createBundle();
      await a.processBundle(b.address, x3dhBundle);
      const m = await a.encrypt(b.address, enc.encode('v3'));
      expect(m.body[0]).toBe(0x34);
      await expect(b.decrypt(a.address, m)).rejects.toThrow();

      // 0.72.1 given one of our bundles without its Kyber part initiates X3DH; a responder without
      // acceptX3dh refuses that with X3DH_NOT_ACCEPTED and stores nothing.
      const c = libEndpoint(libs.lib72);
      const d = await ours(false);
      await c.processBundle(d.address, { ...(await d.createBundle()), kyberPreKey: undefined });
      const v3 = await c.encrypt(d.address, enc.encode('legacy'));
      expect(v3.body[0]).toBe(0x34);
      const before = await d.snapshot(c.address);
      const err = await d.decrypt(c.address, v3).catch((e: unknown) => e);
      expect(E2eeError.is(err, RatchetErrorCode.X3dhNotAccepted)).toBe(true);
      expect(await d.snapshot(c.address)).toBe(before);
    });
  },
);
