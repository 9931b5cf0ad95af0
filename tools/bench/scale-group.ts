// Scale row: a group of N member devices, one sender. Three phases, each timed once:
//   prepare:  the sender's first send plan (ours: prepareSend over N members + markDelivered;
//             libsignal-client, which keeps no membership: SenderKeyDistributionMessage.create) and
//             every member processing the distribution message;
//   encrypt:  one 200-byte group message (encrypted once for everyone): the median of 9 sends after 2
//             untimed ones, made after the decrypt phase (a single first send measured the JIT, a cold
//             key import and whichever GC landed on it, not the send; its time is kept as a metric);
//   decrypt:  each of the N members decrypts the first message (N stores).
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

type Phases = { prepare: Timed; encrypt: Timed; firstEncrypt: Timed; decrypt: Timed };

const ENCRYPT_WARMUP = 2;
const ENCRYPT_SAMPLES = 9;

/** The median (by CPU) of `ENCRYPT_SAMPLES` runs of `send` after `ENCRYPT_WARMUP` untimed ones. */
async function warmEncrypt(send: () => Promise<void>): Promise<Timed> {
  for (let i = 0; i < ENCRYPT_WARMUP; i++) await send();
  const samples: Timed[] = [];
  for (let i = 0; i < ENCRYPT_SAMPLES; i++) samples.push(await timed(send));
  samples.sort((a, b) => a.cpuMs - b.cpuMs);
  return samples[Math.floor(samples.length / 2)] as Timed;
}

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
  const firstEncrypt = await timed(async () => {
    wire = await sender.encrypt(alice, group, PLAINTEXT);
  });
  const decrypt = await timed(async () => {
    for (const r of receivers) check((await r.decrypt(alice, wire)).plaintext);
  });
  const encrypt = await warmEncrypt(async () => {
    await sender.encrypt(alice, group, PLAINTEXT);
  });
  return { prepare, encrypt, firstEncrypt, decrypt };
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
  const firstEncrypt = await timed(async () => {
    wire = (await L.groupEncrypt(addr, group, senderStore, new Uint8Array(PLAINTEXT))).serialize();
  });
  const decrypt = await timed(async () => {
    for (const s of stores) check(await L.groupDecrypt(addr, s, new Uint8Array(wire)));
  });
  const encrypt = await warmEncrypt(async () => {
    await L.groupEncrypt(addr, group, senderStore, new Uint8Array(PLAINTEXT));
  });
  return { prepare, encrypt, firstEncrypt, decrypt };
}

function check(out: Uint8Array): void {
  if (out.length !== PLAINTEXT.length || out[199] !== PLAINTEXT[199]) throw new Error('wrong plaintext');
}

const rows: PackageRow[] = [];
for (const [, provider] of scaleProviders) await ours(4, provider); // warm-up (JIT) of every path
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
      [`group of ${count}: encrypt once (median of ${ENCRYPT_SAMPLES}, warm)`, p.encrypt, 1],
      [`group of ${count}: ${count} decrypts`, p.decrypt, n],
    ];
    for (const [c, t, per] of phases) {
      const first = c.includes('encrypt once')
        ? { 'first encrypt': `${p.firstEncrypt.cpuMs.toFixed(2)} ms CPU` }
        : {};
      rows.push({
        case: c,
        ...impl,
        medianMs: t.wallMs,
        cpuMs: t.cpuMs,
        work: n,
        samples: c.includes('encrypt once') ? ENCRYPT_SAMPLES : 1,
        metrics: {
          'CPU per member': per > 1 ? `${((t.cpuMs / per) * 1000).toFixed(0)} µs` : '',
          ...first,
        },
      });
      console.log(
        `${c.padEnd(48)} ${`${impl.impl} ${impl.provider ?? ''}`.padEnd(28)} ${t.cpuMs.toFixed(1)} ms CPU`,
      );
    }
  }
}
emitRows('scale', rows);
