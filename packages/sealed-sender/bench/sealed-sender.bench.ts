// Sealed sender next to @signalapp/libsignal-client 0.103.0 (Rust, native) in the same run: seal +
// unseal of a 200 B content (v1, and v2 for one recipient), a multi-recipient message for 100
// recipient devices (one encryption), and the server's parse + split of it. No inner session
// encryption on either side: both seal the same kind of USMC and open it to the USMC
// (libsignal: sealedSenderEncrypt / sealedSenderMultiRecipientEncrypt / sealedSenderDecryptToUsmc).
// Every task runs in ROUNDS rounds, interleaved with libsignal's; the table shows the median of the
// round medians and the ratio ours ÷ libsignal.
// Run: pnpm --filter @e2ee-kit/sealed-sender bench   (BENCH_TIME_MS=<ms per task>, BENCH_ROUNDS=<n>)
import { randomUUID } from 'node:crypto';
import {
  type CryptoProvider,
  KeyPair,
  nobleProvider,
  PrivateKey,
  PublicKey,
  platformProvider,
} from '@e2ee-kit/core';
import { nodeProvider } from '@e2ee-kit/core/node';
import { lib103 as L, LibsignalParty, libs } from '@e2ee-kit/interop/libsignal';
import {
  MAX_SEALED_MESSAGE_LENGTH,
  type MultiRecipient,
  SealedSenderMultiRecipientMessage,
  SenderCertificate,
  ServerCertificate,
  sealMultiRecipient,
  sealV1,
  sealV2,
  UnidentifiedSenderMessageContent,
  unseal,
} from '@e2ee-kit/sealed-sender';
import { printRoundsTable, runRounds } from '../../../tools/bench/rounds.js';

const TIME = Number(process.env['BENCH_TIME_MS'] ?? 1000);
const ROUNDS = Number(process.env['BENCH_ROUNDS'] ?? 3);
const LIB = 'libsignal-client 0.103.0';
const PROVIDERS: ReadonlyArray<[string, CryptoProvider]> = [
  ['platform', platformProvider],
  ['node', nodeProvider],
  ['noble', nobleProvider],
];
const CONTENT = new Uint8Array(200).fill(0x61);
const RECIPIENTS = 100;
const ab = (u: Uint8Array): Uint8Array<ArrayBuffer> => new Uint8Array(u);

interface Side {
  /** The sealed content's serialization (ours only). */
  usmc: Uint8Array;
  sealUnsealV1(): Promise<unknown>;
  sealUnsealV2(): Promise<unknown>;
  multiRecipient(): Promise<Uint8Array>;
  split(sent: Uint8Array): unknown;
  /** The server's parse of a hostile SentMessage: who it excludes (every entry). */
  listExcluded(sent: Uint8Array): unknown;
}

/**
 * The costliest SentMessage a server must parse: 4 MiB of excluded entries (17-byte ServiceId and
 * device id 0 each, about 233,000), then the shared part's 32-byte key and 16-byte tag.
 */
function worstCaseSentMessage(): Uint8Array {
  const n = Math.floor((MAX_SEALED_MESSAGE_LENGTH - 1 - 3 - 48) / 18);
  const count = [(n & 0x7f) | 0x80, ((n >> 7) & 0x7f) | 0x80, n >> 14];
  const bytes = new Uint8Array(1 + count.length + n * 18 + 48);
  bytes[0] = 0x23;
  bytes.set(count, 1);
  const view = new DataView(bytes.buffer);
  for (let i = 0, o = 1 + count.length; i < n; i++, o += 18) view.setUint32(o + 1, i + 1); // ACI, device 0
  return bytes;
}

// One world for both sides: a libsignal sender with sessions to 100 libsignal recipients (for
// libsignal's registration ids), the same identity keys imported on our side.
const sender = LibsignalParty.create(libs.lib103, { name: randomUUID(), deviceId: 1 });
const recipients: LibsignalParty[] = [];
for (let i = 0; i < RECIPIENTS; i++) {
  const r = LibsignalParty.create(libs.lib103, { name: randomUUID(), deviceId: 1 });
  await sender.processBundle(r.address, await r.createBundle());
  recipients.push(r);
}
const bob = recipients[0]!;
const serverRoot = L.PrivateKey.generate();
const serverKey = L.PrivateKey.generate();
const libAddr = (p: LibsignalParty) => L.ProtocolAddress.new(p.address.name, p.address.deviceId);

async function ours(provider: CryptoProvider): Promise<Side> {
  const imp = (priv: Uint8Array) => KeyPair.fromPrivateKey(PrivateKey.deserialize(priv), provider);
  const me = await imp(sender.identityPrivateKey);
  const bobKeys = await imp(bob.identityPrivateKey);
  const signer = ServerCertificate.create(
    1,
    PublicKey.deserialize(serverKey.getPublicKey().serialize()),
    PrivateKey.deserialize(serverRoot.serialize()),
    { provider },
  );
  const cert = SenderCertificate.create(
    {
      senderUuid: sender.address.name,
      deviceId: 1,
      identityKey: me.publicKey,
      expires: Date.now() + 86_400_000,
      signer,
      signerKey: PrivateKey.deserialize(serverKey.serialize()),
    },
    { provider },
  );
  const content = UnidentifiedSenderMessageContent.create({
    type: 'senderkey',
    senderCertificate: cert,
    content: CONTENT,
  });
  const list: MultiRecipient[] = recipients.map((r) => ({
    serviceId: r.address.name,
    identityKey: PublicKey.deserialize(r.identityKey),
    devices: [{ deviceId: 1, registrationId: r.registrationId }],
  }));
  return {
    usmc: content.serialize(),
    sealUnsealV1: async () =>
      unseal(await sealV1(content, me, bobKeys.publicKey, { provider }), bobKeys, { provider }),
    sealUnsealV2: async () =>
      unseal(await sealV2(content, me, bobKeys.publicKey, { provider }), bobKeys, { provider }),
    multiRecipient: () => sealMultiRecipient(content, me, list, { provider }),
    split: (sent) => {
      const m = SealedSenderMultiRecipientMessage.parse(sent);
      for (const id of m.recipients().keys()) m.messageForRecipient(id);
    },
    listExcluded: (sent) => SealedSenderMultiRecipientMessage.parse(sent).excludedRecipients().length,
  };
}

async function libsignal(): Promise<Side> {
  // The very same USMC bytes as ours (a 200 B content under a certificate for the sender).
  const usmc = L.UnidentifiedSenderMessageContent.deserialize(ab((await ours(nobleProvider)).usmc));
  const s = sender.stores;
  const addrs = recipients.map(libAddr);
  return {
    usmc: new Uint8Array(usmc.serialize()),
    sealUnsealV1: async () =>
      L.sealedSenderDecryptToUsmc(
        await L.sealedSenderEncrypt(usmc, libAddr(bob), s.identity),
        bob.stores.identity,
      ),
    sealUnsealV2: async () => {
      const sent = await L.sealedSenderMultiRecipientEncrypt({
        content: usmc,
        recipients: [libAddr(bob)],
        identityStore: s.identity,
        sessionStore: s.session,
      });
      return L.sealedSenderDecryptToUsmc(
        L.sealedSenderMultiRecipientMessageForSingleRecipient(sent),
        bob.stores.identity,
      );
    },
    multiRecipient: () =>
      L.sealedSenderMultiRecipientEncrypt({
        content: usmc,
        recipients: addrs,
        identityStore: s.identity,
        sessionStore: s.session,
      }),
    split: (sent) => {
      const m = new LibMultiRecipientMessage(ab(sent));
      for (const r of Object.values(m.recipientsByServiceIdString())) m.messageForRecipient(r);
    },
    listExcluded: (sent) => new LibMultiRecipientMessage(ab(sent)).excludedRecipientServiceIdStrings().length,
  };
}

// libsignal's server-side class is not re-exported by its index; load it from the interop package's copy.
const { default: LibMultiRecipientMessage } = await import(
  new URL(
    '../../../interop/node_modules/@signalapp/libsignal-client/dist/SealedSenderMultiRecipientMessage.js',
    import.meta.url,
  ).href
);

const labels = [...PROVIDERS.map(([l]) => l), LIB];
const makeSide = (label: string): Promise<Side> => {
  const p = PROVIDERS.find(([l]) => l === label);
  return p === undefined ? libsignal() : ours(p[1]);
};

async function main(): Promise<void> {
  const ops = [
    'v1 seal + unseal, 200 B',
    'v2 seal + unseal, 200 B',
    `multi-recipient seal, ${RECIPIENTS} devices`,
    `server parse + split, ${RECIPIENTS} devices`,
    'server parse of a worst-case 4 MiB SentMessage (≈ 233,000 excluded)',
  ] as const;
  const hostile = worstCaseSentMessage();
  const counts = new Set(
    await Promise.all(labels.map(async (l) => (await makeSide(l)).listExcluded(hostile))),
  );
  if (counts.size !== 1) throw new Error(`the worst-case SentMessage parses differently: ${[...counts]}`);
  const sides = new Map<string, Side>();
  const sent = new Map<string, Uint8Array>();
  for (const label of labels) {
    const s = await makeSide(label);
    sides.set(label, s);
    sent.set(label, await s.multiRecipient());
  }
  const samples = await runRounds(ROUNDS, TIME, (add) => {
    for (const op of ops) {
      for (const label of labels) {
        const s = sides.get(label)!;
        const name = `${op}|${label}`;
        if (op === ops[0]) add(name, () => s.sealUnsealV1());
        if (op === ops[1]) add(name, () => s.sealUnsealV2());
        if (op === ops[2]) add(name, () => s.multiRecipient());
        if (op === ops[3]) add(name, () => s.split(sent.get(label)!));
        if (op === ops[4]) add(name, () => s.listExcluded(hostile));
      }
    }
  });
  printRoundsTable({ pkg: 'sealed-sender', lib: LIB, ops, labels, samples, rounds: ROUNDS, timeMs: TIME });
}

await main();
