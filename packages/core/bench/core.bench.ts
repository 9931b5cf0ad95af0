// Benchmarks of core's primitives on every provider, next to @signalapp/libsignal-client 0.103.0
// (Rust, native) in the same run. Prints a Markdown table: median ops/s and ours/libsignal.
// Run: pnpm --filter @e2ee-kit/core bench   (BENCH_TIME_MS=<ms per task> for longer, steadier runs)
import { cpus } from 'node:os';
import {
  type CryptoProvider,
  createPlatformProvider,
  KeyPair,
  nobleProvider,
  platformProvider,
  xeddsaSign,
  xeddsaVerify,
} from '@e2ee-kit/core';
import { nodeProvider } from '@e2ee-kit/core/node';
import { lib103 as L } from '@e2ee-kit/interop/libsignal';
import { Bench } from 'tinybench';
import { emitRows, implOf } from '../../../tools/bench/emit.js';

const TIME = Number(process.env['BENCH_TIME_MS'] ?? 400);
const providers: ReadonlyArray<[string, CryptoProvider]> = [
  ['noble', nobleProvider],
  ['platform', platformProvider],
  ['platform (all Web Crypto)', createPlatformProvider({ webCryptoMinBytes: 0 })],
  ['node', nodeProvider],
];

const bytes = (n: number) => nobleProvider.randomBytes(n);
const lb = (b: Uint8Array): Uint8Array<ArrayBuffer> => new Uint8Array(b);

interface Op {
  readonly name: string;
  readonly ours: (p: CryptoProvider) => () => Promise<unknown> | unknown;
  readonly libsignal?: () => unknown;
}

async function main(): Promise<void> {
  const me = await KeyPair.generate(nobleProvider);
  const peer = await KeyPair.generate(nobleProvider);
  const msg = bytes(100);
  const sig = xeddsaSign(me.privateKey, msg, nobleProvider);
  const ikm = bytes(32);
  const salt = bytes(32);
  const info = new TextEncoder().encode('WhisperMessageKeys');
  const key = bytes(32);
  const iv = bytes(16);
  const small = bytes(200);
  const large = bytes(64 * 1024);
  const kib = bytes(1024);

  const libMe = L.PrivateKey.deserialize(lb(me.privateKey.serialize()));
  const libPeer = L.PublicKey.deserialize(lb(peer.publicKey.serialize()));
  const libMePub = libMe.getPublicKey();
  const libMsg = lb(msg);
  const libSig = lb(sig);

  const ops: Op[] = [
    {
      name: 'X25519 agreement',
      ours: (p) => () => me.privateKey.agree(peer.publicKey, p),
      libsignal: () => libMe.agree(libPeer),
    },
    {
      // A ratchet step: a fresh key pair, then one agreement (no key-import cache can help).
      name: 'X25519 fresh key pair + agreement',
      ours: (p) => async () => (await KeyPair.generate(p)).privateKey.agree(peer.publicKey, p),
      libsignal: () => L.PrivateKey.generate().agree(libPeer),
    },
    {
      name: 'XEdDSA sign (100 B)',
      ours: (p) => () => xeddsaSign(me.privateKey, msg, p),
      libsignal: () => libMe.sign(libMsg),
    },
    {
      name: 'XEdDSA verify (100 B)',
      ours: (p) => () => xeddsaVerify(me.publicKey, msg, sig, p),
      libsignal: () => libMePub.verify(libMsg, libSig),
    },
    {
      name: 'HKDF-SHA256 (80 B out)',
      ours: (p) => () => p.hkdfSha256(ikm, salt, info, 80),
      libsignal: () => L.hkdf(80, lb(ikm), lb(info), lb(salt)),
    },
    { name: 'AES-256-CBC encrypt (200 B)', ours: (p) => () => p.aes256CbcEncrypt(key, iv, small) },
    { name: 'AES-256-CBC encrypt (64 KiB)', ours: (p) => () => p.aes256CbcEncrypt(key, iv, large) },
    { name: 'SHA-512 (1 KiB)', ours: (p) => () => p.sha512(kib) },
  ];

  // Sanity: every provider gives the same bytes as libsignal before anything is timed.
  for (const [, p] of providers) {
    const a = await me.privateKey.agree(peer.publicKey, p);
    if (Buffer.compare(a, libMe.agree(libPeer)) !== 0) throw new Error(`${p.name}: agreement differs`);
    if (!(await xeddsaVerify(me.publicKey, msg, lb(libMe.sign(libMsg)), p))) throw new Error('verify failed');
    const h = await p.hkdfSha256(ikm, salt, info, 80);
    if (Buffer.compare(h, L.hkdf(80, lb(ikm), lb(info), lb(salt))) !== 0) throw new Error('hkdf differs');
  }

  const bench = new Bench({ time: TIME, warmupTime: Math.min(100, TIME), throws: true });
  for (const op of ops) {
    for (const [label, p] of providers) bench.add(`${op.name}|${label}`, op.ours(p));
    if (op.libsignal) bench.add(`${op.name}|libsignal-client 0.103.0`, op.libsignal);
  }
  const started = Date.now();
  await bench.run();

  const median = new Map<string, number>();
  const rme = new Map<string, number>();
  for (const t of bench.tasks) {
    const r = t.result;
    if (r.state !== 'completed') throw new Error(`${t.name}: ${r.state}`);
    median.set(t.name, r.throughput.p50);
    rme.set(t.name, r.throughput.rme);
  }
  const fmt = (n: number) =>
    n >= 100
      ? Math.round(n).toLocaleString('en-US')
      : n.toLocaleString('en-US', { maximumSignificantDigits: 3 });

  console.log(
    `\n@e2ee-kit/core benchmark — ${new Date().toISOString().slice(0, 10)}, Node ${process.version}, ` +
      `${cpus()[0]?.model ?? 'unknown CPU'} (${cpus().length} cores), ${TIME} ms per task, ` +
      `${((Date.now() - started) / 1000).toFixed(1)} s\n`,
  );
  console.log('| operation | implementation | ops/s (median) | ± rme | ours / libsignal |');
  console.log('|---|---|---:|---:|---:|');
  for (const op of ops) {
    const lib = median.get(`${op.name}|libsignal-client 0.103.0`);
    for (const [label] of providers) {
      const m = median.get(`${op.name}|${label}`)!;
      const ratio = lib === undefined ? 'n/a' : `${(m / lib).toFixed(2)}×`;
      console.log(
        `| ${op.name} | ${label} | ${fmt(m)} | ${rme.get(`${op.name}|${label}`)!.toFixed(1)} % | ${ratio} |`,
      );
    }
    if (lib !== undefined) {
      console.log(
        `| ${op.name} | libsignal-client 0.103.0 | ${fmt(lib)} | ${rme.get(`${op.name}|libsignal-client 0.103.0`)!.toFixed(1)} % | 1.00× |`,
      );
    }
  }
  console.log(
    '\nlibsignal-client 0.103.0 exposes no AES-CBC or SHA-512 in its Node API: no ratio for those rows.',
  );
  emitRows(
    'core',
    bench.tasks.map((t) => {
      const [op, label] = t.name.split('|') as [string, string];
      const r = t.result as { latency: { p50: number; samplesCount: number } };
      return { case: op, ...implOf(label), medianMs: r.latency.p50, samples: r.latency.samplesCount };
    }),
  );
}

await main();
