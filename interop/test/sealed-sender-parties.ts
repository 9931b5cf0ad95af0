// Shared setup of the sealed sender interop tests: libsignal-client 0.103.0 parties with UUID names,
// a server (trust root + server key) known to both sides, a sender "alice" with sessions to "bob" and to
// 100 more recipients, and helpers to seal and open on libsignal's side.
import { randomUUID } from 'node:crypto';
import {
  type CryptoProvider,
  E2eeError,
  KeyPair,
  nobleProvider,
  PrivateKey,
  PublicKey,
  toHex,
  utf8,
} from '@e2ee-kit/core';
import {
  type MultiRecipient,
  SealedSenderMultiRecipientMessage,
  SenderCertificate,
  ServerCertificate,
} from '@e2ee-kit/sealed-sender';
import LibMultiRecipientMessage from '@signalapp/libsignal-client/dist/SealedSenderMultiRecipientMessage.js';
import { lib103 as L, LibsignalParty, libs } from '../src/libsignal.js';

type LibAddress = ReturnType<typeof L.ProtocolAddress.new>;
type LibSenderKeyRecord = ReturnType<typeof L.SenderKeyRecord.deserialize>;

export const ab = (u: Uint8Array): Uint8Array<ArrayBuffer> => new Uint8Array(u);
export const hex = (u: Uint8Array) => toHex(new Uint8Array(u));
export const NOW = 1_800_000_000_000;
export const EXPIRES = NOW + 86_400_000;

export class LibSenderKeyStore extends L.SenderKeyStore {
  readonly map = new Map<string, Uint8Array<ArrayBuffer>>();
  async saveSenderKey(a: LibAddress, d: string, r: LibSenderKeyRecord): Promise<void> {
    this.map.set(`${a.name()}.${a.deviceId()}|${d}`, r.serialize());
  }
  async getSenderKey(a: LibAddress, d: string): Promise<LibSenderKeyRecord | null> {
    const b = this.map.get(`${a.name()}.${a.deviceId()}|${d}`);
    return b === undefined ? null : L.SenderKeyRecord.deserialize(b);
  }
}

/** libsignal's recipient map without its internal offsets, to compare with ours. */
export function libRecipients(m: LibMultiRecipientMessage) {
  return Object.fromEntries(
    Object.entries(m.recipientsByServiceIdString()).map(([id, r]) => [
      id,
      { deviceIds: r.deviceIds, registrationIds: r.registrationIds },
    ]),
  );
}

/** Our parse and split of a SentMessage as comparable data, or 'error'. */
export function ourSplit(bytes: Uint8Array): unknown {
  try {
    const m = SealedSenderMultiRecipientMessage.parse(bytes);
    const recipients = Object.fromEntries(m.recipients());
    return {
      recipients,
      excluded: m.excludedRecipients(),
      messages: Object.keys(recipients).map((id) => hex(m.messageForRecipient(id))),
    };
  } catch (err) {
    if (!E2eeError.is(err)) throw new Error(`untyped error: ${String(err)}`);
    return 'error';
  }
}

/** libsignal's parse and split of the same bytes, in the same shape, or 'error'. */
export function libSplit(bytes: Uint8Array): unknown {
  let m: LibMultiRecipientMessage;
  try {
    m = new LibMultiRecipientMessage(ab(bytes));
  } catch {
    return 'error';
  }
  const recipients = libRecipients(m);
  return {
    recipients,
    excluded: [...m.excludedRecipientServiceIdStrings()],
    messages: Object.values(m.recipientsByServiceIdString()).map((r) => hex(m.messageForRecipient(r))),
  };
}

/** A libsignal device with a UUID name, and its identity as our KeyPair. */
export async function party(deviceId = 1, name: string = randomUUID()) {
  const p = LibsignalParty.create(libs.lib103, { name, deviceId });
  const ours = await KeyPair.fromPrivateKey(PrivateKey.deserialize(p.identityPrivateKey), nobleProvider);
  return { p, ours, addr: L.ProtocolAddress.new(name, deviceId) };
}
export type Party = Awaited<ReturnType<typeof party>>;

/** A server (trust root + server key) on libsignal's side and the same keys on ours. */
export const server = {
  libRoot: L.PrivateKey.generate(),
  libKey: L.PrivateKey.generate(),
  get root(): PublicKey {
    return PublicKey.deserialize(this.libRoot.getPublicKey().serialize());
  },
  get key(): PrivateKey {
    return PrivateKey.deserialize(this.libKey.serialize());
  },
};

export interface World {
  alice: Party;
  bob: Party;
  /** Recipients (device 1) with sessions from alice. */
  many: Party[];
  /** A second device of many[0] (same name, its own session). */
  firstSecondDevice: Party;
  libServerCert: ReturnType<typeof L.ServerCertificate.new>;
  aliceLibCert: ReturnType<typeof L.SenderCertificate.new>;
}

export async function startSession(from: Party, to: Party): Promise<void> {
  await from.p.processBundle(to.p.address, await to.p.createBundle());
}

export async function createWorld(recipients: number): Promise<World> {
  const alice = await party(1);
  const bob = await party(2);
  await startSession(alice, bob);
  const many: Party[] = [];
  for (let i = 0; i < recipients; i++) {
    const r = await party(1);
    await startSession(alice, r);
    many.push(r);
  }
  const firstSecondDevice = await party(2, many[0]?.p.address.name ?? randomUUID());
  await startSession(alice, firstSecondDevice);
  const libServerCert = L.ServerCertificate.new(7, server.libKey.getPublicKey(), server.libRoot);
  const aliceLibCert = L.SenderCertificate.new(
    alice.p.address.name,
    '+15550001111',
    1,
    L.PublicKey.deserialize(ab(alice.p.identityKey)),
    EXPIRES,
    libServerCert,
    server.libKey,
  );
  return { alice, bob, many, firstSecondDevice, libServerCert, aliceLibCert };
}

/** libsignal's full receive path (`sealedSenderDecryptMessage`) on `to`, trusting our server's root. */
export function libOpen(to: Party, sealed: Uint8Array, now = NOW) {
  const s = to.p.stores;
  const root = L.PublicKey.deserialize(ab(server.root.serialize()));
  const { name, deviceId } = to.p.address;
  return L.sealedSenderDecryptMessage(
    ab(sealed),
    root,
    now,
    null,
    name,
    deviceId,
    s.session,
    s.identity,
    s.preKey,
    s.signedPreKey,
    s.kyberPreKey,
  );
}

/** A libsignal 1:1 message alice → `to`, as libsignal's CiphertextMessage. */
export function libEncrypt(alice: Party, to: Party, text: string) {
  const s = alice.p.stores;
  return L.signalEncrypt(ab(utf8(text)), to.addr, alice.addr, s.session, s.identity);
}

/** `to` (libsignal) decrypts an inner 1:1 message from alice. */
export function libDecryptInner(alice: Party, to: Party, type: string, body: Uint8Array) {
  return to.p.decrypt(alice.p.address, { type: type === 'prekey' ? 'prekey' : 'whisper', body });
}

export async function libGroupMessage(alice: Party, text: string) {
  const store = new LibSenderKeyStore();
  const d = randomUUID();
  const skdm = await L.SenderKeyDistributionMessage.create(alice.addr, d, store);
  const msg = await L.groupEncrypt(alice.addr, d, store, ab(utf8(text)));
  return { msg, skdm, text };
}

/** Our certificate for alice under our server certificate (server keys shared with libsignal's). */
export function ourAliceCert(alice: Party, provider: CryptoProvider): SenderCertificate {
  const signer = ServerCertificate.create(
    7,
    PublicKey.deserialize(server.libKey.getPublicKey().serialize()),
    PrivateKey.deserialize(server.libRoot.serialize()),
    { provider },
  );
  return SenderCertificate.create(
    {
      senderUuid: alice.p.address.name,
      senderE164: '+15550001111',
      deviceId: 1,
      identityKey: alice.ours.publicKey,
      expires: EXPIRES,
      signer,
      signerKey: server.key,
    },
    { provider },
  );
}

export function recipientsOf(parties: readonly Party[]): MultiRecipient[] {
  return parties.map((r) => ({
    serviceId: r.p.address.name,
    identityKey: r.ours.publicKey,
    devices: [{ deviceId: r.p.address.deviceId, registrationId: r.p.registrationId }],
  }));
}
