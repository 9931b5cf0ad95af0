// The receive path's decisions against libsignal-client 0.103.0's `sealedSenderDecryptMessage`: for each
// certificate and local-device case, our `openSealedMessage` accepts exactly when libsignal's full receive
// path does (libsignal then also decrypts the inner message), refuses a self-send as a self-send, and
// refuses the rest with our typed error and its reason. Envelopes are sealed by us (v1 and v2) under
// certificates libsignal issued (or hand-built for the by-id signer), so only the checks differ.
import { KeyPair, nobleProvider, PrivateKey, ProtoWriter, PublicKey, xeddsaSign } from '@e2ee-kit/core';
import { nodeProvider } from '@e2ee-kit/core/node';
import {
  E2eeError,
  InvalidSenderCertificateError,
  openSealedMessage,
  SenderCertificate,
  ServerCertificate,
  sealV1,
  sealV2,
  UnidentifiedSenderMessageContent,
} from '@e2ee-kit/sealed-sender';
import { beforeAll, describe, expect, it } from 'vitest';
import { lib103 as L } from '../src/libsignal.js';
import {
  ab,
  EXPIRES,
  libEncrypt,
  NOW,
  type Party,
  party,
  server,
  startSession,
} from './sealed-sender-parties.js';

const provider = nodeProvider;
const E164 = '+15550001111';
const BOM = '\ufeff';

let alice: Party;
/** Device 1, as alice's certificate is: the E.164 and ServiceId self-send checks need the device to match. */
let bob: Party;
/** Another device of alice's account: a message from a sibling device is not a self-send. */
let aliceTwo: Party;
/** A sender whose ServiceId is U+FEFF followed by bob's (with a session to bob). */
let bomBob: Party;
let eve: KeyPair;
/** libsignal's test trust root (the key of the all-zero private key) and its 0x7357C357 server key. */
let testRoot: PublicKey;
const testServerKey = PrivateKey.deserialize(new Uint8Array(32).fill(0xff));
const otherRoot = L.PrivateKey.generate();
const otherServerKey = L.PrivateKey.generate();

beforeAll(async () => {
  alice = await party(1);
  bob = await party(1);
  aliceTwo = await party(3, alice.p.address.name);
  await startSession(alice, bob);
  await startSession(alice, aliceTwo);
  bomBob = await party(1, BOM + bob.p.address.name);
  await startSession(bomBob, bob);
  eve = await KeyPair.generate(nobleProvider);
  testRoot = (await KeyPair.fromPrivateKey(PrivateKey.deserialize(new Uint8Array(32)), nobleProvider))
    .publicKey;
}, 120_000);

/** A certificate for alice issued by libsignal: `keyId`, signed by `signedBy`, its server cert by `root`. */
function libCert(
  opts: {
    keyId?: number;
    signedBy?: typeof server.libKey;
    root?: typeof server.libRoot;
    e164?: string | null;
    uuid?: string;
    sender?: Party;
  } = {},
): Uint8Array {
  const signer = L.ServerCertificate.new(
    opts.keyId ?? 7,
    server.libKey.getPublicKey(),
    opts.root ?? server.libRoot,
  );
  return new Uint8Array(
    L.SenderCertificate.new(
      opts.uuid ?? (opts.sender ?? alice).p.address.name,
      opts.e164 === undefined ? E164 : opts.e164,
      1,
      L.PublicKey.deserialize(ab((opts.sender ?? alice).p.identityKey)),
      EXPIRES,
      signer,
      opts.signedBy ?? server.libKey,
    ).serialize(),
  );
}

/** A certificate naming its signer by id (field 8) rather than embedding it, signed with the test key. */
function byIdCert(id: number): Uint8Array {
  const inner = new ProtoWriter()
    .uint32(2, 1)
    .fixed64(3, BigInt(EXPIRES))
    .bytes(4, alice.ours.publicKey.serialize())
    .uint32(8, id)
    .string(6, alice.p.address.name)
    .finish();
  return new ProtoWriter()
    .bytes(1, inner)
    .bytes(2, xeddsaSign(testServerKey, inner, nobleProvider))
    .finish();
}

interface Case {
  name: string;
  cert: () => Uint8Array;
  /** The trust root both sides are given (default: the server's). */
  root?: () => PublicKey;
  now?: number;
  /** The receiving device (default bob), and what it says of itself (default: its own address). */
  to?: 'aliceTwo';
  local?: { uuid?: () => string; e164?: string; deviceId?: number };
  /** Who sends (alice by default): writes the inner message and seals it. */
  from?: 'bomBob';
  /** Eve seals alice's certificate and message instead. */
  sealer?: 'eve';
  /** Our outcome: 'ok', 'self-send', an InvalidSenderCertificateError reason, or an error code. */
  want: string;
}

const cases: Case[] = [
  { name: 'valid', cert: () => libCert(), want: 'ok' },
  { name: 'at the expiry instant', cert: () => libCert(), now: EXPIRES, want: 'ok' },
  { name: 'one millisecond after expiry', cert: () => libCert(), now: EXPIRES + 1, want: 'expired' },
  {
    name: 'opened with another trust root',
    cert: () => libCert(),
    root: () => PublicKey.deserialize(otherRoot.getPublicKey().serialize()),
    want: 'untrusted-signer',
  },
  {
    name: 'server certificate signed by another root',
    cert: () => libCert({ root: otherRoot }),
    want: 'untrusted-signer',
  },
  { name: 'revoked server key id 0xDEADC357', cert: () => libCert({ keyId: 0xdeadc357 }), want: 'revoked' },
  {
    name: 'sender certificate signed by another key',
    cert: () => libCert({ signedBy: otherServerKey }),
    want: 'bad-signature',
  },
  {
    name: 'sealed by a key other than the certificate’s',
    cert: () => libCert(),
    sealer: 'eve',
    want: 'SEALED_SENDER_SENDER_MISMATCH',
  },
  {
    name: 'self-send by ServiceId',
    cert: () => libCert(),
    local: { uuid: () => alice.p.address.name, deviceId: 1 },
    want: 'self-send',
  },
  {
    // U+FEFF is a code point of the string, not a byte-order mark: another ServiceId than this device's.
    name: 'certificate ServiceId = U+FEFF + this device’s',
    from: 'bomBob',
    cert: () => libCert({ sender: bomBob }),
    want: 'ok',
  },
  { name: 'same account, other device', cert: () => libCert(), to: 'aliceTwo', want: 'ok' },
  { name: 'self-send by E.164', cert: () => libCert(), local: { e164: E164 }, want: 'self-send' },
  {
    name: 'local E.164, certificate without one',
    cert: () => libCert({ e164: null }),
    local: { e164: E164 },
    want: 'ok',
  },
  {
    name: 'signer by id 0x7357C357, libsignal’s test root',
    cert: () => byIdCert(0x7357c357),
    root: () => testRoot,
    want: 'ok',
  },
  {
    name: 'signer by id 0x7357C357, another root',
    cert: () => byIdCert(0x7357c357),
    want: 'untrusted-signer',
  },
  { name: 'signer by an unknown id', cert: () => byIdCert(99), root: () => testRoot, want: 'unknown-signer' },
];

async function ours(
  to: Party,
  sealed: Uint8Array,
  c: Case,
  root: PublicKey,
  local: { uuid: string; e164: string | undefined; deviceId: number },
): Promise<string> {
  try {
    await openSealedMessage(sealed, to.ours, {
      trustRoots: root,
      now: c.now ?? NOW,
      local: { serviceId: local.uuid, e164: local.e164, deviceId: local.deviceId },
      provider,
    });
    return 'ok';
  } catch (err) {
    if (err instanceof InvalidSenderCertificateError) return err.reason;
    if (E2eeError.is(err, 'SEALED_SENDER_SELF_SEND')) return 'self-send';
    if (E2eeError.is(err)) return err.code;
    throw err;
  }
}

async function theirs(
  to: Party,
  sealed: Uint8Array,
  c: Case,
  root: PublicKey,
  local: { uuid: string; e164: string | undefined; deviceId: number },
): Promise<string> {
  const s = to.p.stores;
  try {
    await L.sealedSenderDecryptMessage(
      ab(sealed),
      L.PublicKey.deserialize(ab(root.serialize())),
      c.now ?? NOW,
      local.e164 ?? null,
      local.uuid,
      local.deviceId,
      s.session,
      s.identity,
      s.preKey,
      s.signedPreKey,
      s.kyberPreKey,
    );
    return 'ok';
  } catch (err) {
    return (err as { code?: unknown }).code === L.ErrorCode.SealedSenderSelfSend ? 'self-send' : 'error';
  }
}

describe('openSealedMessage decides as libsignal’s sealedSenderDecryptMessage', () => {
  for (const [version, seal] of [
    ['v1', sealV1],
    ['v2', sealV2],
  ] as const)
    for (const c of cases)
      it(`${version}: ${c.name}`, async () => {
        // A fresh inner message each time: libsignal decrypts (and consumes) it when it accepts.
        const to = c.to === 'aliceTwo' ? aliceTwo : bob;
        const from = c.from === 'bomBob' ? bomBob : alice;
        const inner = await libEncrypt(from, to, `${version} ${c.name}`);
        const content = UnidentifiedSenderMessageContent.create({
          type: inner.type() === 3 ? 'prekey' : 'whisper',
          senderCertificate: SenderCertificate.deserialize(c.cert()),
          content: inner.serialize(),
        });
        const sealer = c.sealer === 'eve' ? eve : from.ours;
        const sealed = await seal(content, sealer, to.ours.publicKey, { provider });
        const root = c.root?.() ?? server.root;
        const local = {
          uuid: c.local?.uuid?.() ?? to.p.address.name,
          e164: c.local?.e164,
          deviceId: c.local?.deviceId ?? to.p.address.deviceId,
        };
        const a = await ours(to, sealed, c, root, local);
        expect(a).toBe(c.want);
        const t = await theirs(to, sealed, c, root, local);
        expect(t).toBe(a === 'ok' || a === 'self-send' ? a : 'error');
      });
});

describe('certificate strings', () => {
  it('a ServiceId and E.164 with leading U+FEFF read as libsignal reads them', () => {
    for (const [uuid, e164] of [
      [BOM + alice.p.address.name, BOM + E164],
      [BOM + BOM + alice.p.address.name, BOM],
    ] as const) {
      const bytes = libCert({ uuid, e164 });
      const lib = L.SenderCertificate.deserialize(ab(bytes));
      expect([lib.senderUuid(), lib.senderE164()]).toEqual([uuid, e164]);
      const parsed = SenderCertificate.deserialize(bytes);
      expect([parsed.senderUuid, parsed.senderE164]).toEqual([uuid, e164]);
    }
  });

  it('a certificate created with lone surrogates reports what libsignal’s reports, and has its inner bytes', async () => {
    const signer = L.ServerCertificate.new(7, server.libKey.getPublicKey(), server.libRoot);
    for (const [uuid, e164] of [
      ['a\ud800b', 'x\udc00'],
      [`${BOM}\udbff`, '\udc00\ud800'],
    ] as const) {
      const lib = L.SenderCertificate.new(
        uuid,
        e164,
        1,
        L.PublicKey.deserialize(ab(alice.p.identityKey)),
        EXPIRES,
        signer,
        server.libKey,
      );
      const ours = SenderCertificate.create(
        {
          senderUuid: uuid,
          senderE164: e164,
          deviceId: 1,
          identityKey: alice.ours.publicKey,
          expires: EXPIRES,
          signer: ServerCertificate.deserialize(signer.serialize()),
          signerKey: server.key,
        },
        { provider: nobleProvider },
      );
      expect([ours.senderUuid, ours.senderE164]).toEqual([lib.senderUuid(), lib.senderE164()]);
      expect(Buffer.from(ours.certificateBytes()).equals(Buffer.from(lib.certificate()))).toBe(true);
    }
  });
});
