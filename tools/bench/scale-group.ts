// Scale row: a group of N member devices, one sender. Three phases, each timed once:
//   prepare:  the sender's first send plan (ours: prepareSend over N members + markDelivered;
//             libsignal-client, which keeps no membership: SenderKeyDistributionMessage.create) and
//             every member processing the distribution message;
//   encrypt:  one 200-byte group message (encrypted once for everyone);
//   decrypt:  each of the N members decrypts it (N stores).
import { randomUUID } from 'node:crypto';
import { type Address, createAddress } from '@e2ee-kit/core';
import { GroupCipher } from '@e2ee-kit/sender-keys';
import { InMemorySenderKeyStore } from '@e2ee-kit/sender-keys/testing';
import { LibSenderKeyBytesStore as LibStore } from '../../interop/src/lib-sender-key-store.js';
import { lib103 as L } from '../../interop/src/libsignal.js';
import { emitRows, LIBSIGNAL_CLIENT, type PackageRow } from './emit.js';
import { scaleProviders, sizes, type Timed, timed } from './measure.js';

const PLAINTEXT = new Uint8Array(200).fill(0x61);
const alice = createAddress('a11ce000-0000-4000-8000-000000000001', 1);
const memberAddress = (i: number): Address =>
  createAddress(`0000${i.toString(16).padStart(4, '0')}-0000-4000-8000-000000000000`, 1 + (i % 3));

type Phases = { prepare: Timed; encrypt: Timed; decrypt: Timed };

async function ours(n: number, provider: (typeof scaleProviders)[number][1]): Promise<Phases> {
  const group = randomUUID();
  const members = Array.from({ length: n }, (_, i) => memberAddress(i));
  const sender = new GroupCipher(new InMemorySenderKeyStore(), { provider });
  const receivers = members.map(() => new GroupCipher(new InMemorySenderKeyStore(), { provider }));
  let wire: Uint8Array = new Uint8Array(0);
  const prepare = await timed(async () => {
    const plan = await sender.prepareSend(alice, group, members);
    if (plan.needsDistribution.length !== n) throw new Error('every member needs the key');
    const skdm = plan.distributionMessage.serialize();
    for (const r of receivers) await r.processDistributionMessage(alice, skdm);
    await sender.markDelivered(alice, group, plan.chainId, plan.needsDistribution);
  });
  const encrypt = await timed(async () => {
    wire = await sender.encrypt(alice, group, PLAINTEXT);
  });
  const decrypt = await timed(async () => {
    for (const r of receivers) check((await r.decrypt(alice, wire)).plaintext);
  });
  return { prepare, encrypt, decrypt };
}

async function libsignal(n: number): Promise<Phases> {
  const group = randomUUID();
  const addr = L.ProtocolAddress.new(alice.name, alice.deviceId);
  const senderStore = new LibStore();
  const stores = Array.from({ length: n }, () => new LibStore());
  let wire: Uint8Array = new Uint8Array(0);
  const prepare = await timed(async () => {
    const skdm = await L.SenderKeyDistributionMessage.create(addr, group, senderStore);
    for (const s of stores) await L.processSenderKeyDistributionMessage(addr, skdm, s);
  });
  const encrypt = await timed(async () => {
    wire = (await L.groupEncrypt(addr, group, senderStore, new Uint8Array(PLAINTEXT))).serialize();
  });
  const decrypt = await timed(async () => {
    for (const s of stores) check(await L.groupDecrypt(addr, s, new Uint8Array(wire)));
  });
  return { prepare, encrypt, decrypt };
}

function check(out: Uint8Array): void {
  if (out.length !== PLAINTEXT.length || out[199] !== PLAINTEXT[199]) throw new Error('wrong plaintext');
}

const rows: PackageRow[] = [];
await ours(4, scaleProviders[0]![1]); // warm-up (JIT)
await libsignal(4);
for (const n of sizes([100, 1000])) {
  const runs: Array<[Pick<PackageRow, 'impl' | 'provider'>, Phases]> = [];
  for (const [label, provider] of scaleProviders)
    runs.push([{ impl: 'e2ee-kit', provider: label }, await ours(n, provider)]);
  runs.push([{ impl: LIBSIGNAL_CLIENT }, await libsignal(n)]);
  const count = n.toLocaleString('en');
  for (const [impl, p] of runs) {
    const phases: Array<[string, Timed, number]> = [
      [`group of ${count}: prepare + distribute to ${count}`, p.prepare, n],
      [`group of ${count}: encrypt once`, p.encrypt, 1],
      [`group of ${count}: ${count} decrypts`, p.decrypt, n],
    ];
    for (const [c, t, per] of phases) {
      rows.push({
        case: c,
        ...impl,
        medianMs: t.wallMs,
        cpuMs: t.cpuMs,
        samples: 1,
        work: n,
        metrics: { 'CPU per member': per > 1 ? `${((t.cpuMs / per) * 1000).toFixed(0)} µs` : '' },
      });
      console.log(
        `${c.padEnd(48)} ${`${impl.impl} ${impl.provider ?? ''}`.padEnd(28)} ${t.cpuMs.toFixed(1)} ms CPU`,
      );
    }
  }
}
emitRows('scale', rows);
