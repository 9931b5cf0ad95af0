// A full safety number (2 × 5200 SHA-512 + digits + scannable payload) on every provider, next to
// @signalapp/libsignal-client 0.103.0 (Rust, native) in the same run; also compare() of a scanned
// payload. Prints a Markdown table: median time per call and the time ratio ours ÷ libsignal.
// Run: pnpm --filter @e2ee-kit/safety-number bench   (BENCH_TIME_MS=<ms per task per round>, BENCH_ROUNDS=<n>)
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
import { withWasmSha512 } from '@e2ee-kit/safety-number/wasm';
import { Bench } from 'tinybench';
import { emitRows, implOf, type PackageRow } from '../../../tools/bench/emit.js';

const TIME = Number(process.env['BENCH_TIME_MS'] ?? 500);
const ROUNDS = Number(process.env['BENCH_ROUNDS'] ?? 5);
const LIB = 'libsignal-client 0.103.0';
const providers: ReadonlyArray<[string, CryptoProvider]> = [
  ['noble', nobleProvider],
  ['platform', platformProvider],
  ['platform (all Web Crypto)', createPlatformProvider({ webCryptoMinBytes: 0 })],
  ['node', nodeProvider],
  // The opt-in entry `@e2ee-kit/safety-number/wasm` over the pure path (any runtime with WebAssembly).
  ['platform + wasm SHA-512 (opt-in)', await withWasmSha512(platformProvider)],
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

  const full = 'safety number (2 × 5200 SHA-512)';
  const cmp = 'compare scanned payload';
  // Interleaved rounds: on a shared machine the load changes during a run, so every task runs once
  // per round and the table shows the median of its round medians (ratios come from the same rounds).
  const samples = new Map<string, number[]>();
  const started = Date.now();
  for (let round = 0; round < ROUNDS; round++) {
    const bench = new Bench({ time: TIME, warmupTime: Math.min(300, TIME), throws: true });
    for (const [label, p] of providers) bench.add(`${full}|${label}`, ours(p));
    bench.add(`${full}|${LIB}`, libsignal);
    bench.add(`${cmp}|e2ee-kit`, () => aliceSn.compare(bobScan));
    bench.add(`${cmp}|${LIB}`, () => libAliceScan.compare(L.ScannableFingerprint._fromBuffer(lb(bobScan))));
    await bench.run();
    for (const t of bench.tasks) {
      const r = t.result;
      if (r.state !== 'completed') throw new Error(`${t.name}: ${r.state}`);
      samples.set(t.name, [...(samples.get(t.name) ?? []), r.latency.p50]);
    }
  }
  const median = (xs: readonly number[]) =>
    xs.slice().sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number;
  const latency = new Map<string, { p50: number; min: number; max: number }>();
  for (const [name, xs] of samples)
    latency.set(name, { p50: median(xs), min: Math.min(...xs), max: Math.max(...xs) });
  const ms = (n: number) => (n >= 1 ? n.toFixed(2) : n.toPrecision(3));

  console.log(
    `\n@e2ee-kit/safety-number benchmark — ${new Date().toISOString().slice(0, 10)}, Node ${process.version}, ` +
      `${cpus()[0]?.model ?? 'unknown CPU'} (${cpus().length} cores), median of ${ROUNDS} round medians, ` +
      `${TIME} ms per task per round, ` +
      `${((Date.now() - started) / 1000).toFixed(1)} s\n`,
  );
  console.log(
    '| operation | implementation | median ms / call | round medians (min–max) | time ÷ libsignal |',
  );
  console.log('|---|---|---:|---:|---:|');
  const rows: Array<[string, string[]]> = [
    [full, [...providers.map(([l]) => l), LIB]],
    [cmp, ['e2ee-kit', LIB]],
  ];
  for (const [op, labels] of rows) {
    const lib = latency.get(`${op}|${LIB}`)!.p50;
    for (const label of labels) {
      const { p50, min, max } = latency.get(`${op}|${label}`)!;
      console.log(`| ${op} | ${label} | ${ms(p50)} | ${ms(min)}–${ms(max)} | ${(p50 / lib).toFixed(2)}× |`);
    }
  }
  const emitted: PackageRow[] = rows.flatMap(([op, labels]) =>
    labels.map((label) => ({
      case: op,
      ...implOf(label),
      medianMs: latency.get(`${op}|${label}`)!.p50,
      samples: ROUNDS,
    })),
  );
  emitRows('safety-number', emitted);
}

await main();
