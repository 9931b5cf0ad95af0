// All-zero key agreements: a PreKey message whose base key, or a SignalMessage whose ratchet key, is a
// point that X25519 maps to the all-zero secret (the small-order points of Curve25519 and their
// non-canonical encodings, in the 33-byte 0x05-prefixed form). The same bytes go to libsignal-client
// 0.103.0 and to our SessionCipher holding the same keys, ours on every provider, and the decisions
// and error kinds are compared; each refusal must leave both stores byte-identical, and the genuine
// message must decrypt afterwards.
//
// Both sides do the ratchet step's agreement before the MAC check, so a message whose key was swapped
// (its MAC then fails) still shows which check refuses it: the agreement's own. libsignal returns
// its generic "decryption failed" for it and names the reason only in its log ("Candidate session 0
// failed with 'invalid key agreement'"), so this file reads libsignal's log (initLogger) to see it;
// ours throws INVALID_MESSAGE with an INVALID_KEY_AGREEMENT cause.
import { type CryptoProvider, PublicKey } from '@e2ee-kit/core';
import { PreKeySignalMessage, SignalMessage } from '@e2ee-kit/ratchet';
import { describe, expect, it } from 'vitest';
import { allProviders } from '../../tools/providers.js';
import { LibsignalParty, lib103, libs, type RawWireMessage } from '../src/libsignal.js';
import { createTwins, libDecision, ourDecision, replaceKey, type Twins } from './ratchet-twins.js';

const enc = new TextEncoder();
const dec = new TextDecoder();
const P = 2n ** 255n - 19n;
const le32 = (n: bigint) => Uint8Array.from(Buffer.from(n.toString(16).padStart(64, '0'), 'hex').reverse());

/** libsodium's list of X25519 inputs whose output is all zero, and the same with the top bit set. */
const LOW_ORDER: ReadonlyArray<[string, Uint8Array]> = (() => {
  const base: [string, bigint][] = [
    ['u = 0 (order 2)', 0n],
    ['u = 1 (order 4)', 1n],
    ['order 8 (a)', 325606250916557431795983626356110631294008115727848805560023387167927233504n],
    ['order 8 (b)', 39382357235489614581723060781553021112529911719440698176882885853963445705823n],
    ['u = p − 1', P - 1n],
    ['u = p (≡ 0)', P],
    ['u = p + 1 (≡ 1)', P + 1n],
  ];
  const out: [string, Uint8Array][] = [];
  for (const [what, u] of base) {
    const bytes = le32(u);
    out.push([what, bytes]);
    if (u < 2n ** 255n - 32n) {
      const top = bytes.slice();
      top[31]! |= 0x80;
      out.push([`${what}, top bit set`, top]);
    }
  }
  return out;
})();

const key33 = (u: Uint8Array) => PublicKey.fromRaw(u).serialize();
const hex = (u: Uint8Array) => Buffer.from(u).toString('hex');

// libsignal's warnings (one process per test file: nothing else here sets its logger).
const libLog: string[] = [];
lib103.initLogger(lib103.LogLevel.Warn, (_level, _target, _file, _line, message) => libLog.push(message));

/** Waits (a bounded number of event-loop turns) until libsignal has logged why it refused `u`. */
async function libReason(u: Uint8Array): Promise<string | undefined> {
  const line = () =>
    libLog.find((m) => m.includes(`sender ratchet public key ${hex(u)}`) && m.includes('Candidate session'));
  for (let i = 0; i < 200 && line() === undefined; i++) await new Promise((r) => setTimeout(r, 5));
  return line()?.match(/failed with '([^']*)'/)?.[1];
}

interface Refusal {
  lib: string;
  ours: string;
}

async function refuseOnBoth(twins: Twins, from: LibsignalParty, m: RawWireMessage): Promise<Refusal> {
  const libBefore = twins.libSnapshot(from.address);
  const ourBefore = twins.ourSnapshot();
  libLog.length = 0; // only this decision's reasons
  const r = {
    lib: await libDecision(twins, from.address, m),
    ours: await ourDecision(twins, from.address, m),
  };
  expect(twins.libSnapshot(from.address)).toBe(libBefore);
  expect(twins.ourSnapshot()).toBe(ourBefore);
  return r;
}

async function setup(provider: CryptoProvider) {
  const twins = await createTwins(libs.lib103, provider, { name: crypto.randomUUID(), deviceId: 1 });
  const sender = LibsignalParty.create(libs.lib103, { name: crypto.randomUUID() });
  await sender.processBundle(twins.address, twins.bundle);
  const first = await sender.encrypt(twins.address, enc.encode('first'));
  const second = await sender.encrypt(twins.address, enc.encode('second'));
  return { twins, sender, first, second };
}

describe.each(allProviders.map((p) => [p.label, p.provider] as const))(
  'libsignal-client 0.103.0 vs ours on %s',
  (_label, provider) => {
    it('a PreKey message with a low-order base key: both refuse it as an invalid base key', async () => {
      const { twins, sender, first } = await setup(provider);
      const baseKey = PreKeySignalMessage.deserialize(first.body).baseKey.serialize();
      for (const [what, u] of LOW_ORDER) {
        const r = await refuseOnBoth(twins, sender, {
          type: 'prekey',
          body: replaceKey(first.body, baseKey, key33(u)),
        });
        expect(r.lib, what).toBe('rejected:Generic: invalid PreKey message: incoming base key is invalid');
        expect(r.ours, what).toBe('rejected:INVALID_BASE_KEY (InvalidKeyError)');
      }
      expect(dec.decode(await twins.lib.decrypt(sender.address, first))).toBe('first');
      expect(dec.decode((await twins.cipher(sender.address).decrypt(first)).plaintext)).toBe('first');
    });

    it('a PreKey message whose inner ratchet key is low-order: both refuse it for the all-zero agreement', async () => {
      const { twins, sender, first } = await setup(provider);
      const ratchetKey = PreKeySignalMessage.deserialize(first.body).message.ratchetKey.serialize();
      for (const [what, u] of LOW_ORDER) {
        const r = await refuseOnBoth(twins, sender, {
          type: 'prekey',
          body: replaceKey(first.body, ratchetKey, key33(u)),
        });
        expect(r.lib, what).toBe('rejected:Generic: invalid PreKey message: decryption failed');
        expect(await libReason(u), what).toBe('invalid key agreement');
        expect(r.ours, what).toBe('rejected:INVALID_MESSAGE (VerificationError) <- INVALID_KEY_AGREEMENT');
      }
      expect(dec.decode(await twins.lib.decrypt(sender.address, first))).toBe('first');
      expect(dec.decode((await twins.cipher(sender.address).decrypt(first)).plaintext)).toBe('first');
    });

    it('a SignalMessage with a low-order ratchet key on an established session: both refuse it for the all-zero agreement', async () => {
      const { twins, sender, first, second } = await setup(provider);
      expect(dec.decode(await twins.lib.decrypt(sender.address, first))).toBe('first');
      expect(dec.decode((await twins.cipher(sender.address).decrypt(first)).plaintext)).toBe('first');
      // The SignalMessage inside the second PreKey message, delivered as a whisper message.
      const inner = PreKeySignalMessage.deserialize(second.body).message;
      const whisper: RawWireMessage = { type: 'whisper', body: inner.serializedView.slice() };
      const ratchetKey = SignalMessage.deserialize(whisper.body).ratchetKey.serialize();
      for (const [what, u] of LOW_ORDER) {
        const r = await refuseOnBoth(twins, sender, {
          type: 'whisper',
          body: replaceKey(whisper.body, ratchetKey, key33(u)),
        });
        expect(r.lib, what).toBe('rejected:Generic: invalid Whisper message: decryption failed');
        expect(await libReason(u), what).toBe('invalid key agreement');
        expect(r.ours, what).toBe('rejected:INVALID_MESSAGE (VerificationError) <- INVALID_KEY_AGREEMENT');
      }
      expect(dec.decode(await twins.lib.decrypt(sender.address, whisper))).toBe('second');
      expect(dec.decode((await twins.cipher(sender.address).decrypt(whisper)).plaintext)).toBe('second');
    });
  },
);
