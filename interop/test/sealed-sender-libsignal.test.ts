// Live interop of @e2ee-kit/sealed-sender with @signalapp/libsignal-client 0.103.0 (issue 15, point 3),
// on every provider:
// - libsignal seals (v1 `sealedSenderEncrypt`, v2 `sealedSenderMultiRecipientEncrypt` for 1, 3 and 100
//   recipients) real libsignal session / sender-key ciphertexts; we split, unseal and get the exact inner
//   bytes and type, and libsignal's own receiver then decrypts those inner bytes;
// - we seal libsignal-produced ciphertexts (v1, v2, multi-recipient) under certificates we issue, and
//   libsignal opens them (`sealedSenderDecryptToUsmc`, `sealedSenderDecryptMessage`, its own parse/split);
// - certificates: byte-identical creation, and validation agreeing with libsignal on valid, expired,
//   wrongly signed, wrong-trust-root, revoked and referenced-signer cases.
// Tampering and garbage are in sealed-sender-tamper.test.ts.
import { randomUUID } from 'node:crypto';
import { nobleProvider, PrivateKey, PublicKey, utf8 } from '@e2ee-kit/core';
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
import { beforeAll, describe, expect, it } from 'vitest';
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
  libRecipients,
  NOW,
  ourAliceCert,
  type Party,
  recipientsOf,
  server,
  type World,
} from './sealed-sender-parties.js';

let alice: Party;
let bob: Party;
let many: Party[];
let firstSecondDevice: Party;
let libServerCert: World['libServerCert'];
let aliceLibCert: World['aliceLibCert'];

beforeAll(async () => {
  ({ alice, bob, many, firstSecondDevice, libServerCert, aliceLibCert } = await createWorld(100));
}, 600_000);

for (const { label, provider } of allProviders) {
  describe(`libsignal seals, we open (${label})`, () => {
    it('v1 (sealedSenderEncrypt): the inner PreKey message and type come out unchanged; libsignal decrypts them', async () => {
      const inner = await libEncrypt(alice, bob, `v1 ${label}`);
      const usmc = L.UnidentifiedSenderMessageContent.new(
        inner,
        aliceLibCert,
        ContentHint.Resendable,
        ab(utf8('group-id')),
      );
      const sealed = await L.sealedSenderEncrypt(usmc, bob.addr, alice.p.stores.identity);
      expect(sealed[0]).toBe(0x11);
      const ours = await unseal(sealed, bob.ours, { provider });
      expect(hex(ours.content())).toBe(hex(inner.serialize()));
      expect(ours.ciphertextMessageType).toBe(inner.type());
      expect(ours.type).toBe('prekey');
      expect(ours.contentHint).toBe(ContentHint.Resendable);
      expect(hex(ours.groupId()!)).toBe(hex(utf8('group-id')));
      expect(hex(ours.serialize())).toBe(hex(usmc.serialize()));
      expect(hex(ours.senderCertificate.serialize())).toBe(hex(aliceLibCert.serialize()));
      // The full receive path of ours, then libsignal's own receiver on the inner bytes.
      const opened = await openSealedMessage(sealed, bob.ours, {
        trustRoots: server.root,
        now: NOW,
        local: { serviceId: bob.p.address.name, deviceId: bob.p.address.deviceId },
        provider,
      });
      expect(opened.sender).toMatchObject({
        serviceId: alice.p.address.name,
        deviceId: 1,
        e164: '+15550001111',
      });
      const text = new TextDecoder().decode(await libDecryptInner(alice, bob, ours.type, ours.content()));
      expect(text).toBe(`v1 ${label}`);
    });

    it('v2 for one recipient (multi-recipient encrypt + libsignal split): same split bytes, same inner message', async () => {
      const inner = await libEncrypt(alice, bob, `v2 ${label}`);
      const usmc = L.UnidentifiedSenderMessageContent.new(inner, aliceLibCert, ContentHint.Default, null);
      const sent = await L.sealedSenderMultiRecipientEncrypt({
        content: usmc,
        recipients: [bob.addr],
        identityStore: alice.p.stores.identity,
        sessionStore: alice.p.stores.session,
      });
      const libReceived = L.sealedSenderMultiRecipientMessageForSingleRecipient(sent);
      expect(hex(SealedSenderMultiRecipientMessage.forSingleRecipient(sent))).toBe(hex(libReceived));
      const ours = await unseal(libReceived, bob.ours, { provider });
      expect(hex(ours.content())).toBe(hex(inner.serialize()));
      expect(ours.ciphertextMessageType).toBe(inner.type());
      const text = new TextDecoder().decode(await libDecryptInner(alice, bob, ours.type, ours.content()));
      expect(text).toBe(`v2 ${label}`);
    });

    for (const n of [1, 3, 100]) {
      it(`multi-recipient for ${n} recipient${n > 1 ? 's' : ''}: our parse and split equal libsignal's; every recipient opens the sender-key message`, async () => {
        const group = await libGroupMessage(alice, `group of ${n} ${label}`);
        const usmc = L.UnidentifiedSenderMessageContent.new(
          group.msg,
          aliceLibCert,
          ContentHint.Implicit,
          ab(new Uint8Array(32).fill(7)),
        );
        const chosen = many.slice(0, n);
        // With 3: the first recipient's two devices (consecutive, one entry) and two excluded ServiceIds.
        const addrs =
          n === 3
            ? [chosen[0]!.addr, firstSecondDevice.addr, ...chosen.slice(1).map((r) => r.addr)]
            : chosen.map((r) => r.addr);
        const excluded = n === 3 ? [L.Aci.fromUuid(randomUUID()), L.Pni.fromUuid(randomUUID())] : [];
        const sent = await L.sealedSenderMultiRecipientEncrypt({
          content: usmc,
          recipients: addrs,
          excludedRecipients: excluded,
          identityStore: alice.p.stores.identity,
          sessionStore: alice.p.stores.session,
        });
        const theirs = new LibMultiRecipientMessage(sent);
        const ours = SealedSenderMultiRecipientMessage.parse(sent);
        expect(Object.fromEntries(ours.recipients())).toEqual(libRecipients(theirs));
        expect(ours.excludedRecipients()).toEqual(theirs.excludedRecipientServiceIdStrings());
        expect(ours.recipients().size).toBe(n);
        for (const [serviceId, devices] of Object.entries(theirs.recipientsByServiceIdString())) {
          const received = ours.messageForRecipient(serviceId);
          expect(hex(received)).toBe(hex(theirs.messageForRecipient(devices)));
          const recipient = chosen.find((r) => r.p.address.name === serviceId)!;
          const usmcOut = await unseal(received, recipient.ours, { provider });
          expect(usmcOut.type).toBe('senderkey');
          expect(usmcOut.ciphertextMessageType).toBe(group.msg.type());
          expect(hex(usmcOut.content())).toBe(hex(group.msg.serialize()));
          expect(hex(usmcOut.groupId()!)).toBe(hex(new Uint8Array(32).fill(7)));
        }
        // One recipient's libsignal receiver decrypts the inner sender-key message.
        const store = new LibSenderKeyStore();
        await L.processSenderKeyDistributionMessage(alice.addr, group.skdm, store);
        const first = await unseal(ours.messageForRecipient(chosen[0]!.p.address.name), chosen[0]!.ours, {
          provider,
        });
        expect(new TextDecoder().decode(await L.groupDecrypt(alice.addr, store, ab(first.content())))).toBe(
          group.text,
        );
      });
    }
  });

  describe(`we seal, libsignal opens (${label})`, () => {
    it('v1: sealedSenderDecryptToUsmc gives our content; sealedSenderDecryptMessage validates our certificate and decrypts', async () => {
      const inner = await libEncrypt(alice, bob, `our v1 ${label}`);
      const content = UnidentifiedSenderMessageContent.create({
        type: 'prekey',
        senderCertificate: ourAliceCert(alice, provider),
        content: inner.serialize(),
        contentHint: ContentHint.Resendable,
      });
      const sealed = await sealV1(content, alice.ours, bob.ours.publicKey, { provider });
      const usmc = await L.sealedSenderDecryptToUsmc(ab(sealed), bob.p.stores.identity);
      expect(hex(usmc.serialize())).toBe(hex(content.serialize()));
      expect(usmc.msgType()).toBe(inner.type());
      const result = await libOpen(bob, sealed);
      expect(new TextDecoder().decode(result.message())).toBe(`our v1 ${label}`);
      expect(result.senderUuid()).toBe(alice.p.address.name);
      expect(result.senderE164()).toBe('+15550001111');
      expect(result.deviceId()).toBe(1);
    });

    it('v2 single recipient: libsignal opens our ReceivedMessage the same way', async () => {
      const inner = await libEncrypt(alice, bob, `our v2 ${label}`);
      const content = UnidentifiedSenderMessageContent.create({
        type: inner.type() === 3 ? 'prekey' : 'whisper',
        senderCertificate: ourAliceCert(alice, provider),
        content: inner.serialize(),
      });
      const sealed = await sealV2(content, alice.ours, bob.ours.publicKey, { provider });
      expect(sealed[0]).toBe(0x22);
      const usmc = await L.sealedSenderDecryptToUsmc(ab(sealed), bob.p.stores.identity);
      expect(hex(usmc.contents())).toBe(hex(inner.serialize()));
      const result = await libOpen(bob, sealed);
      expect(new TextDecoder().decode(result.message())).toBe(`our v2 ${label}`);
    });

    for (const n of [1, 3, 100]) {
      it(`multi-recipient for ${n}: libsignal parses and splits ours like we do, and every recipient opens it`, async () => {
        const group = await libGroupMessage(alice, `our group of ${n} ${label}`);
        const content = UnidentifiedSenderMessageContent.create({
          type: 'senderkey',
          senderCertificate: ourAliceCert(alice, provider),
          content: group.msg.serialize(),
          contentHint: ContentHint.Implicit,
          groupId: new Uint8Array(32).fill(9),
        });
        const chosen = many.slice(0, n);
        const recipients = recipientsOf(chosen);
        if (n === 3)
          (recipients[0]!.devices as Array<{ deviceId: number; registrationId: number }>).push({
            deviceId: 2,
            registrationId: firstSecondDevice.p.registrationId,
          });
        const excluded = n === 3 ? [randomUUID(), `PNI:${randomUUID()}`] : [];
        const sent = await sealMultiRecipient(content, alice.ours, recipients, { excluded, provider });
        const theirs = new LibMultiRecipientMessage(ab(sent));
        const ours = SealedSenderMultiRecipientMessage.parse(sent);
        expect(libRecipients(theirs)).toEqual(Object.fromEntries(ours.recipients()));
        expect(theirs.excludedRecipientServiceIdStrings()).toEqual(excluded);
        for (const r of chosen) {
          const received = theirs.messageForRecipient(
            theirs.recipientsByServiceIdString()[r.p.address.name]!,
          );
          expect(hex(received)).toBe(hex(ours.messageForRecipient(r.p.address.name)));
          const usmc = await L.sealedSenderDecryptToUsmc(received, r.p.stores.identity);
          expect(hex(usmc.contents())).toBe(hex(group.msg.serialize()));
          expect(usmc.msgType()).toBe(7);
          expect(
            usmc.senderCertificate().validate(L.PublicKey.deserialize(ab(server.root.serialize())), NOW),
          ).toBe(true);
        }
        if (n === 1)
          expect(hex(L.sealedSenderMultiRecipientMessageForSingleRecipient(ab(sent)))).toBe(
            hex(ours.messageForRecipient(chosen[0]!.p.address.name)),
          );
      });
    }
  });
}

describe('certificates agree with libsignal', () => {
  it('creation is byte-identical: our inner bytes equal libsignal’s, and each side parses the other’s to the same bytes', async () => {
    const provider = nobleProvider;
    const serverPub = PublicKey.deserialize(server.libKey.getPublicKey().serialize());
    const ourServer = ServerCertificate.create(
      7,
      serverPub,
      PrivateKey.deserialize(server.libRoot.serialize()),
      { provider },
    );
    expect(hex(ourServer.certificateBytes())).toBe(hex(libServerCert.certificateData()));
    expect(hex(ServerCertificate.deserialize(libServerCert.serialize()).serialize())).toBe(
      hex(libServerCert.serialize()),
    );
    expect(hex(L.ServerCertificate.deserialize(ab(ourServer.serialize())).serialize())).toBe(
      hex(ourServer.serialize()),
    );
    for (const e164 of ['+15550001111', null]) {
      const lib = L.SenderCertificate.new(
        alice.p.address.name,
        e164,
        3,
        L.PublicKey.deserialize(ab(alice.p.identityKey)),
        EXPIRES,
        libServerCert,
        server.libKey,
      );
      const ours = SenderCertificate.create(
        {
          senderUuid: alice.p.address.name,
          senderE164: e164 ?? undefined,
          deviceId: 3,
          identityKey: alice.ours.publicKey,
          expires: EXPIRES,
          signer: ServerCertificate.deserialize(libServerCert.serialize()),
          signerKey: server.key,
        },
        { provider },
      );
      expect(hex(ours.certificateBytes())).toBe(hex(lib.certificate()));
      const parsed = SenderCertificate.deserialize(lib.serialize());
      expect(hex(parsed.serialize())).toBe(hex(lib.serialize()));
      expect(parsed).toMatchObject({
        senderUuid: lib.senderUuid(),
        senderE164: lib.senderE164() ?? undefined,
        deviceId: 3,
        expiration: lib.expiration(),
      });
      const back = L.SenderCertificate.deserialize(ab(ours.serialize()));
      expect([back.senderUuid(), back.senderE164(), back.senderDeviceId(), back.expiration()]).toEqual([
        ours.senderUuid,
        e164,
        3,
        EXPIRES,
      ]);
      expect(hex(back.key().serialize())).toBe(hex(alice.p.identityKey));
    }
  });

  for (const { label, provider } of allProviders) {
    it(`validation: valid, at expiry, expired, wrongly signed, wrong trust root, revoked, several roots (${label})`, async () => {
      const otherRoot = L.PrivateKey.generate();
      const otherKey = L.PrivateKey.generate();
      const mk = (
        keyId: number,
        signedBy: typeof server.libKey,
        certifiedKey = server.libKey,
        root = server.libRoot,
      ) =>
        L.SenderCertificate.new(
          alice.p.address.name,
          null,
          1,
          L.PublicKey.deserialize(ab(alice.p.identityKey)),
          EXPIRES,
          L.ServerCertificate.new(keyId, certifiedKey.getPublicKey(), root),
          signedBy,
        );
      const cases = [
        { name: 'valid', cert: mk(7, server.libKey), now: NOW, want: 'valid' },
        { name: 'at expiry', cert: mk(7, server.libKey), now: EXPIRES, want: 'valid' },
        { name: 'expired', cert: mk(7, server.libKey), now: EXPIRES + 1, want: 'expired' },
        { name: 'wrongly signed', cert: mk(7, otherKey), now: NOW, want: 'bad-signature' },
        {
          name: 'wrong trust root',
          cert: mk(7, server.libKey, server.libKey, otherRoot),
          now: NOW,
          want: 'untrusted-signer',
        },
        { name: 'revoked key id', cert: mk(0xdeadc357, server.libKey), now: NOW, want: 'revoked' },
      ];
      const libRoot = server.libRoot.getPublicKey();
      for (const c of cases) {
        const ours = SenderCertificate.deserialize(c.cert.serialize());
        const check = await ours.check(server.root, c.now, { provider });
        expect(check.valid ? 'valid' : check.reason, c.name).toBe(c.want);
        expect(c.cert.validate(libRoot, c.now), c.name).toBe(c.want === 'valid');
        // Several roots: valid if any one signed the server certificate; none → invalid.
        const roots = [PublicKey.deserialize(otherRoot.getPublicKey().serialize()), server.root];
        expect(await ours.validate(roots, c.now, { provider }), c.name).toBe(
          c.cert.validateWithTrustRoots([otherRoot.getPublicKey(), libRoot], c.now),
        );
        expect(await ours.validate([], c.now, { provider })).toBe(c.cert.validateWithTrustRoots([], c.now));
      }
      // An app-revoked key id: libsignal has no such option; ours refuses it.
      const ok = SenderCertificate.deserialize(cases[0]!.cert.serialize());
      expect(await ok.check(server.root, NOW, { provider, revokedKeyIds: [7] })).toEqual({
        valid: false,
        reason: 'revoked',
      });
    });
  }
});

describe('UnidentifiedSenderMessageContent agrees with libsignal', () => {
  it('creation is byte-identical for every type, hints (unknown and ≥ 2^31 too) and group ids; parse round-trips', async () => {
    const inner = await libEncrypt(alice, many[1]!, 'usmc bytes');
    const group = await libGroupMessage(alice, 'usmc group');
    const cert = SenderCertificate.deserialize(aliceLibCert.serialize());
    for (const [msg, type] of [
      [inner, 'prekey'],
      [group.msg, 'senderkey'],
    ] as const) {
      for (const hint of [0, 1, 2, 3, 0x7fffffff, 0x80000000, 0xffffffff]) {
        for (const groupId of [null, new Uint8Array(0), new Uint8Array(32).fill(3)]) {
          const lib = L.UnidentifiedSenderMessageContent.new(
            msg,
            aliceLibCert,
            hint,
            groupId === null ? null : ab(groupId),
          );
          const ours = UnidentifiedSenderMessageContent.create({
            type,
            senderCertificate: cert,
            content: msg.serialize(),
            contentHint: hint,
            groupId: groupId ?? undefined,
          });
          expect(hex(ours.serialize()), `hint ${hint}`).toBe(hex(lib.serialize()));
          const back = UnidentifiedSenderMessageContent.deserialize(lib.serialize());
          expect([back.contentHint, back.ciphertextMessageType]).toEqual([lib.contentHint(), lib.msgType()]);
        }
      }
    }
  });
});
