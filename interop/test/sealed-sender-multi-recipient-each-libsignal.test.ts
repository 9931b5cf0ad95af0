// Multi-recipient sealed sender, every recipient decrypts, against libsignal-client 0.103.0, 0.90.0 and
// 0.72.1, both directions (the other multi-recipient tests decrypt only the first recipient's inner
// message). Recipients: r1 with two devices (sharing r1's identity key, as Signal's devices do), r2,
// r3, and excluded ServiceIds. The inner message is a real sender-key message (what Signal sends to a
// group), so every device reads the same plaintext; what is each recipient's own is its ReceivedMessage:
// - libsignal seals (`sealedSenderMultiRecipientEncrypt`), we split, every device of every recipient
//   opens its own message (`openSealedMessage`) and our GroupCipher decrypts libsignal's sender-key
//   message; no other recipient's key opens it, and an excluded ServiceId has none;
// - we seal (`sealMultiRecipient`, inner message from our GroupCipher), libsignal splits, every device
//   opens its own with `sealedSenderDecryptToUsmc`, validates the certificate and `groupDecrypt`s;
//   no other recipient's identity store opens it, and the excluded ServiceIds are listed, not recipients.
import { randomUUID } from 'node:crypto';
import {
  type Address,
  E2eeError,
  KeyPair,
  PrivateKey,
  PublicKey,
  platformProvider,
  toHex,
} from '@e2ee-kit/core';
import {
  ContentHint,
  openSealedMessage,
  SealedSenderMultiRecipientMessage,
  SenderCertificate,
  ServerCertificate,
  sealMultiRecipient,
  UnidentifiedSenderMessageContent,
  unseal,
} from '@e2ee-kit/sealed-sender';
import { GroupCipher } from '@e2ee-kit/sender-keys';
import { InMemorySenderKeyStore } from '@e2ee-kit/sender-keys/testing';
import { beforeAll, describe, expect, it } from 'vitest';
import { allLibs, LibsignalParty, toLib } from '../src/libsignal.js';

const NOW = 1_800_000_000_000;
const EXPIRES = NOW + 86_400_000;
const hex = (u: Uint8Array) => toHex(new Uint8Array(u));
const utf8 = (s: string) => new TextEncoder().encode(s);
const text = (u: Uint8Array) => new TextDecoder().decode(u);
const GROUP_ID = new Uint8Array(32).fill(5);

const libPackage = {
  lib103: '@signalapp/libsignal-client',
  lib90: 'libsignal-client-0.90',
  lib72: 'libsignal-client-0.72',
};
type LibSent = {
  recipientsByServiceIdString(): Record<string, { deviceIds: number[]; registrationIds: number[] }>;
  excludedRecipientServiceIdStrings(): string[];
  messageForRecipient(r: unknown): Uint8Array;
};

/** Whether `f` refuses (ours: a typed error only). */
async function refuses(f: () => Promise<unknown>, ours: boolean): Promise<boolean> {
  try {
    await f();
    return false;
  } catch (err) {
    if (ours && !E2eeError.is(err)) throw err;
    return true;
  }
}

describe.each(allLibs.map((l) => [l.version, l] as const))(
  'multi-recipient sealed sender with libsignal-client %s: every device of every recipient',
  (_version, lib) => {
    const m = lib.mod;
    const b = (u: Uint8Array) => toLib(lib, u);
    const libRoot = m.PrivateKey.generate();
    const libServerKey = m.PrivateKey.generate();
    const root = PublicKey.deserialize(libRoot.getPublicKey().serialize());
    const libRootPub = () => m.PublicKey.deserialize(b(root.serialize()));
    /** libsignal's sender-key store for one device, keeping record objects. */
    const libSenderKeys = () => {
      const records = new Map<string, unknown>();
      return new (class extends m.SenderKeyStore {
        async saveSenderKey(a: { name(): string }, d: string, r: unknown): Promise<void> {
          records.set(`${a.name()}|${d}`, r);
        }
        async getSenderKey(a: { name(): string }, d: string): Promise<never> {
          return (records.get(`${a.name()}|${d}`) ?? null) as never;
        }
      })();
    };
    const device = async (deviceId: number, of?: { p: LibsignalParty }) => {
      const p = LibsignalParty.create(lib, {
        name: of?.p.address.name ?? randomUUID(),
        deviceId,
        sameIdentityAs: of?.p,
      });
      const ours = await KeyPair.fromPrivateKey(
        PrivateKey.deserialize(p.identityPrivateKey),
        platformProvider,
      );
      return { p, ours, addr: m.ProtocolAddress.new(p.address.name, deviceId), libGroup: libSenderKeys() };
    };
    type Device = Awaited<ReturnType<typeof device>>;
    let alice: Device;
    /** Each recipient's devices: r1 has two. */
    let recipients: Device[][];
    let devices: Device[];
    let libCert: ReturnType<typeof m.SenderCertificate.new>;
    let ourCert: SenderCertificate;
    const excluded = [randomUUID(), `PNI:${randomUUID()}`];
    let excludedKey: KeyPair;
    let libSentOf: (bytes: Uint8Array) => LibSent;

    beforeAll(async () => {
      alice = await device(1);
      const r1 = await device(1);
      recipients = [[r1, await device(2, r1)], [await device(1)], [await device(3)]];
      devices = recipients.flat();
      for (const d of devices) await alice.p.processBundle(d.p.address, await d.p.createBundle());
      expect(hex(devices[1]!.p.identityKey)).toBe(hex(devices[0]!.p.identityKey));
      excludedKey = await KeyPair.fromPrivateKey(
        PrivateKey.deserialize(m.PrivateKey.generate().serialize()),
        platformProvider,
      );
      const serverCert = m.ServerCertificate.new(7, libServerKey.getPublicKey(), libRoot);
      const aliceLibKey = m.PublicKey.deserialize(b(alice.p.identityKey));
      libCert = m.SenderCertificate.new(
        alice.p.address.name,
        null,
        1,
        aliceLibKey,
        EXPIRES,
        serverCert,
        libServerKey,
      );
      ourCert = SenderCertificate.create({
        senderUuid: alice.p.address.name,
        deviceId: 1,
        identityKey: alice.ours.publicKey,
        expires: EXPIRES,
        signer: ServerCertificate.create(
          7,
          PublicKey.deserialize(libServerKey.getPublicKey().serialize()),
          PrivateKey.deserialize(libRoot.serialize()),
        ),
        signerKey: PrivateKey.deserialize(libServerKey.serialize()),
      });
      const Sent = (
        await import(
          `${libPackage[lib.label as keyof typeof libPackage]}/dist/SealedSenderMultiRecipientMessage.js`
        )
      ).default as new (
        u: Uint8Array,
      ) => LibSent;
      libSentOf = (bytes) => new Sent(b(bytes));
    });

    it('libsignal seals for 3 recipients (4 devices) and 2 excluded: each device opens its own and decrypts', async () => {
      const distributionId = randomUUID();
      const aliceGroup = libSenderKeys();
      const skdm = await m.SenderKeyDistributionMessage.create(alice.addr, distributionId, aliceGroup);
      const wire = await m.groupEncrypt(
        alice.addr,
        distributionId,
        aliceGroup,
        b(utf8(`to all from ${lib.label}`)),
      );
      const usmc = m.UnidentifiedSenderMessageContent.new(wire, libCert, ContentHint.Implicit, b(GROUP_ID));
      const sent = await m.sealedSenderMultiRecipientEncrypt({
        content: usmc,
        recipients: devices.map((d) => d.addr),
        excludedRecipients: [m.Aci.fromUuid(excluded[0]!), m.Pni.fromUuid(excluded[1]!.slice(4))],
        identityStore: alice.p.stores.identity,
        sessionStore: alice.p.stores.session,
      });
      const ours = SealedSenderMultiRecipientMessage.parse(sent);
      expect(Object.fromEntries(ours.recipients())).toEqual(
        Object.fromEntries(
          recipients.map((ds) => [
            ds[0]!.p.address.name,
            {
              deviceIds: ds.map((d) => d.p.address.deviceId),
              registrationIds: ds.map((d) => d.p.registrationId),
            },
          ]),
        ),
      );
      expect(ours.excludedRecipients()).toEqual(excluded);
      for (const id of excluded) expect(() => ours.messageForRecipient(id)).toThrow(RangeError);
      const senderAddress: Address = { name: alice.p.address.name, deviceId: 1 };
      let decrypted = 0;
      for (const ds of recipients) {
        const received = ours.messageForRecipient(ds[0]!.p.address.name);
        for (const d of ds) {
          const opened = await openSealedMessage(received, d.ours, {
            trustRoots: root,
            now: NOW,
            local: { serviceId: d.p.address.name, deviceId: d.p.address.deviceId },
          });
          expect(opened.sender).toMatchObject({ serviceId: alice.p.address.name, deviceId: 1 });
          expect(hex(opened.content.serialize())).toBe(hex(usmc.serialize()));
          const group = new GroupCipher(new InMemorySenderKeyStore());
          await group.processDistributionMessage(senderAddress, new Uint8Array(skdm.serialize()));
          const got = await group.decrypt(senderAddress, opened.content.content());
          expect(text(got.plaintext)).toBe(`to all from ${lib.label}`);
          decrypted++;
        }
        // Nobody else's key opens this recipient's message: not another recipient's, not an excluded one's.
        for (const other of [...recipients.filter((o) => o !== ds).map((o) => o[0]!.ours), excludedKey])
          expect(await refuses(() => unseal(received, other), true)).toBe(true);
      }
      expect(decrypted).toBe(4);
    });

    it('we seal for 3 recipients (4 devices) and 2 excluded: libsignal splits, each device opens its own and decrypts', async () => {
      const distributionId = randomUUID();
      const sender: Address = { name: alice.p.address.name, deviceId: 1 };
      const ourGroup = new GroupCipher(new InMemorySenderKeyStore());
      const members = devices.map((d) => ({ name: d.p.address.name, deviceId: d.p.address.deviceId }));
      const plan = await ourGroup.prepareSend(sender, distributionId, members);
      for (const d of devices)
        await m.processSenderKeyDistributionMessage(
          alice.addr,
          m.SenderKeyDistributionMessage.deserialize(b(plan.distributionMessage.serialize())),
          d.libGroup,
        );
      await ourGroup.markDelivered(sender, distributionId, plan.chainId, plan.needsDistribution);
      const wire = await ourGroup.encrypt(sender, distributionId, utf8(`to all from ours (${lib.label})`));
      const content = UnidentifiedSenderMessageContent.create({
        type: 'senderkey',
        senderCertificate: ourCert,
        content: wire,
        contentHint: ContentHint.Implicit,
        groupId: GROUP_ID,
      });
      const sent = await sealMultiRecipient(
        content,
        alice.ours,
        recipients.map((ds) => ({
          serviceId: ds[0]!.p.address.name,
          identityKey: ds[0]!.ours.publicKey,
          devices: ds.map((d) => ({ deviceId: d.p.address.deviceId, registrationId: d.p.registrationId })),
        })),
        { excluded },
      );
      const theirs = libSentOf(sent);
      expect(theirs.excludedRecipientServiceIdStrings()).toEqual(excluded);
      const byId = theirs.recipientsByServiceIdString();
      expect(Object.keys(byId).sort()).toEqual(recipients.map((ds) => ds[0]!.p.address.name).sort());
      let decrypted = 0;
      for (const ds of recipients) {
        expect(byId[ds[0]!.p.address.name]!.deviceIds).toEqual(ds.map((d) => d.p.address.deviceId));
        const received = theirs.messageForRecipient(byId[ds[0]!.p.address.name]);
        for (const d of ds) {
          const usmc = await m.sealedSenderDecryptToUsmc(b(received), d.p.stores.identity);
          expect(hex(usmc.serialize())).toBe(hex(content.serialize()));
          expect(usmc.senderCertificate().validate(libRootPub(), NOW)).toBe(true);
          const got = await m.groupDecrypt(alice.addr, d.libGroup, usmc.contents());
          expect(text(got)).toBe(`to all from ours (${lib.label})`);
          decrypted++;
        }
        for (const other of recipients.filter((o) => o !== ds))
          expect(
            await refuses(() => m.sealedSenderDecryptToUsmc(b(received), other[0]!.p.stores.identity), false),
          ).toBe(true);
      }
      expect(decrypted).toBe(4);
    });
  },
);
