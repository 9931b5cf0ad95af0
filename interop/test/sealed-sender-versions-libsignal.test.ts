// Sealed sender against libsignal-client 0.90.0 and 0.72.1, live, both directions (the 0.103.0 run is
// sealed-sender-libsignal.test.ts), with every byte array our side reads handed over as a pooled Node
// Buffer (what 0.72.1 itself returns), checked unchanged afterwards:
// - certificates: libsignal's SenderCertificate / ServerCertificate load in ours to the same bytes,
//   ours are byte-identical to libsignal's for the same fields and libsignal validates them;
// - libsignal seals (v1, v2 through its multi-recipient encrypt and split, 3 recipients), we split and
//   open, and libsignal's own receiver decrypts the inner bytes we hand back;
// - we seal (v1, v2, multi-recipient), libsignal's full receive path (`sealedSenderDecryptMessage`)
//   opens and decrypts, and its split of our SentMessage equals ours.

import { KeyPair, PrivateKey, PublicKey, platformProvider, toHex } from '@e2ee-kit/core';
import {
  ContentHint,
  openSealedMessage,
  SealedSenderMultiRecipientMessage,
  SenderCertificate,
  ServerCertificate,
  sealMultiRecipient,
  sealV1,
  sealV2,
  UnidentifiedSenderMessageContent,
  unseal,
} from '@e2ee-kit/sealed-sender';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type LibHandle, LibsignalParty, libs, toLib } from '../src/libsignal.js';

const NOW = 1_800_000_000_000;
const EXPIRES = NOW + 86_400_000;
const E164 = '+15550001111';
const hex = (u: Uint8Array) => toHex(new Uint8Array(u));
const utf8 = (s: string) => new TextEncoder().encode(s);
const text = (u: Uint8Array) => new TextDecoder().decode(u);

const handedOut: Array<{ buffer: Buffer; hex: string }> = [];
/** A pooled Buffer copy for our side, remembered to check later that nothing wrote to it. */
function pooled(bytes: Uint8Array): Buffer {
  const buffer = Buffer.from(bytes);
  if (bytes.length < Buffer.poolSize >>> 2 && buffer.buffer.byteLength !== Buffer.poolSize)
    throw new Error('test setup: expected a pooled Buffer');
  handedOut.push({ buffer, hex: buffer.toString('hex') });
  return buffer;
}
afterAll(() => {
  expect(handedOut.length).toBeGreaterThan(20);
  for (const { buffer, hex: h } of handedOut) expect(buffer.toString('hex')).toBe(h);
});

type Mod = LibHandle['mod'];
type LibPublicKey = ReturnType<Mod['PublicKey']['deserialize']>;

async function member(lib: LibHandle, deviceId = 1) {
  const p = LibsignalParty.create(lib, { name: crypto.randomUUID(), deviceId });
  const ours = await KeyPair.fromPrivateKey(
    PrivateKey.deserialize(pooled(p.identityPrivateKey)),
    platformProvider,
  );
  return { p, ours, addr: lib.mod.ProtocolAddress.new(p.address.name, deviceId) };
}
type Member = Awaited<ReturnType<typeof member>>;

describe.each([libs.lib90, libs.lib72].map((l) => [l.version, l] as const))(
  'sealed sender with libsignal-client %s, Buffer inputs on our side',
  (_version, lib) => {
    const m = lib.mod;
    const b = (u: Uint8Array) => toLib(lib, u);
    const libRoot = m.PrivateKey.generate();
    const libServerKey = m.PrivateKey.generate();
    const root = PublicKey.deserialize(pooled(libRoot.getPublicKey().serialize()));
    let alice: Member;
    let bob: Member;
    let group: Member[];
    let libCert: ReturnType<Mod['SenderCertificate']['new']>;

    /** alice → `to` on alice's libsignal session, as libsignal's CiphertextMessage (pre-0.91 arguments). */
    const innerTo = (to: Member, s: string) =>
      (m.signalEncrypt as (...a: unknown[]) => ReturnType<Mod['signalEncrypt']>)(
        b(utf8(s)),
        to.addr,
        alice.p.stores.session,
        alice.p.stores.identity,
      );
    const libOpen = (to: Member, sealed: Uint8Array) => {
      const s = to.p.stores;
      return m.sealedSenderDecryptMessage(
        b(sealed),
        m.PublicKey.deserialize(b(root.serialize())),
        NOW,
        null,
        to.p.address.name,
        to.p.address.deviceId,
        s.session,
        s.identity,
        s.preKey,
        s.signedPreKey,
        s.kyberPreKey,
      );
    };
    /** Our certificate for alice: under our own server certificate, or libsignal's `signer`. */
    const ourCert = (signer?: ServerCertificate) =>
      SenderCertificate.create({
        senderUuid: alice.p.address.name,
        senderE164: E164,
        deviceId: 1,
        identityKey: alice.ours.publicKey,
        expires: EXPIRES,
        signer:
          signer ??
          ServerCertificate.create(
            7,
            PublicKey.deserialize(pooled(libServerKey.getPublicKey().serialize())),
            PrivateKey.deserialize(pooled(libRoot.serialize())),
          ),
        signerKey: PrivateKey.deserialize(pooled(libServerKey.serialize())),
      });
    const recipientsOf = (ms: readonly Member[]) =>
      ms.map((r) => ({
        serviceId: r.p.address.name,
        identityKey: r.ours.publicKey,
        devices: [{ deviceId: r.p.address.deviceId, registrationId: r.p.registrationId }],
      }));

    beforeAll(async () => {
      alice = await member(lib);
      bob = await member(lib, 2);
      group = [await member(lib), await member(lib), await member(lib)];
      for (const to of [bob, ...group]) await alice.p.processBundle(to.p.address, await to.p.createBundle());
      const serverCert = m.ServerCertificate.new(7, libServerKey.getPublicKey(), libRoot);
      libCert = m.SenderCertificate.new(
        alice.p.address.name,
        E164,
        1,
        m.PublicKey.deserialize(b(alice.p.identityKey)) as LibPublicKey,
        EXPIRES,
        serverCert,
        libServerKey,
      );
    });

    it('certificates: the signed bytes are identical, each side loads and validates the other’s', async () => {
      // Signatures are randomized (XEdDSA): the signed inner bytes are what must match.
      const libServer = libCert.serverCertificate();
      const ours = ourCert();
      expect(hex(ours.signer!.certificateBytes())).toBe(hex(libServer.certificateData()));
      const underTheirs = ourCert(ServerCertificate.deserialize(pooled(libServer.serialize())));
      expect(hex(underTheirs.certificateBytes())).toBe(hex(libCert.certificate()));
      const loaded = SenderCertificate.deserialize(pooled(libCert.serialize()));
      expect(hex(loaded.serialize())).toBe(hex(libCert.serialize()));
      expect(loaded).toMatchObject({ senderUuid: alice.p.address.name, senderE164: E164, deviceId: 1 });
      expect(await loaded.validate(root, NOW)).toBe(true);
      expect(await loaded.validate(root, EXPIRES + 1)).toBe(false);
      const theirs = m.SenderCertificate.deserialize(b(ours.serialize()));
      expect(hex(theirs.serialize())).toBe(hex(ours.serialize()));
      const libRootPub = m.PublicKey.deserialize(b(root.serialize()));
      expect(theirs.validate(libRootPub, NOW)).toBe(true);
      expect(theirs.validate(libRootPub, EXPIRES + 1)).toBe(false);
      const server = ServerCertificate.deserialize(pooled(libCert.serverCertificate().serialize()));
      expect(hex(server.serialize())).toBe(hex(libCert.serverCertificate().serialize()));
    });

    it('libsignal seals v1 and v2: we open them from Buffers, libsignal decrypts the inner bytes', async () => {
      for (const version of ['v1', 'v2'] as const) {
        const inner = await innerTo(bob, `${version} from ${lib.label}`);
        const usmc = m.UnidentifiedSenderMessageContent.new(
          inner,
          libCert,
          ContentHint.Resendable,
          b(utf8('g')),
        );
        const sealed =
          version === 'v1'
            ? await m.sealedSenderEncrypt(usmc, bob.addr, alice.p.stores.identity)
            : m.sealedSenderMultiRecipientMessageForSingleRecipient(
                await m.sealedSenderMultiRecipientEncrypt({
                  content: usmc,
                  recipients: [bob.addr],
                  identityStore: alice.p.stores.identity,
                  sessionStore: alice.p.stores.session,
                }),
              );
        expect(sealed[0]).toBe(version === 'v1' ? 0x11 : 0x22);
        const content = await unseal(pooled(sealed), bob.ours);
        expect(hex(content.serialize())).toBe(hex(usmc.serialize()));
        expect(content.ciphertextMessageType).toBe(inner.type());
        const opened = await openSealedMessage(pooled(sealed), bob.ours, {
          trustRoots: root,
          now: NOW,
          local: { serviceId: bob.p.address.name, deviceId: bob.p.address.deviceId },
        });
        expect(opened.sender).toMatchObject({ serviceId: alice.p.address.name, deviceId: 1, e164: E164 });
        const type = content.type === 'prekey' ? 'prekey' : 'whisper';
        const got = await bob.p.decrypt(alice.p.address, { type, body: content.content() });
        expect(text(got)).toBe(`${version} from ${lib.label}`);
      }
    });

    it('libsignal’s SentMessage for 3 recipients: our split equals libsignal’s, each opens', async () => {
      const inners = await Promise.all(group.map((r) => innerTo(r, 'one SentMessage')));
      // One content for all: the inner bytes only matter to the first recipient here.
      const usmc = m.UnidentifiedSenderMessageContent.new(inners[0]!, libCert, ContentHint.Default, null);
      const sent = await m.sealedSenderMultiRecipientEncrypt({
        content: usmc,
        recipients: group.map((r) => r.addr),
        identityStore: alice.p.stores.identity,
        sessionStore: alice.p.stores.session,
      });
      const ours = SealedSenderMultiRecipientMessage.parse(pooled(sent));
      expect(ours.recipients().size).toBe(3);
      for (const r of group) {
        const received = ours.messageForRecipient(r.p.address.name);
        const content = await unseal(pooled(received), r.ours);
        expect(hex(content.serialize())).toBe(hex(usmc.serialize()));
      }
      const first = await unseal(pooled(ours.messageForRecipient(group[0]!.p.address.name)), group[0]!.ours);
      const got = await group[0]!.p.decrypt(alice.p.address, { type: 'prekey', body: first.content() });
      expect(text(got)).toBe('one SentMessage');
    });

    it('we seal v1, v2 and a SentMessage from Buffers: libsignal’s full receive path opens each', async () => {
      for (const version of ['v1', 'v2'] as const) {
        const inner = await innerTo(bob, `our ${version} to ${lib.label}`);
        const content = UnidentifiedSenderMessageContent.create({
          type: inner.type() === 3 ? 'prekey' : 'whisper',
          senderCertificate: SenderCertificate.deserialize(pooled(ourCert().serialize())),
          content: pooled(inner.serialize()),
          contentHint: ContentHint.Resendable,
          groupId: pooled(utf8('g')),
        });
        const seal = version === 'v1' ? sealV1 : sealV2;
        const sealed = await seal(content, alice.ours, PublicKey.deserialize(pooled(bob.p.identityKey)));
        const usmc = await m.sealedSenderDecryptToUsmc(b(sealed), bob.p.stores.identity);
        expect(hex(usmc.serialize())).toBe(hex(content.serialize()));
        const result = await libOpen(bob, sealed);
        expect(text(result.message())).toBe(`our ${version} to ${lib.label}`);
        expect(result.senderUuid()).toBe(alice.p.address.name);
        expect(result.senderE164()).toBe(E164);
      }
      const inner = await innerTo(group[1]!, `our SentMessage to ${lib.label}`);
      const content = UnidentifiedSenderMessageContent.create({
        type: 'prekey',
        senderCertificate: ourCert(),
        content: pooled(inner.serialize()),
      });
      const sent = await sealMultiRecipient(content, alice.ours, recipientsOf(group));
      const split = SealedSenderMultiRecipientMessage.parse(sent);
      const LibSent = (
        await import(
          `${lib === libs.lib72 ? 'libsignal-client-0.72' : 'libsignal-client-0.90'}/dist/SealedSenderMultiRecipientMessage.js`
        )
      ).default as new (
        u: Uint8Array,
      ) => {
        recipientsByServiceIdString(): Record<string, unknown>;
        messageForRecipient(r: unknown): Uint8Array;
      };
      const theirs = new LibSent(b(sent));
      for (const r of group) {
        const mine = theirs.recipientsByServiceIdString()[r.p.address.name];
        expect(hex(theirs.messageForRecipient(mine))).toBe(hex(split.messageForRecipient(r.p.address.name)));
      }
      const result = await libOpen(group[1]!, split.messageForRecipient(group[1]!.p.address.name));
      expect(text(result.message())).toBe(`our SentMessage to ${lib.label}`);
    });
  },
);
