// Group messaging next to @signalapp/libsignal-client 0.103.0 (Rust, native) in the same run:
// encrypt, decrypt, encrypt+decrypt of 200 B, and a message to a 1,000-member group (one encrypt for
// everyone), alone and with our membership check over 1,000 recorded key holders. Both sides use an
// in-memory store that keeps serialized bytes. Every task runs in ROUNDS rounds, interleaved with
// libsignal's, and the table shows the median of the round medians and the ratio ours ÷ libsignal.
// Run: pnpm --filter @e2ee-kit/sender-keys bench   (BENCH_TIME_MS=<ms per task>, BENCH_ROUNDS=<n>)
import { randomUUID } from 'node:crypto';
import { type Address, type CryptoProvider, nobleProvider, platformProvider } from '@e2ee-kit/core';
import { nodeProvider } from '@e2ee-kit/core/node';
import { lib103 as L } from '@e2ee-kit/interop/libsignal';
import { GroupCipher } from '@e2ee-kit/sender-keys';
import { InMemorySenderKeyStore } from '@e2ee-kit/sender-keys/testing';
import { printRoundsTable, runRounds } from '../../../tools/bench/rounds.js';

const TIME = Number(process.env['BENCH_TIME_MS'] ?? 1000);
const ROUNDS = Number(process.env['BENCH_ROUNDS'] ?? 3);
const LIB = 'libsignal-client 0.103.0';
const PROVIDERS: ReadonlyArray<[string, CryptoProvider]> = [
  ['platform', platformProvider],
  ['node', nodeProvider],
  ['noble', nobleProvider],
];
const PLAINTEXT = new Uint8Array(200).fill(0x61);
const alice: Address = { name: 'a11ce000-0000-4000-8000-000000000001', deviceId: 1 };
const members: Address[] = Array.from({ length: 1000 }, (_, i) => ({
  name: `0000${i.toString(16).padStart(4, '0')}-0000-4000-8000-000000000000`,
  deviceId: 1 + (i % 3),
}));

type LibAddress = ReturnType<typeof L.ProtocolAddress.new>;
type LibRecord = ReturnType<typeof L.SenderKeyRecord.deserialize>;
class LibStore extends L.SenderKeyStore {
  readonly map = new Map<string, Uint8Array<ArrayBuffer>>();
  async saveSenderKey(a: LibAddress, d: string, r: LibRecord): Promise<void> {
    this.map.set(`${a.name()}.${a.deviceId()}|${d}`, r.serialize());
  }
  async getSenderKey(a: LibAddress, d: string): Promise<LibRecord | null> {
    const b = this.map.get(`${a.name()}.${a.deviceId()}|${d}`);
    return b === undefined ? null : L.SenderKeyRecord.deserialize(b);
  }
}

interface Side {
  encrypt(): Promise<Uint8Array>;
  decrypt(wire: Uint8Array): Promise<Uint8Array>;
  /** One message to the 1,000-member group: one encrypt. */
  encryptToGroup(): Promise<Uint8Array>;
  /** The same with the membership check first (ours: `prepareSend`; libsignal keeps no membership). */
  sendToGroup(): Promise<Uint8Array>;
}

async function ours(provider: CryptoProvider): Promise<Side> {
  const d = randomUUID();
  const sender = new GroupCipher(new InMemorySenderKeyStore(), { provider });
  const receiver = new GroupCipher(new InMemorySenderKeyStore(), { provider });
  await receiver.processDistributionMessage(alice, await sender.createDistributionMessage(alice, d));
  const group = randomUUID();
  const plan = await sender.prepareSend(alice, group, members);
  await sender.markDelivered(alice, group, plan.chainId, members);
  return {
    encrypt: () => sender.encrypt(alice, d, PLAINTEXT),
    decrypt: async (wire) => (await receiver.decrypt(alice, wire)).plaintext,
    encryptToGroup: () => sender.encrypt(alice, group, PLAINTEXT),
    sendToGroup: async () => {
      const p = await sender.prepareSend(alice, group, members);
      if (p.needsDistribution.length !== 0) throw new Error('unexpected distribution');
      return sender.encrypt(alice, group, PLAINTEXT);
    },
  };
}

async function libsignal(): Promise<Side> {
  const d = randomUUID();
  const addr = L.ProtocolAddress.new(alice.name, alice.deviceId);
  const senderStore = new LibStore();
  const receiverStore = new LibStore();
  const skdm = await L.SenderKeyDistributionMessage.create(addr, d, senderStore);
  await L.processSenderKeyDistributionMessage(addr, skdm, receiverStore);
  const group = randomUUID();
  await L.SenderKeyDistributionMessage.create(addr, group, senderStore);
  const pt = new Uint8Array(PLAINTEXT);
  return {
    encrypt: async () => (await L.groupEncrypt(addr, d, senderStore, pt)).serialize(),
    decrypt: (wire) => L.groupDecrypt(addr, receiverStore, new Uint8Array(wire)),
    encryptToGroup: async () => (await L.groupEncrypt(addr, group, senderStore, pt)).serialize(),
    sendToGroup: async () => (await L.groupEncrypt(addr, group, senderStore, pt)).serialize(),
  };
}

const labels = [...PROVIDERS.map(([l]) => l), LIB];
/** A fresh sender and receiver per task, so no task leaves the receiver behind for the next. */
const makeSide = (label: string): Promise<Side> => {
  const p = PROVIDERS.find(([l]) => l === label);
  return p === undefined ? libsignal() : ours(p[1]);
};

async function main(): Promise<void> {
  // Sanity before timing: each side decrypts its own message.
  for (const label of labels) {
    const s = await makeSide(label);
    const back = await s.decrypt(await s.encrypt());
    if (back.length !== PLAINTEXT.length) throw new Error(`${label}: round trip failed`);
  }

  const ops = [
    'encrypt 200 B',
    'decrypt 200 B',
    'encrypt+decrypt 200 B',
    '1,000-member group: encrypt',
    '1,000-member group: membership check + encrypt',
  ] as const;
  const samples = await runRounds(ROUNDS, TIME, async (add) => {
    for (const op of ops) {
      for (const label of labels) {
        const s = await makeSide(label);
        const name = `${op}|${label}`;
        if (op === 'encrypt 200 B') add(name, () => s.encrypt());
        if (op === 'encrypt+decrypt 200 B') add(name, async () => s.decrypt(await s.encrypt()));
        if (op === '1,000-member group: encrypt') add(name, () => s.encryptToGroup());
        if (op === '1,000-member group: membership check + encrypt') add(name, () => s.sendToGroup());
        if (op === 'decrypt 200 B') {
          let next: Uint8Array = new Uint8Array(0);
          add(name, () => s.decrypt(next), {
            beforeEach: async () => {
              next = await s.encrypt();
            },
          });
        }
      }
    }
  });
  printRoundsTable({ pkg: 'sender-keys', lib: LIB, ops, labels, samples, rounds: ROUNDS, timeMs: TIME });
}

await main();
