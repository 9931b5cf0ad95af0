// Issue 11.1: ratchet's byte-taking entries — bundle parts, PreKeyBundle.deserialize, encrypt,
// decrypt, every record and wire deserializer — on every provider with offset views and pooled Node
// Buffers (what `ws`, `fs`, `net` and database drivers hand out). The caller's bytes and the bytes
// around them stay untouched, nothing we return changes when the caller reuses its buffer, and the
// session keeps working (a pooled PreKey body once gave INVALID_KEY_AGREEMENT on the default provider).
import {
  generateKyberPreKey,
  generatePreKeys,
  KyberPreKeyRecord,
  PreKeyBundle,
  type PreKeyBundleParts,
  PreKeyRecord,
  PreKeySignalMessage,
  PreKeyStateRecord,
  SessionRecord,
  SignalMessage,
  SignedPreKeyRecord,
} from '@e2ee-kit/ratchet';
import { createTestParty } from '@e2ee-kit/ratchet/testing';
import { describe, expect, it } from 'vitest';
import { checkCallerBytes, foreignShapes, hexOf } from '../../../tools/caller-bytes.js';
import { providersWithoutAeadUse } from '../../../tools/providers.js';

const text = (s: string) => new TextEncoder().encode(s);
const partKeys = [
  'preKey',
  'signedPreKey',
  'signedPreKeySignature',
  'identityKey',
  'kyberPreKey',
  'kyberPreKeySignature',
] as const;

describe.each(providersWithoutAeadUse)('provider $label', ({ provider }) => {
  it.each(foreignShapes)('a whole conversation fed from $name inputs', async ({ make }) => {
    const alice = await createTestParty('alice', 1, { provider });
    const bob = await createTestParty('bob', 1, { provider });
    const ab = alice.cipher(bob);
    const ba = bob.cipher(alice);

    // Bundle parts as the caller's Buffers: the bundle keeps copies.
    const bundle = await bob.bundle();
    const parts = bundle.toParts();
    const byteParts = partKeys.map((k) => parts[k] as Uint8Array);
    const fromParts = await checkCallerBytes(
      make,
      byteParts,
      (...inputs) => {
        const p: PreKeyBundleParts = { ...parts };
        for (const [i, k] of partKeys.entries()) (p as unknown as Record<string, Uint8Array>)[k] = inputs[i]!;
        return PreKeyBundle.from(p);
      },
      (b) => hexOf(b.serialize()),
      hexOf(bundle.serialize()),
    );
    await checkCallerBytes(
      make,
      [bundle.serialize()],
      (b) => PreKeyBundle.deserialize(b),
      (b) => hexOf(b.serialize()),
      hexOf(bundle.serialize()),
    );
    await ab.initiate(fromParts);

    // Both directions, several DH steps; each plaintext and each body is a caller's Buffer.
    let from = ab;
    let to = ba;
    for (let i = 0; i < 6; i++) {
      const plaintext = text(`message ${i} from ${from === ab ? 'alice' : 'bob'}`);
      const sent = await checkCallerBytes(
        make,
        [plaintext],
        (p) => from.encrypt(p),
        (m) => hexOf(m.body),
      );
      const received = await checkCallerBytes(
        make,
        [sent.body],
        (body) => to.decrypt({ type: sent.type, body }),
        (d) => hexOf(d.plaintext),
        hexOf(plaintext),
      );
      expect(received.plaintext).toEqual(plaintext);
      [from, to] = [to, from];
    }

    // Records and wire messages decoded from the caller's bytes keep copies.
    const record = (await alice.store.getSession(bob.address))!;
    const recordBytes = record.serialize();
    await checkCallerBytes(
      make,
      [recordBytes],
      (b) => SessionRecord.deserialize(b),
      (r) => hexOf(r.serialize()),
      hexOf(recordBytes),
    );
    // The bundle's one-time keys were consumed by the first decrypt: fresh ones for the record codecs.
    const identity = await bob.store.getIdentityKeyPair();
    const [preKey] = await generatePreKeys(900, 1, { provider });
    const kyber = await generateKyberPreKey(identity, 901, { provider });
    const signed = (await bob.store.getSignedPreKey(bundle.signedPreKey.id))!;
    const records: Array<[string, Uint8Array, (b: Uint8Array) => { serialize(): Uint8Array }]> = [
      ['SignedPreKeyRecord', signed.serialize(), (b) => SignedPreKeyRecord.deserialize(b)],
      ['PreKeyRecord', preKey!.serialize(), (b) => PreKeyRecord.deserialize(b)],
      ['KyberPreKeyRecord', kyber.serialize(), (b) => KyberPreKeyRecord.deserialize(b)],
    ];
    const state = await bob.store.getPreKeyState();
    if (state)
      records.push(['PreKeyStateRecord', state.serialize(), (b) => PreKeyStateRecord.deserialize(b)]);
    for (const [name, bytes, decode] of records) {
      await checkCallerBytes(make, [bytes], decode, (r) => hexOf(r.serialize()), hexOf(bytes)).catch(
        (e: Error) => {
          throw new Error(`${name}: ${e.message}`);
        },
      );
    }
    const first = await ab.encrypt(text('x'));
    const wireDecode = (b: Uint8Array): { serialize(): Uint8Array } =>
      first.type === 'prekey' ? PreKeySignalMessage.deserialize(b) : SignalMessage.deserialize(b);
    await checkCallerBytes(make, [first.body], wireDecode, (m) => hexOf(m.serialize()), hexOf(first.body));
  });

  it.each(foreignShapes)(
    'a PreKey message from a $name is accepted first time (no all-zero secret)',
    async ({ make }) => {
      const alice = await createTestParty('alice', 1, { provider });
      const bob = await createTestParty('bob', 1, { provider });
      const bundleBytes = (await bob.bundle()).serialize();
      const bundle = await checkCallerBytes(
        make,
        [bundleBytes],
        (b) => PreKeyBundle.deserialize(b),
        (b) => hexOf(b.serialize()),
      );
      await alice.cipher(bob).initiate(bundle);
      const m = await alice.cipher(bob).encrypt(text('hello'));
      const got = await checkCallerBytes(
        make,
        [m.body],
        (body) => bob.cipher(alice).decrypt({ type: m.type, body }),
        (d) => hexOf(d.plaintext),
        hexOf(text('hello')),
      );
      expect(got.plaintext).toEqual(text('hello'));
      // The conversation continues (later messages once failed INVALID_MESSAGE).
      const back = await bob.cipher(alice).encrypt(text('hi'));
      expect(
        (await alice.cipher(bob).decrypt({ type: back.type, body: Buffer.from(back.body) })).plaintext,
      ).toEqual(text('hi'));
    },
  );
});
