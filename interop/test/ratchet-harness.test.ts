// The libsignal-client harness on its own (no e2ee-kit code): sessions between two parties of each
// build, the known cross-version matrix (spec §5.2), and the store calls libsignal makes. If these
// fail, the interop tests against our ratchet would be meaningless.
import { describe, expect, it } from 'vitest';
import {
  allLibs,
  isLibsignalDuplicate,
  type LibHandle,
  LibsignalParty,
  libs,
  type RawWireMessage,
} from '../src/libsignal.js';

const enc = new TextEncoder();
const dec = new TextDecoder();

async function pingPong(
  a: LibsignalParty,
  b: LibsignalParty,
  rounds: number,
): Promise<{ first: RawWireMessage; lastToB: RawWireMessage }> {
  let first: RawWireMessage | undefined;
  let lastToB: RawWireMessage | undefined;
  for (let i = 0; i < rounds; i++) {
    const m1 = await a.encrypt(b.address, enc.encode(`a→b ${i}`));
    first ??= m1;
    lastToB = m1;
    expect(dec.decode(await b.decrypt(a.address, m1))).toBe(`a→b ${i}`);
    const m2 = await b.encrypt(a.address, enc.encode(`b→a ${i}`));
    expect(m2.type).toBe('whisper');
    expect(dec.decode(await a.decrypt(b.address, m2))).toBe(`b→a ${i}`);
  }
  return { first: first!, lastToB: lastToB! };
}

describe.each(allLibs.map((lib) => [lib.label, lib] as const))(
  'harness %s ↔ itself',
  (_label, lib: LibHandle) => {
    it('PQXDH session, ping-pong, out-of-order and duplicate rejection', async () => {
      const alice = LibsignalParty.create(lib, { name: 'alice' });
      const bob = LibsignalParty.create(lib, { name: 'bob' });
      const bundle = await bob.createBundle();
      expect(bundle.kyberPreKey?.publicKey[0]).toBe(0x08);
      expect(bundle.kyberPreKey?.publicKey.length).toBe(1569);
      expect(bundle.identityKey.length).toBe(33);
      await alice.processBundle(bob.address, bundle);
      const { first } = await pingPong(alice, bob, 5);
      expect(first.type).toBe('prekey');
      expect(first.body[0]).toBe(0x44);

      // one-time prekey consumed, Kyber prekey marked with the build's argument list
      expect(bob.stores.preKey.size).toBe(0);
      const mark = bob.stores.events.find((e) => e.op === 'markKyberPreKeyUsed');
      expect(mark?.args.length).toBe(lib.features.markKyberThreeArgs ? 3 : 1);

      // out of order within one chain
      const msgs: RawWireMessage[] = [];
      for (let i = 0; i < 4; i++) msgs.push(await alice.encrypt(bob.address, enc.encode(`ooo ${i}`)));
      for (const i of [3, 1, 0, 2])
        expect(dec.decode(await bob.decrypt(alice.address, msgs[i]!))).toBe(`ooo ${i}`);

      // duplicate: DuplicatedMessage and an unchanged record
      const before = bob.sessionBytes(alice.address);
      const err = await bob.decrypt(alice.address, msgs[2]!).catch((e: unknown) => e);
      expect(isLibsignalDuplicate(lib, err)).toBe(true);
      expect(bob.sessionBytes(alice.address)).toEqual(before);
    });

    it('ServiceId names (addresses field on 0.91+) and a replaced session', async () => {
      const alice = LibsignalParty.create(lib, { name: '5b1c5e2a-3c8e-4a50-9a7a-0f8a1b2c3d4e', deviceId: 2 });
      const bob = LibsignalParty.create(lib, { name: 'a0e6b0b4-1f0c-4d6e-8f1e-6c3b9d0e7f12', deviceId: 3 });
      await alice.processBundle(bob.address, await bob.createBundle());
      await pingPong(alice, bob, 2);
      // Bob starts over with a fresh bundle from Alice: Alice's session gets replaced.
      await bob.processBundle(alice.address, await alice.createBundle({ newSignedPreKey: true }));
      const m = await bob.encrypt(alice.address, enc.encode('fresh'));
      expect(m.type).toBe('prekey');
      expect(dec.decode(await alice.decrypt(bob.address, m))).toBe('fresh');
      await pingPong(bob, alice, 2);
    });

    it('a bundle without a Kyber prekey: legacy X3DH (version 3) up to 0.72, refused since 0.75', async () => {
      const alice = LibsignalParty.create(lib);
      const bob = LibsignalParty.create(lib);
      const bundle = await bob.createBundle({ kyber: false });
      if (lib.features.kyberRequired) {
        await expect(alice.processBundle(bob.address, bundle)).rejects.toThrow();
        return;
      }
      await alice.processBundle(bob.address, bundle);
      const { first } = await pingPong(alice, bob, 3);
      expect(first.body[0]).toBe(0x34);
    });
  },
);

describe('harness cross-version matrix (spec §5.2)', () => {
  const ok: Array<[LibHandle, LibHandle]> = [
    [libs.lib90, libs.lib103],
    [libs.lib103, libs.lib90],
    [libs.lib72, libs.lib90],
    [libs.lib90, libs.lib72],
  ];
  it.each(ok.map(([a, b]) => [a.label, b.label, a, b] as const))('%s → %s talks', async (_a, _b, la, lb) => {
    const alice = LibsignalParty.create(la);
    const bob = LibsignalParty.create(lb);
    await alice.processBundle(bob.address, await bob.createBundle());
    await pingPong(alice, bob, 4);
  });

  const fail: Array<[LibHandle, LibHandle]> = [
    [libs.lib72, libs.lib103],
    [libs.lib103, libs.lib72],
  ];
  it.each(fail.map(([a, b]) => [a.label, b.label, a, b] as const))(
    '%s → %s fails on the first PreKey message (SPQR required on one side only)',
    async (_a, _b, la, lb) => {
      const alice = LibsignalParty.create(la);
      const bob = LibsignalParty.create(lb);
      await alice.processBundle(bob.address, await bob.createBundle());
      const m = await alice.encrypt(bob.address, enc.encode('x'));
      await expect(bob.decrypt(alice.address, m)).rejects.toThrow();
    },
  );
});
