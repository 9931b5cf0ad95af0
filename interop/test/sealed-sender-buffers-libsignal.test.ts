// Sealed sender against libsignal-client 0.103.0 with every byte array our side reads handed over as a
// pooled Node Buffer (allocated between guard Buffers of the shared pool) or as a view at an odd offset
// into a larger ArrayBuffer, on every provider (the 0.90.0 / 0.72.1 Buffer runs are
// sealed-sender-versions-libsignal.test.ts). After each test the caller's arrays and the bytes around
// them are checked unchanged; then they are overwritten, and what we built from them must not change.
// - certificates: libsignal's server and sender certificates load in ours from those bytes to the same
//   bytes and validate; ours, built from such keys, are libsignal's bytes and libsignal validates them;
// - libsignal seals v1 and v2, we open, libsignal's receiver decrypts the inner bytes we hand back;
// - we seal v1 and v2, libsignal's full receive path (`sealedSenderDecryptMessage`) opens and decrypts;
// - multi-recipient: libsignal's SentMessage is parsed, split and opened by us; ours for one recipient
//   goes through `sealedSenderMultiRecipientMessageForSingleRecipient` and libsignal's receive path, and
//   ours for three is split by libsignal and opened by each recipient.
import { KeyPair, PrivateKey, PublicKey } from '@e2ee-kit/core';
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
import LibMultiRecipientMessage from '@signalapp/libsignal-client/dist/SealedSenderMultiRecipientMessage.js';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { type CallerBytes, foreignShapes } from '../../tools/caller-bytes.js';
import { allProviders } from '../../tools/providers.js';
import { lib103 as L } from '../src/libsignal.js';
import {
  ab,
  createWorld,
  EXPIRES,
  hex,
  LibSenderKeyStore,
  libDecryptInner,
  libEncrypt,
  libGroupMessage,
  libOpen,
  NOW,
  type Party,
  server,
  type World,
} from './sealed-sender-parties.js';

const E164 = '+15550001111';
const utf8 = (s: string) => new TextEncoder().encode(s);
const text = (u: Uint8Array) => new TextDecoder().decode(u);

let w: World;
beforeAll(async () => {
  w = await createWorld(3);
}, 60_000);

describe.each(
  foreignShapes.flatMap((s) => allProviders.map((p) => [s.name, p.label, s.make, p.provider] as const)),
)('sealed sender with libsignal-client 0.103.0: our inputs as %s (%s)', (_shape, _label, make, provider) => {
  let given: CallerBytes[] = [];
  /** Caller-shaped bytes for our side, remembered for the checks after the test. */
  const give = (bytes: Uint8Array): Uint8Array => {
    const c = make(bytes);
    given.push(c);
    return c.input;
  };
  /** Re-checks run after the caller's arrays were overwritten. */
  let after: Array<() => void | Promise<void>> = [];
  afterEach(async () => {
    expect(given.length).toBeGreaterThan(3);
    for (const c of given) c.assertUntouched();
    for (const c of given) c.scribble();
    for (const f of after) await f();
    given = [];
    after = [];
  });
  const ourKeys = (p: Party) =>
    KeyPair.fromPrivateKey(PrivateKey.deserialize(give(p.p.identityPrivateKey)), provider);
  const root = () => PublicKey.deserialize(give(server.libRoot.getPublicKey().serialize()));
  const ourCert = () => {
    const signer = ServerCertificate.create(
      7,
      PublicKey.deserialize(give(server.libKey.getPublicKey().serialize())),
      PrivateKey.deserialize(give(server.libRoot.serialize())),
      { provider },
    );
    return SenderCertificate.create(
      {
        senderUuid: w.alice.p.address.name,
        senderE164: E164,
        deviceId: 1,
        identityKey: PublicKey.deserialize(give(w.alice.p.identityKey)),
        expires: EXPIRES,
        signer,
        signerKey: PrivateKey.deserialize(give(server.libKey.serialize())),
      },
      { provider },
    );
  };
  const ourContent = (type: 'prekey' | 'whisper' | 'senderkey', inner: Uint8Array) =>
    UnidentifiedSenderMessageContent.create({
      type,
      senderCertificate: SenderCertificate.deserialize(give(ourCert().serialize())),
      content: give(inner),
      contentHint: ContentHint.Resendable,
      groupId: give(utf8('group')),
    });

  it('certificates: each side loads and validates the other’s; the signed bytes are identical', async () => {
    const libServer = w.libServerCert;
    const ours = ourCert();
    expect(hex(ours.signer!.certificateBytes())).toBe(hex(libServer.certificateData()));
    const server2 = ServerCertificate.deserialize(give(libServer.serialize()));
    const sender = SenderCertificate.deserialize(give(w.aliceLibCert.serialize()));
    expect(hex(server2.serialize())).toBe(hex(libServer.serialize()));
    expect(sender).toMatchObject({ senderUuid: w.alice.p.address.name, senderE164: E164, deviceId: 1 });
    const r = root();
    expect(await sender.validate(r, NOW, { provider })).toBe(true);
    expect(await sender.validate(r, EXPIRES + 1, { provider })).toBe(false);
    const theirs = L.SenderCertificate.deserialize(ab(ours.serialize()));
    expect(hex(theirs.certificate())).toBe(hex(ours.certificateBytes()));
    expect(theirs.validate(server.libRoot.getPublicKey(), NOW)).toBe(true);
    expect(theirs.validate(server.libRoot.getPublicKey(), EXPIRES + 1)).toBe(false);
    const serialized = hex(sender.serialize());
    after.push(async () => {
      expect(hex(sender.serialize())).toBe(serialized);
      expect(hex(server2.serialize())).toBe(hex(libServer.serialize()));
      expect(await sender.validate(r, NOW, { provider })).toBe(true);
    });
  });

  it('libsignal seals v1 and v2: we open them, libsignal decrypts the inner bytes', async () => {
    const bob = await ourKeys(w.bob);
    for (const version of ['v1', 'v2'] as const) {
      const inner = await libEncrypt(w.alice, w.bob, `lib ${version}`);
      const usmc = L.UnidentifiedSenderMessageContent.new(
        inner,
        w.aliceLibCert,
        ContentHint.Resendable,
        ab(utf8('g')),
      );
      const sealed =
        version === 'v1'
          ? await L.sealedSenderEncrypt(usmc, w.bob.addr, w.alice.p.stores.identity)
          : L.sealedSenderMultiRecipientMessageForSingleRecipient(
              await L.sealedSenderMultiRecipientEncrypt({
                content: usmc,
                recipients: [w.bob.addr],
                identityStore: w.alice.p.stores.identity,
                sessionStore: w.alice.p.stores.session,
              }),
            );
      const content = await unseal(give(sealed), bob, { provider });
      expect(hex(content.serialize())).toBe(hex(usmc.serialize()));
      const opened = await openSealedMessage(give(sealed), bob, {
        trustRoots: root(),
        now: NOW,
        local: { serviceId: w.bob.p.address.name, deviceId: w.bob.p.address.deviceId },
        provider,
      });
      expect(opened.sender).toMatchObject({ serviceId: w.alice.p.address.name, deviceId: 1, e164: E164 });
      expect(text(await libDecryptInner(w.alice, w.bob, content.type, content.content()))).toBe(
        `lib ${version}`,
      );
      const got = hex(opened.content.serialize());
      after.push(() => expect(hex(opened.content.serialize())).toBe(got));
    }
  });

  it('we seal v1 and v2: libsignal’s full receive path opens and decrypts', async () => {
    const alice = await ourKeys(w.alice);
    for (const version of ['v1', 'v2'] as const) {
      const inner = await libEncrypt(w.alice, w.bob, `our ${version}`);
      const content = ourContent(inner.type() === 3 ? 'prekey' : 'whisper', inner.serialize());
      const seal = version === 'v1' ? sealV1 : sealV2;
      const sealed = await seal(content, alice, PublicKey.deserialize(give(w.bob.p.identityKey)), {
        provider,
      });
      expect(sealed[0]).toBe(version === 'v1' ? 0x11 : 0x22);
      const usmc = await L.sealedSenderDecryptToUsmc(ab(sealed), w.bob.p.stores.identity);
      expect(hex(usmc.serialize())).toBe(hex(content.serialize()));
      const result = await libOpen(w.bob, sealed);
      expect(text(result.message())).toBe(`our ${version}`);
      expect([result.senderUuid(), result.senderE164(), result.deviceId()]).toEqual([
        w.alice.p.address.name,
        E164,
        1,
      ]);
      const bytes = hex(content.serialize());
      after.push(() => expect(hex(content.serialize())).toBe(bytes));
    }
  });

  it('libsignal’s SentMessage for 3 recipients: we parse and split it, each recipient opens its own', async () => {
    const group = await libGroupMessage(w.alice, 'lib to 3');
    const usmc = L.UnidentifiedSenderMessageContent.new(
      group.msg,
      w.aliceLibCert,
      ContentHint.Implicit,
      null,
    );
    const sent = await L.sealedSenderMultiRecipientEncrypt({
      content: usmc,
      recipients: w.many.map((r) => r.addr),
      excludedRecipients: [L.Aci.fromUuid(crypto.randomUUID())],
      identityStore: w.alice.p.stores.identity,
      sessionStore: w.alice.p.stores.session,
    });
    const theirs = new LibMultiRecipientMessage(sent);
    const ours = SealedSenderMultiRecipientMessage.parse(give(sent));
    expect(ours.excludedRecipients()).toEqual(theirs.excludedRecipientServiceIdStrings());
    const split: Record<string, string> = {};
    for (const r of w.many) {
      const received = ours.messageForRecipient(r.p.address.name);
      const libReceived = theirs.messageForRecipient(theirs.recipientsByServiceIdString()[r.p.address.name]!);
      expect(hex(received)).toBe(hex(libReceived));
      split[r.p.address.name] = hex(received);
      const content = await unseal(give(libReceived), await ourKeys(r), { provider });
      expect(hex(content.serialize())).toBe(hex(usmc.serialize()));
      const store = new LibSenderKeyStore(); // r's own receiver
      await L.processSenderKeyDistributionMessage(w.alice.addr, group.skdm, store);
      expect(text(await L.groupDecrypt(w.alice.addr, store, ab(content.content())))).toBe('lib to 3');
    }
    after.push(() => {
      for (const r of w.many)
        expect(hex(ours.messageForRecipient(r.p.address.name))).toBe(split[r.p.address.name]);
    });
  });

  it('our SentMessage: for one recipient through libsignal’s single-recipient split and receive path; for 3 split by libsignal', async () => {
    const alice = await ourKeys(w.alice);
    const to = w.many[0]!;
    const inner = await libEncrypt(w.alice, to, 'our SentMessage to one');
    const one = await sealMultiRecipient(
      ourContent(inner.type() === 3 ? 'prekey' : 'whisper', inner.serialize()),
      alice,
      [
        {
          serviceId: to.p.address.name,
          identityKey: PublicKey.deserialize(give(to.p.identityKey)),
          devices: [{ deviceId: 1, registrationId: to.p.registrationId }],
        },
      ],
      { provider },
    );
    const received = L.sealedSenderMultiRecipientMessageForSingleRecipient(ab(one));
    expect(hex(received)).toBe(hex(SealedSenderMultiRecipientMessage.forSingleRecipient(give(one))));
    expect(text((await libOpen(to, received)).message())).toBe('our SentMessage to one');

    const group = await libGroupMessage(w.alice, 'our SentMessage to 3');
    const content = ourContent('senderkey', group.msg.serialize());
    const recipients = w.many.map((r) => ({
      serviceId: r.p.address.name,
      identityKey: PublicKey.deserialize(give(r.p.identityKey)),
      devices: [{ deviceId: 1, registrationId: r.p.registrationId }],
    }));
    const sent = await sealMultiRecipient(content, alice, recipients, { provider });
    const theirs = new LibMultiRecipientMessage(ab(sent));
    for (const r of w.many) {
      const store = new LibSenderKeyStore(); // r's own receiver
      await L.processSenderKeyDistributionMessage(w.alice.addr, group.skdm, store);
      const mine = theirs.messageForRecipient(theirs.recipientsByServiceIdString()[r.p.address.name]!);
      const usmc = await L.sealedSenderDecryptToUsmc(mine, r.p.stores.identity);
      expect(hex(usmc.serialize())).toBe(hex(content.serialize()));
      expect(usmc.senderCertificate().validate(server.libRoot.getPublicKey(), NOW)).toBe(true);
      expect(text(await L.groupDecrypt(w.alice.addr, store, usmc.contents()))).toBe('our SentMessage to 3');
    }
  });
});
