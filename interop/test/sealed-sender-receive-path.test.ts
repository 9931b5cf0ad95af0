// The receive path against libsignal-client 0.103.0, beyond the certificate decisions
// (sealed-sender-receive-decisions): what `openSealedMessage` is told about the receiving device, a
// certificate naming another identity key than the sender's session, and the content type field.
// - A local device id outside 1..127 is refused by libsignal's `sealedSenderDecryptMessage` before it
//   decrypts anything; ours refuses it too (RangeError), and the message still opens on both sides.
// - A certificate whose identity key is not the one of the sender's session: libsignal's full receive path
//   accepts it (the inner message decrypts in the real session), so `openSealedMessage` does not compare
//   them either and reports the certificate's key (the README's security note).
// - The USMC type field: every value is accepted or refused as libsignal does, with the same type, and
//   the type is reported as declared whatever the content is (the inner cipher refuses a mismatch).
import { E2eeError, KeyPair, nobleProvider, ProtoWriter, PublicKey } from '@e2ee-kit/core';
import { nodeProvider } from '@e2ee-kit/core/node';
import {
  openSealedMessage,
  type SealedContentType,
  SenderCertificate,
  sealV1,
  sealV2,
  UnidentifiedSenderMessageContent,
  unseal,
} from '@e2ee-kit/sealed-sender';
import { beforeAll, describe, expect, it } from 'vitest';
import { lib103 as L } from '../src/libsignal.js';
import {
  ab,
  EXPIRES,
  hex,
  libEncrypt,
  libGroupMessage,
  libOpen,
  NOW,
  type Party,
  party,
  server,
  startSession,
} from './sealed-sender-parties.js';

const provider = nodeProvider;
let alice: Party;
let bob: Party;
let eve: KeyPair;

beforeAll(async () => {
  alice = await party(1);
  bob = await party(1);
  await startSession(alice, bob);
  eve = await KeyPair.generate(nobleProvider);
}, 60_000);

/** A certificate for alice's ServiceId and device 1 naming `identityKey`, issued by libsignal. */
function certFor(identityKey: Uint8Array): SenderCertificate {
  const signer = L.ServerCertificate.new(7, server.libKey.getPublicKey(), server.libRoot);
  const lib = L.SenderCertificate.new(
    alice.p.address.name,
    null,
    1,
    L.PublicKey.deserialize(ab(identityKey)),
    EXPIRES,
    signer,
    server.libKey,
  );
  return SenderCertificate.deserialize(new Uint8Array(lib.serialize()));
}

/** libsignal's full receive path on bob with `deviceId` as the local device: 'ok', or how it refused. */
async function libOpenAs(sealed: Uint8Array, deviceId: number): Promise<string> {
  const s = bob.p.stores;
  try {
    await L.sealedSenderDecryptMessage(
      ab(sealed),
      L.PublicKey.deserialize(ab(server.root.serialize())),
      NOW,
      null,
      bob.p.address.name,
      deviceId,
      s.session,
      s.identity,
      s.preKey,
      s.signedPreKey,
      s.kyberPreKey,
    );
    return 'ok';
  } catch (err) {
    if (err instanceof RangeError) return 'argument';
    return /device ID is out of range/.test(String((err as Error).message)) ? 'argument' : 'error';
  }
}

describe('the receiving device', () => {
  for (const [version, seal] of [
    ['v1', sealV1],
    ['v2', sealV2],
  ] as const)
    it(`${version}: a local device id outside 1..127 is refused before anything is opened, as in libsignal`, async () => {
      const inner = await libEncrypt(alice, bob, `${version} local device`);
      const content = UnidentifiedSenderMessageContent.create({
        type: inner.type() === 3 ? 'prekey' : 'whisper',
        senderCertificate: certFor(alice.p.identityKey),
        content: inner.serialize(),
      });
      const sealed = await seal(content, alice.ours, bob.ours.publicKey, { provider });
      const before = hex(sealed);
      for (const deviceId of [0, 128, 255, 256, -1, 1.5, 2 ** 32 + 1]) {
        expect(await libOpenAs(sealed, deviceId), `libsignal, device ${deviceId}`).toBe('argument');
        const opening = openSealedMessage(sealed, bob.ours, {
          trustRoots: server.root,
          now: NOW,
          local: { serviceId: bob.p.address.name, deviceId },
          provider,
        });
        await expect(opening, `ours, device ${deviceId}`).rejects.toThrow(RangeError);
        await expect(opening).rejects.toThrow('options.local.deviceId must be 1..127');
      }
      // Nothing was consumed: the same bytes open on our side and libsignal decrypts the inner message.
      expect(hex(sealed)).toBe(before);
      const opened = await openSealedMessage(sealed, bob.ours, {
        trustRoots: server.root,
        now: NOW,
        local: { serviceId: bob.p.address.name, deviceId: 1 },
        provider,
      });
      expect(opened.sender.serviceId).toBe(alice.p.address.name);
      const result = await libOpen(bob, sealed);
      expect(new TextDecoder().decode(result.message())).toBe(`${version} local device`);
    });
});

describe('the certificate’s identity key is not compared with the session’s, as in libsignal', () => {
  it('eve seals alice’s real inner message under a certificate naming eve’s key: both open it', async () => {
    const inner = await libEncrypt(alice, bob, 'relayed by eve');
    const content = UnidentifiedSenderMessageContent.create({
      type: inner.type() === 3 ? 'prekey' : 'whisper',
      senderCertificate: certFor(eve.publicKey.serialize()),
      content: inner.serialize(),
    });
    const sealed = await sealV1(content, eve, bob.ours.publicKey, { provider });
    const opened = await openSealedMessage(sealed, bob.ours, {
      trustRoots: server.root,
      now: NOW,
      local: { serviceId: bob.p.address.name, deviceId: 1 },
      provider,
    });
    // The certificate's key is what is reported: not the identity of alice's session.
    expect(opened.sender.identityKey.equals(eve.publicKey)).toBe(true);
    expect(opened.sender.identityKey.equals(PublicKey.deserialize(alice.p.identityKey))).toBe(false);
    const result = await libOpen(bob, sealed);
    expect(new TextDecoder().decode(result.message())).toBe('relayed by eve');
  });
});

/** A USMC over hand-written fields: type (raw varint, or none), libsignal's certificate, `content`. */
function usmcBytes(type: bigint | undefined, content: Uint8Array): Uint8Array {
  const w = new ProtoWriter();
  if (type !== undefined) w.uint64(1, type);
  return w.bytes(2, certFor(alice.p.identityKey).serialize()).bytes(3, content).finish();
}

describe('the content type field', () => {
  it('every wire value is accepted or refused as libsignal does, and read as the same type', () => {
    const values: (bigint | undefined)[] = [undefined, 0n, 1n, 2n, 3n, 4n, 5n, 6n, 7n, 8n, 9n, 127n];
    // Varints past 32 bits: prost reads the enum as the low 32 bits.
    values.push((1n << 32n) + 2n, (1n << 32n) + 7n, (1n << 64n) - 1n);
    const content = Uint8Array.of(1, 2, 3);
    for (const v of values) {
      const bytes = usmcBytes(v, content);
      let ours: number | string;
      try {
        ours = UnidentifiedSenderMessageContent.deserialize(bytes).ciphertextMessageType;
      } catch (err) {
        if (!E2eeError.is(err, 'DECODE')) throw err;
        ours = 'DECODE';
      }
      let theirs: number | string;
      try {
        theirs = L.UnidentifiedSenderMessageContent.deserialize(ab(bytes)).msgType();
      } catch {
        theirs = 'DECODE';
      }
      expect(ours, `type ${v}`).toBe(theirs);
    }
  });

  it('each type is reported as declared over any content; libsignal’s unseal reports the same', async () => {
    const prekey = (await libEncrypt(alice, bob, 'a prekey body')).serialize();
    const group = (await libGroupMessage(alice, 'a sender-key body')).msg.serialize();
    const bodies = [prekey, group, Uint8Array.of(0xc0, 1, 2), new Uint8Array(0)];
    const types: SealedContentType[] = ['prekey', 'whisper', 'senderkey', 'plaintext'];
    for (const type of types)
      for (const body of bodies) {
        const content = UnidentifiedSenderMessageContent.create({
          type,
          senderCertificate: certFor(alice.p.identityKey),
          content: body,
        });
        const sealed = await sealV2(content, alice.ours, bob.ours.publicKey, { provider });
        const ours = await unseal(sealed, bob.ours, { provider });
        const theirs = await L.sealedSenderDecryptToUsmc(ab(sealed), bob.p.stores.identity);
        expect(ours.type).toBe(type);
        expect(ours.ciphertextMessageType).toBe(theirs.msgType());
        expect(hex(ours.content())).toBe(hex(theirs.contents()));
      }
  });
});
