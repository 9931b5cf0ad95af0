// Two copies of the package in one app (see dual-copies.test.ts): here the objects that cross are
// this package's own, a `ServerCertificate`, `SenderCertificate` or `UnidentifiedSenderMessageContent`
// made by one copy, handed to the other copy's `create` and sealing calls. They are read through their
// serialized form; a branded object that is not one is refused as bad bytes are.
import { afterEach, describe, expect, it, vi } from 'vitest';

type Core = typeof import('@e2ee-kit/core');
type Sealed = typeof import('@e2ee-kit/sealed-sender');

async function load(): Promise<{ core: Core; sealed: Sealed }> {
  vi.resetModules();
  return { core: await import('@e2ee-kit/core'), sealed: await import('@e2ee-kit/sealed-sender') };
}

afterEach(() => void vi.resetModules());

const ALICE = '9d0652a3-dcc3-4d11-975f-74d61598733f';
const BOB = 'e0c8b26d-177d-4f17-ad96-e716c3a5b6dc';
const NOW = 1_800_000_000_000;
const SECRET = 'c0ffee'.repeat(10);
const utf8 = (s: string) => new TextEncoder().encode(s);

async function caught(f: () => unknown): Promise<unknown> {
  try {
    await f();
  } catch (e) {
    return e;
  }
  throw new Error('expected a refusal');
}

/** Keys and every object made by copy `a`; copy `b` is the one whose entry points are called. */
async function setup() {
  const a = await load();
  const b = await load();
  const p = a.core.nobleProvider;
  const trustRoot = await a.core.KeyPair.generate(p);
  const server = await a.core.KeyPair.generate(p);
  const alice = await a.core.IdentityKeyPair.generate(p);
  const bob = await a.core.IdentityKeyPair.generate(p);
  const serverCertificate = a.sealed.ServerCertificate.create(1, server.publicKey, trustRoot.privateKey);
  const senderCertificate = a.sealed.SenderCertificate.create({
    senderUuid: ALICE,
    deviceId: 1,
    identityKey: alice.publicKey,
    expires: NOW + 1000,
    signer: serverCertificate,
    signerKey: server.privateKey,
  });
  const content = a.sealed.UnidentifiedSenderMessageContent.create({
    type: 'whisper',
    senderCertificate,
    content: utf8('inner'),
    groupId: utf8('group'),
  });
  return { a, b, trustRoot, server, alice, bob, serverCertificate, senderCertificate, content };
}

describe("sealed-sender takes the other copy's certificates and contents", () => {
  for (const v of ['sealV1', 'sealV2'] as const)
    it(`${v} seals the other copy's content; it opens to the same bytes`, async () => {
      const { b, trustRoot, alice, bob, content } = await setup();
      expect(content).not.toBeInstanceOf(b.sealed.UnidentifiedSenderMessageContent);
      const sealed = await b.sealed[v](content, alice, bob.publicKey);
      const opened = await b.sealed.openSealedMessage(sealed, bob, {
        trustRoots: trustRoot.publicKey,
        now: NOW,
        local: { serviceId: BOB, deviceId: 1 },
      });
      expect(opened.content.serialize()).toEqual(content.serialize());
    });

  it("sealMultiRecipient seals the other copy's content", async () => {
    const { b, alice, bob, content } = await setup();
    const sent = await b.sealed.sealMultiRecipient(content, alice, [
      { serviceId: BOB, identityKey: bob.publicKey, devices: [{ deviceId: 1, registrationId: 1 }] },
    ]);
    const split = b.sealed.SealedSenderMultiRecipientMessage.parse(sent);
    expect((await b.sealed.unseal(split.messageForRecipient(BOB), bob)).serialize()).toEqual(
      content.serialize(),
    );
  });

  it("UnidentifiedSenderMessageContent.create takes the other copy's SenderCertificate", async () => {
    const { a, b, senderCertificate } = await setup();
    const fields = { type: 'senderkey', content: utf8('m'), contentHint: 1 } as const;
    const made = b.sealed.UnidentifiedSenderMessageContent.create({ ...fields, senderCertificate });
    // The expected bytes: copy a's own content over the same certificate.
    const expected = a.sealed.UnidentifiedSenderMessageContent.create({ ...fields, senderCertificate });
    expect(made.serialize()).toEqual(expected.serialize());
    expect(made.senderCertificate).toBeInstanceOf(b.sealed.SenderCertificate);
  });

  it("SenderCertificate.create takes the other copy's ServerCertificate as signer", async () => {
    const { b, trustRoot, server, alice, serverCertificate } = await setup();
    const made = b.sealed.SenderCertificate.create({
      senderUuid: ALICE,
      deviceId: 2,
      identityKey: alice.publicKey,
      expires: NOW + 1000,
      signer: serverCertificate,
      signerKey: server.privateKey,
    });
    expect(made.signer?.serialize()).toEqual(serverCertificate.serialize());
    expect(await made.validate([trustRoot.publicKey], NOW)).toBe(true);
  });

  it('a branded object that is not one: the DecodeError bad bytes get, nothing of it printed', async () => {
    const { b, alice, bob, server, content } = await setup();
    const garbage = Uint8Array.of(0x0a, 0x05, 1, 2);
    const cases: [string, () => unknown][] = [
      [
        'throws',
        () => {
          throw new Error(`secret ${SECRET}`);
        },
      ],
      ['not bytes', () => SECRET],
      ['too long', () => new Uint8Array(4 * 1024 * 1024 + 1)],
      ['not the format', () => garbage.slice()],
      ['a proxy', () => new Proxy(new Uint8Array(8), {})],
    ];
    const forged = (name: string, serialize: () => unknown) =>
      ({ [Symbol.for(`@e2ee-kit/sealed-sender/${name}@1`)]: true, serialize }) as never;
    const uses: [string, (x: never) => unknown, (bytes: Uint8Array) => unknown][] = [
      [
        'UnidentifiedSenderMessageContent',
        (x) => b.sealed.sealV1(x, alice, bob.publicKey),
        (bytes) => b.sealed.UnidentifiedSenderMessageContent.deserialize(bytes),
      ],
      [
        'UnidentifiedSenderMessageContent',
        (x) =>
          b.sealed.sealMultiRecipient(x, alice, [
            { serviceId: BOB, identityKey: bob.publicKey, devices: [{ deviceId: 1, registrationId: 1 }] },
          ]),
        (bytes) => b.sealed.UnidentifiedSenderMessageContent.deserialize(bytes),
      ],
      [
        'SenderCertificate',
        (x) =>
          b.sealed.UnidentifiedSenderMessageContent.create({
            type: 'whisper',
            senderCertificate: x,
            content: utf8('m'),
          }),
        (bytes) => b.sealed.SenderCertificate.deserialize(bytes),
      ],
      [
        'ServerCertificate',
        (x) =>
          b.sealed.SenderCertificate.create({
            senderUuid: ALICE,
            deviceId: 1,
            identityKey: alice.publicKey,
            expires: NOW,
            signer: x,
            signerKey: server.privateKey,
          }),
        (bytes) => b.sealed.ServerCertificate.deserialize(bytes),
      ],
    ];
    for (const [name, use, deserialize] of uses) {
      const bad = (await caught(() => deserialize(garbage))) as { code: string };
      for (const [label, serialize] of cases) {
        const e = await caught(() => use(forged(name, serialize)));
        expect(b.core.E2eeError.is(e, 'DECODE'), `${name} ${label}`).toBe(true);
        expect((e as { code: string }).code).toBe(bad.code);
        expect(String(e)).not.toContain(SECRET);
      }
      // Without the brand: the TypeError as before.
      expect(await caught(() => use({ serialize: () => content.serialize() } as never))).toBeInstanceOf(
        TypeError,
      );
    }
  });
});
