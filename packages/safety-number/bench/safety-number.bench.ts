// A full safety number (2 × 5200 SHA-512 + digits + scannable payload) on every provider, next to
// @signalapp/libsignal-client 0.103.0 (Rust, native) in the same run; also compare() of a scanned
// payload. Prints a Markdown table: median time per call and the time ratio ours ÷ libsignal.
// Run: pnpm --filter @e2ee-kit/safety-number bench   (BENCH_TIME_MS=<ms per task> for longer runs)
import { cpus } from 'node:os';
import {
  type CryptoProvider,
  createPlatformProvider,
  KeyPair,
  nobleProvider,
  platformProvider,
  toHex,
} from '@e2ee-kit/core';
import { nodeProvider } from '@e2ee-kit/core/node';
import { lib103 as L } from '@e2ee-kit/interop/libsignal';
import { computeSafetyNumber, DEFAULT_ITERATIONS } from '@e2ee-kit/safety-number';
import { Bench } from 'tinybench';

const TIME = Number(process.env['BENCH_TIME_MS'] ?? 1500);
const LIB = 'libsignal-client 0.103.0';
const providers: ReadonlyArray<[string, CryptoProvider]> = [
  ['noble', nobleProvider],
  ['platform', platformProvider],
  ['platform (all Web Crypto)', createPlatformProvider({ webCryptoMinBytes: 0 })],
  ['node', nodeProvider],
];
const lb = (b: Uint8Array): Uint8Array<ArrayBuffer> => new Uint8Array(b);

async function main(): Promise<void> {
  const alice = await KeyPair.generate(nobleProvider);
  const bob = await KeyPair.generate(nobleProvider);
  const aliceId = nobleProvider.randomBytes(16);
  const bobId = nobleProvider.randomBytes(16);
  const local = { identifier: aliceId, identityKey: alice.publicKey };
  const remote = { identifier: bobId, identityKey: bob.publicKey };
  const libAlice = L.PublicKey.deserialize(lb(alice.publicKey.serialize()));
  const libBob = L.PublicKey.deserialize(lb(bob.publicKey.serialize()));

  const ours = (provider: CryptoProvider) => () => {
    const sn = computeSafetyNumber({ local, remote, provider });
    return [sn.digits, sn.scannable.serialize()] as const;
  };
  const libsignal = () => {
    const f = L.Fingerprint.new(DEFAULT_ITERATIONS, 2, lb(aliceId), libAlice, lb(bobId), libBob);
    return [f.displayableFingerprint().toString(), f.scannableFingerprint().toBuffer()] as const;
  };

  // Sanity: every provider gives libsignal's digits and bytes before anything is timed.
  const [libDigits, libScan] = libsignal();
  for (const [label, p] of providers) {
    const [digits, scan] = ours(p)();
    if (digits !== libDigits || toHex(scan) !== toHex(libScan))
      throw new Error(`${label}: differs from libsignal`);
  }

  const aliceSn = computeSafetyNumber({ local, remote });
  const bobScan = computeSafetyNumber({ local: remote, remote: local }).scannable.serialize();
  const libAliceScan = L.ScannableFingerprint._fromBuffer(lb(aliceSn.scannable.serialize()));
  const libBobScan = L.ScannableFingerprint._fromBuffer(lb(bobScan));
  if (aliceSn.compare(bobScan).status !== 'match' || !libAliceScan.compare(libBobScan)) {
    throw new Error('compare sanity check failed');
  }

  const bench = new Bench({ time: TIME, warmupTime: Math.min(300, TIME), throws: true });
  const full = 'safety number (2 × 5200 SHA-512)';
  const cmp = 'compare scanned payload';
  for (const [label, p] of providers) bench.add(`${full}|${label}`, ours(p));
  bench.add(`${full}|${LIB}`, libsignal);
  bench.add(`${cmp}|e2ee-kit`, () => aliceSn.compare(bobScan));
  bench.add(`${cmp}|${LIB}`, () => libAliceScan.compare(L.ScannableFingerprint._fromBuffer(lb(bobScan))));
  const started = Date.now();
  await bench.run();

  const latency = new Map<string, { p50: number; rme: number }>();
  for (const t of bench.tasks) {
    const r = t.result;
    if (r.state !== 'completed') throw new Error(`${t.name}: ${r.state}`);
    latency.set(t.name, { p50: r.latency.p50, rme: r.latency.rme });
  }
  const ms = (n: number) => (n >= 1 ? n.toFixed(2) : n.toPrecision(3));

  console.log(
    `\n@e2ee-kit/safety-number benchmark — ${new Date().toISOString().slice(0, 10)}, Node ${process.version}, ` +
      `${cpus()[0]?.model ?? 'unknown CPU'} (${cpus().length} cores), ${TIME} ms per task, ` +
      `${((Date.now() - started) / 1000).toFixed(1)} s\n`,
  );
  console.log('| operation | implementation | median ms / call | ± rme | time ÷ libsignal |');
  console.log('|---|---|---:|---:|---:|');
  const rows: Array<[string, string[]]> = [
    [full, [...providers.map(([l]) => l), LIB]],
    [cmp, ['e2ee-kit', LIB]],
  ];
  for (const [op, labels] of rows) {
    const lib = latency.get(`${op}|${LIB}`)!.p50;
    for (const label of labels) {
      const { p50, rme } = latency.get(`${op}|${label}`)!;
      console.log(`| ${op} | ${label} | ${ms(p50)} | ${rme.toFixed(1)} % | ${(p50 / lib).toFixed(2)}× |`);
    }
  }
}

await main();
