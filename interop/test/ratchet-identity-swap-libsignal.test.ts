// A PreKey message repeated with its identity key swapped: the same PreKeySignalMessage bytes but a
// different (valid) identity key in field 3, re-serialized. The same bytes go to libsignal-client
// 0.103.0 and to our SessionCipher holding the same keys (twins), under matching trust policies, and
// both decisions are pinned; every refusal must leave both stores byte-identical, and the genuine
// copy must decrypt afterwards on both.
import { IdentityKeyPair, PublicKey } from '@e2ee-kit/core';
import { nodeProvider } from '@e2ee-kit/core/node';
import { PreKeySignalMessage } from '@e2ee-kit/ratchet';
import { describe, expect, it } from 'vitest';
import { LibsignalParty, libs, type RawWireMessage } from '../src/libsignal.js';
import { createTwins, libDecision, ourDecision, type TwinTrust } from './ratchet-twins.js';

const enc = new TextEncoder();
const provider = nodeProvider;

async function withIdentity(m: RawWireMessage): Promise<RawWireMessage> {
  const msg = PreKeySignalMessage.deserialize(m.body);
  const other = (await IdentityKeyPair.generate(provider)).publicKey;
  expect(other.equals(msg.identityKey)).toBe(false);
  const body = PreKeySignalMessage.create({ ...msg, identityKey: other }).serializedView;
  // Only the identity key differs: same length, same bytes outside its 32-byte u.
  expect(body.length).toBe(m.body.length);
  return { type: 'prekey', body };
}

describe.each([
  ['changed identity trusted (ours tofu, libsignal trusts all)', 'changed-trusted'],
  ['changed identity refused (ours blockOnChange, libsignal trusts the first key)', 'changed-refused'],
] as const)('%s', (_what, trust: TwinTrust) => {
  it('libsignal-client 0.103.0 and ours on the same swapped PreKey messages', async () => {
    const twins = await createTwins(libs.lib103, provider, { name: crypto.randomUUID(), deviceId: 1, trust });
    const sender = LibsignalParty.create(libs.lib103, { name: crypto.randomUUID() });
    const from = sender.address;
    await sender.processBundle(twins.address, twins.bundle);
    const first = await sender.encrypt(twins.address, enc.encode('first'));
    const second = await sender.encrypt(twins.address, enc.encode('second'));
    expect(second.type).toBe('prekey'); // no reply yet: same base key, same identity key
    const decisions: Record<string, { lib: string; ours: string }> = {};

    const refuse = async (label: string, m: RawWireMessage) => {
      const libBefore = twins.libSnapshot(from);
      const ourBefore = twins.ourSnapshot();
      const d = { lib: await libDecision(twins, from, m), ours: await ourDecision(twins, from, m) };
      decisions[label] = d;
      expect(twins.libSnapshot(from), `${label}: libsignal's store`).toBe(libBefore);
      expect(twins.ourSnapshot(), `${label}: our store`).toBe(ourBefore);
      return d;
    };

    // 1. First contact with the swapped copy: the handshake and the MAC use the presented key.
    const firstContact = await refuse('first contact', await withIdentity(first));
    expect(firstContact.lib).toMatch(/^rejected:/);
    expect(firstContact.ours).toMatch(/^rejected:INVALID_MESSAGE /);
    expect(await libDecision(twins, from, first)).toBe('accepted');
    expect(await ourDecision(twins, from, first)).toBe('accepted');

    // 2. Repeated: a session with this base key exists, the swapped copy of the next message arrives.
    const repeated = await refuse('repeated', await withIdentity(second));
    // 3. The swapped copy of the message already decrypted.
    const replayed = await refuse('replayed', await withIdentity(first));
    console.log(`[interop] identity swap, ${trust}:`, JSON.stringify(decisions, null, 1));

    for (const d of [repeated, replayed]) {
      if (trust === 'changed-refused') {
        // The store refuses the changed key before anything else, on both sides.
        expect(d.lib).toMatch(/^rejected:UntrustedIdentity:/);
        expect(d.ours).toBe('rejected:UNTRUSTED_IDENTITY (UntrustedIdentityError)');
      } else {
        // Same decision; libsignal names it an invalid message, ours has its own code for it.
        expect(d.lib).toBe(
          'rejected:Generic: invalid PreKey message: remote identity key not consistent with previously-established session',
        );
        expect(d.ours).toBe('rejected:IDENTITY_MISMATCH (E2eeError)');
      }
    }
    // The genuine copy still decrypts on both.
    expect(await libDecision(twins, from, second)).toBe('accepted');
    expect(await ourDecision(twins, from, second)).toBe('accepted');
    expect(twins.lib.stores.identity.identityBytes(from)).toEqual(sender.identityKey);
    expect((await twins.ours.getIdentity(from))?.equals(PublicKey.deserialize(sender.identityKey))).toBe(
      true,
    );
  });
});
