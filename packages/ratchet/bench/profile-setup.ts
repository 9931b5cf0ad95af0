// Profiling driver for the benchmark's `setup` scenario (not a benchmark): exactly what
// ratchet.bench.ts times — the initiator processes a bundle (PreKeyBundle.from of its parts), encrypts
// 200 B, the responder decrypts — with both parties and the bundle made before each iteration, untimed.
// `node --cpu-prof --cpu-prof-interval 100 --import tsx bench/profile-setup.ts`;
// PROFILE_PROVIDER=node|platform|noble, PROFILE_N iterations timed after PROFILE_WARMUP (default 20).
import { type CryptoProvider, nobleProvider, platformProvider } from '@e2ee-kit/core';
import { nodeProvider } from '@e2ee-kit/core/node';
import { createPreKeyBundle, PreKeyBundle, SessionCipher } from '@e2ee-kit/ratchet';
import { InMemoryProtocolStore } from '@e2ee-kit/ratchet/testing';

const providers = { node: nodeProvider, platform: platformProvider, noble: nobleProvider };
const provider: CryptoProvider =
  providers[(process.env['PROFILE_PROVIDER'] ?? 'node') as keyof typeof providers];
const n = Number(process.env['PROFILE_N'] ?? 200);
const warmup = Number(process.env['PROFILE_WARMUP'] ?? 20);
const payload = new Uint8Array(200).map((_, i) => (i * 31 + 7) & 0xff);
let counter = 0;

function cpuMs(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
}

async function party() {
  const address = { name: `p-${++counter}`, deviceId: 1 };
  return { address, store: await InMemoryProtocolStore.create({ provider }) };
}

async function main(): Promise<void> {
  const samples: number[][] = [];
  for (let i = 0; i < warmup + n; i++) {
    const a = await party();
    const b = await party();
    const parts = (await createPreKeyBundle(b.store, { deviceId: 1, provider })).toParts();
    const ab = new SessionCipher(a.store, b.address, { provider, localAddress: a.address });
    const ba = new SessionCipher(b.store, a.address, { provider, localAddress: b.address });
    const t0 = cpuMs();
    await ab.initiate(PreKeyBundle.from(parts));
    const t1 = cpuMs();
    const message = await ab.encrypt(payload);
    const t2 = cpuMs();
    const out = await ba.decrypt(message);
    const t3 = cpuMs();
    if (out.plaintext[199] !== payload[199]) throw new Error('wrong plaintext');
    if (i >= warmup) samples.push([t3 - t0, t1 - t0, t2 - t1, t3 - t2]);
  }
  const med = (k: number) => {
    const s = samples.map((x) => x[k] as number).sort((x, y) => x - y);
    return (s[n >> 1] as number).toFixed(2);
  };
  console.log(
    `setup ${process.env['PROFILE_PROVIDER'] ?? 'node'}: median CPU ${med(0)} ms (initiate ${med(1)}, encrypt ${med(2)}, decrypt ${med(3)}; n=${n})`,
  );
}
await main();
