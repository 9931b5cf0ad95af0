// Frozen fixtures of every record format version ever written (test/fixtures/format-v*.json, made once
// by test/fixtures/generate.ts and never regenerated): they load, and the conversations continue.
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createAddress, fromHex, IdentityKeyPair, PublicKey } from '@e2ee-kit/core';
import {
  createPreKeyBundle,
  KyberPreKeyRecord,
  PreKeyBundle,
  PreKeyRecord,
  PreKeyStateRecord,
  SessionCipher,
  SessionRecord,
  SignedPreKeyRecord,
} from '@e2ee-kit/ratchet';
import { InMemoryProtocolStore } from '@e2ee-kit/ratchet/testing';
import { describe, expect, it } from 'vitest';
import type { FixtureFile, PartyDump } from './fixtures/format.js';
import { fromUtf8, roundTrip, utf8 } from './helpers.js';

const dir = join(dirname(fileURLToPath(import.meta.url)), 'fixtures');
const files = readdirSync(dir).filter((f) => /^format-v\d+\.json$/.test(f));

const addressOf = (key: string) => {
  const dot = key.lastIndexOf('.');
  return createAddress(key.slice(0, dot), Number(key.slice(dot + 1)));
};

/** Re-encoding a record of the current format version gives the fixture's bytes back. */
function stable(bytes: Uint8Array, reencoded: Uint8Array): void {
  if (reencoded[1] === bytes[1]) expect(reencoded).toEqual(bytes);
}

async function load(d: PartyDump): Promise<InMemoryProtocolStore> {
  const store = await InMemoryProtocolStore.create({
    identityKeyPair: IdentityKeyPair.deserialize(fromHex(d.identityKeyPair)),
    registrationId: d.registrationId,
  });
  for (const [k, hex] of Object.entries(d.sessions)) {
    const bytes = fromHex(hex);
    const r = SessionRecord.deserialize(bytes);
    stable(bytes, r.serialize());
    await store.saveSession(addressOf(k), r);
  }
  for (const [k, hex] of Object.entries(d.identities))
    await store.saveIdentity(addressOf(k), PublicKey.deserialize(fromHex(hex)));
  for (const [id, hex] of Object.entries(d.preKeys)) {
    const bytes = fromHex(hex);
    const r = PreKeyRecord.deserialize(bytes);
    stable(bytes, r.serialize());
    await store.savePreKey(Number(id), r);
  }
  for (const [id, hex] of Object.entries(d.signedPreKeys)) {
    const bytes = fromHex(hex);
    const r = SignedPreKeyRecord.deserialize(bytes);
    stable(bytes, r.serialize());
    await store.saveSignedPreKey(Number(id), r);
  }
  for (const [id, hex] of Object.entries(d.kyberPreKeys)) {
    const bytes = fromHex(hex);
    const r = KyberPreKeyRecord.deserialize(bytes);
    stable(bytes, r.serialize());
    await store.saveKyberPreKey(Number(id), r);
  }
  if (d.preKeyState) {
    const bytes = fromHex(d.preKeyState);
    const r = PreKeyStateRecord.deserialize(bytes);
    stable(bytes, r.serialize());
    await store.savePreKeyState(r);
  }
  return store;
}

/** Which SPQR a PQXDH session record's current state runs. */
function spqrKind(r: SessionRecord | null): 'braid' | 'lite' | 'none' {
  const s = r?.currentState;
  return s?.braid ? 'braid' : s?.spqr ? 'lite' : 'none';
}

describe.each(files)('frozen fixture %s', (file) => {
  const fixture = JSON.parse(readFileSync(join(dir, file), 'utf8')) as FixtureFile;

  it('lists at least one pair of each protocol', () => {
    expect(fixture.pairs.map((p) => p.kind).sort()).toEqual(['pqxdh', 'x3dh']);
  });

  for (const pair of fixture.pairs) {
    it(`${pair.kind}: records load, in-flight messages decrypt, the conversation continues`, async () => {
      const aliceStore = await load(pair.alice);
      const bobStore = await load(pair.bob);
      const aliceAddr = createAddress(pair.alice.name, pair.alice.deviceId);
      const bobAddr = createAddress(pair.bob.name, pair.bob.deviceId);
      const options = { localAddress: aliceAddr, acceptX3dh: pair.kind === 'x3dh' };
      const a = new SessionCipher(aliceStore, bobAddr, options);
      const b = new SessionCipher(bobStore, aliceAddr, { ...options, localAddress: bobAddr });
      // Format 1 sessions stay on SPQR-lite (no auth key stored to start a braid); format 2 ones run it.
      const expected = pair.kind === 'x3dh' ? 'none' : fixture.format === 'v1' ? 'lite' : 'braid';
      expect(spqrKind(await aliceStore.getSession(bobAddr))).toBe(expected);
      expect(spqrKind(await bobStore.getSession(aliceAddr))).toBe(expected);
      if (expected === 'braid') {
        const braid = (await aliceStore.getSession(bobAddr))?.currentState?.braid;
        expect(braid?.epoch).toBeGreaterThan(2);
      }
      for (const m of pair.inFlightToBob) {
        expect(fromUtf8((await b.decrypt({ type: m.type, body: fromHex(m.body) })).plaintext)).toBe(m.text);
      }
      for (const m of pair.inFlightToAlice) {
        expect(fromUtf8((await a.decrypt({ type: m.type, body: fromHex(m.body) })).plaintext)).toBe(m.text);
      }
      for (let i = 0; i < 3; i++) {
        await roundTrip(a, b, `a${i}`);
        await roundTrip(b, a, `b${i}`);
      }
      if (pair.unusedBundle) {
        // A bundle serialized in this format still starts a session with its stored keys.
        const bundle = PreKeyBundle.deserialize(fromHex(pair.unusedBundle));
        const carol = await InMemoryProtocolStore.create();
        const c = new SessionCipher(carol, bobAddr);
        await c.initiate(bundle);
        const m = await c.encrypt(utf8('late starter'));
        const fromCarol = new SessionCipher(bobStore, createAddress('carol', 1));
        expect(fromUtf8((await fromCarol.decrypt(m)).plaintext)).toBe('late starter');
      }
    });
  }
});

describe('a format-1 session with the same peer', () => {
  const v1 = JSON.parse(readFileSync(join(dir, 'format-v1.json'), 'utf8')) as FixtureFile;
  const pair = v1.pairs.find((p) => p.kind === 'pqxdh') as FixtureFile['pairs'][number];

  it('keeps running SPQR-lite, and the next new session (either side) gets the braid', async () => {
    const aliceStore = await load(pair.alice);
    const bobStore = await load(pair.bob);
    const aliceAddr = createAddress(pair.alice.name, pair.alice.deviceId);
    const bobAddr = createAddress(pair.bob.name, pair.bob.deviceId);
    const a = new SessionCipher(aliceStore, bobAddr, { localAddress: aliceAddr });
    const b = new SessionCipher(bobStore, aliceAddr, { localAddress: bobAddr });
    for (let i = 0; i < 20; i++) await roundTrip(i % 2 ? a : b, i % 2 ? b : a, `legacy ${i}`);
    expect(spqrKind(await aliceStore.getSession(bobAddr))).toBe('lite');
    // Written back in format 2 (still SPQR-lite inside), and readable again.
    const rewritten = (await aliceStore.getSession(bobAddr))?.serialize() as Uint8Array;
    expect(rewritten[1]).toBe(2);
    expect(spqrKind(SessionRecord.deserialize(rewritten))).toBe('lite');
    const late = await a.encrypt(utf8('late on the legacy session'));
    // A new session, here started by Bob from Alice's fresh bundle: the braid on both sides.
    const aliceBundle = await createPreKeyBundle(aliceStore, { deviceId: pair.alice.deviceId });
    await b.initiate(aliceBundle);
    await roundTrip(b, a, 'new session');
    await roundTrip(a, b, 'new session reply');
    expect(spqrKind(await aliceStore.getSession(bobAddr))).toBe('braid');
    expect(spqrKind(await bobStore.getSession(aliceAddr))).toBe('braid');
    // The legacy state is archived in the same record and still reads its late messages.
    expect((await bobStore.getSession(aliceAddr))?.archivedStateCount).toBeGreaterThan(0);
    expect(fromUtf8((await b.decrypt(late)).plaintext)).toBe('late on the legacy session');
    // Like libsignal, the state that decrypted becomes current again; Alice's next message (braid)
    // promotes the new session back.
    expect(spqrKind(await bobStore.getSession(aliceAddr))).toBe('lite');
    await roundTrip(a, b, 'on the new session');
    expect(spqrKind(await bobStore.getSession(aliceAddr))).toBe('braid');
  });
});
