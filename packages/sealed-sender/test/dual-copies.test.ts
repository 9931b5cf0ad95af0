// Two copies of the packages in one app (the dual-package hazard: the app `import`s them, a
// dependency `require`s them, or a bundle holds two versions): the keys an app made with one copy of
// core go to the other copy's sealed-sender functions. Each copy is a module instance of the same
// sources (vi.resetModules: every module evaluated again), which is what loading the other build gives.
import { afterEach, describe, expect, it, vi } from 'vitest';

type Core = typeof import('@e2ee-kit/core');
type Sealed = typeof import('@e2ee-kit/sealed-sender');
type Testing = typeof import('@e2ee-kit/sealed-sender/testing');

async function load(): Promise<{ core: Core; sealed: Sealed; testing: Testing }> {
  vi.resetModules();
  return {
    core: await import('@e2ee-kit/core'),
    sealed: await import('@e2ee-kit/sealed-sender'),
    testing: await import('@e2ee-kit/sealed-sender/testing'),
  };
}

afterEach(() => void vi.resetModules());

const ALICE = '9d0652a3-dcc3-4d11-975f-74d61598733f';
const BOB = 'e0c8b26d-177d-4f17-ad96-e716c3a5b6dc';
const NOW = 1_800_000_000_000;
const utf8 = (s: string) => new TextEncoder().encode(s);

/** Keys made by copy `a`'s core; certificates and sealing by copy `b`'s sealed-sender. */
async function setup() {
  const a = await load();
  const b = await load();
  const p = a.core.nobleProvider;
  const trustRoot = await a.core.KeyPair.generate(p);
  const server = await a.core.KeyPair.generate(p);
  const alice = await a.core.IdentityKeyPair.generate(p);
  const bob = await a.core.IdentityKeyPair.generate(p);
  const serverCertificate = b.sealed.ServerCertificate.create(1, server.publicKey, trustRoot.privateKey);
  const senderCertificate = b.sealed.SenderCertificate.create({
    senderUuid: ALICE,
    deviceId: 1,
    identityKey: alice.publicKey,
    expires: NOW + 1000,
    signer: serverCertificate,
    signerKey: server.privateKey,
  });
  const content = b.sealed.UnidentifiedSenderMessageContent.create({
    type: 'whisper',
    senderCertificate,
    content: utf8('inner'),
  });
  return { a, b, trustRoot, server, alice, bob, serverCertificate, senderCertificate, content };
}

describe("sealed-sender takes the other copy's keys", () => {
  it('certificates: created with, and checked against, the other copy’s keys', async () => {
    const { a, b, trustRoot, server, serverCertificate, senderCertificate } = await setup();
    // The signatures verify under the signers' keys with copy a's own xeddsaVerify.
    const verify = (key: Parameters<Core['xeddsaVerify']>[0], message: Uint8Array, sig: Uint8Array) =>
      a.core.xeddsaVerify(key, message, sig, a.core.nobleProvider);
    expect(
      await verify(trustRoot.publicKey, serverCertificate.certificateBytes(), serverCertificate.signature()),
    ).toBe(true);
    expect(
      await verify(server.publicKey, senderCertificate.certificateBytes(), senderCertificate.signature()),
    ).toBe(true);
    expect(await serverCertificate.isSignedBy(trustRoot.publicKey)).toBe(true);
    expect(await senderCertificate.validate([trustRoot.publicKey], NOW)).toBe(true);
    expect(senderCertificate.identityKey).toBeInstanceOf(b.core.PublicKey);
    // The caller's keys still work in their own copy: only b's temporaries were wiped.
    expect(trustRoot.privateKey.wiped).toBe(false);
    expect(server.privateKey.wiped).toBe(false);
  });

  for (const v of ['sealV1', 'sealV2'] as const) {
    it(`${v} and openSealedMessage with the other copy's key pairs`, async () => {
      const { b, trustRoot, alice, bob, content } = await setup();
      const sealed = await b.sealed[v](content, alice, bob.publicKey);
      const opened = await b.sealed.openSealedMessage(sealed, bob, {
        trustRoots: trustRoot.publicKey,
        now: NOW,
        local: { serviceId: BOB, deviceId: 1 },
      });
      expect(opened.content.serialize()).toEqual(content.serialize());
      expect(opened.sender.identityKey.equals(alice.publicKey)).toBe(true);
      expect(alice.privateKey.wiped).toBe(false);
      expect(bob.privateKey.wiped).toBe(false);
    });
  }

  it("sealMultiRecipient with the other copy's keys; each recipient unseals with its pair", async () => {
    const { b, alice, bob, content } = await setup();
    const sent = await b.sealed.sealMultiRecipient(content, alice, [
      { serviceId: BOB, identityKey: bob.publicKey, devices: [{ deviceId: 1, registrationId: 1 }] },
    ]);
    const split = b.sealed.SealedSenderMultiRecipientMessage.parse(sent);
    const opened = await b.sealed.unseal(split.messageForRecipient(BOB), bob);
    expect(opened.serialize()).toEqual(content.serialize());
  });

  it('a forged branded key: the refusal bad key bytes get; without the brand a TypeError', async () => {
    const { b, alice, content } = await setup();
    const forged = { [Symbol.for('@e2ee-kit/core/PublicKey@1')]: true, serialize: () => new Uint8Array(5) };
    const e = await b.sealed.sealV1(content, alice, forged as never).catch((err: unknown) => err);
    expect(b.core.E2eeError.is(e, 'DECODE')).toBe(true);
    const plain = await b.sealed.sealV1(content, alice, {} as never).catch((err: unknown) => err);
    expect(plain).toBeInstanceOf(TypeError);
  });
});
