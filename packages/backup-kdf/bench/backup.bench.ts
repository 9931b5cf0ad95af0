// Benchmarks for @e2ee-kit/backup-kdf, every rival in the same run:
//   1. Argon2id at the defaults (m = 64 MiB, t = 3, p = 4): hash-wasm, noble, the native `argon2`
//      package (through our adapter) — interleaved rounds, medians and ratios vs native.
//   2. Bulk throughput at 64 KiB chunks: our encrypt/decrypt streams vs raw AES-256-GCM calls through
//      the platform provider (and node:crypto for reference) — interleaved rounds, medians.
//   3. A 1 GiB backup streamed through create and open, resident memory (RSS) sampled throughout.
// Run: pnpm --filter @e2ee-kit/backup-kdf bench
// Env: BENCH_MIB (throughput size, default 128), BENCH_ROUNDS (default 7), BENCH_KDF_ROUNDS (default 3),
//      BENCH_GIB (streaming size, default 1), BENCH_SKIP=kdf,throughput,stream
import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream, mkdtempSync, rmSync, statSync } from 'node:fs';
import { cpus, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import {
  type Argon2Provider,
  argon2PackageProvider,
  BackupKeyring,
  createBackup,
  DEFAULT_ARGON2_PARAMS,
  hashWasmArgon2Provider,
  noAttemptLimit,
  nobleArgon2Provider,
  openBackup,
} from '@e2ee-kit/backup-kdf';
import { type CryptoProvider, platformProvider } from '@e2ee-kit/core';
import { nodeProvider } from '@e2ee-kit/core/node';
import argon2 from 'argon2';
import { emitRows, type PackageRow } from '../../../tools/bench/emit.js';

const MiB = 1024 * 1024;
const CHUNK = 64 * 1024;
const THROUGHPUT_MIB = Number(process.env['BENCH_MIB'] ?? 128);
const ROUNDS = Number(process.env['BENCH_ROUNDS'] ?? 7);
const KDF_ROUNDS = Number(process.env['BENCH_KDF_ROUNDS'] ?? 3);
const STREAM_GIB = Number(process.env['BENCH_GIB'] ?? 1);
const SKIP = new Set((process.env['BENCH_SKIP'] ?? '').split(','));
const PASSWORD = 'benchmark password 1';
/** Rows for the root summary (tools/bench): this package's, and the streamed backup as scale rows. */
const emitted: PackageRow[] = [];
const scaleRows: PackageRow[] = [];

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};
const rss = () => process.memoryUsage.rss();
const mib = (bytes: number) => (bytes / MiB).toFixed(1);

/** `total` bytes in 64 KiB pieces, from one reused buffer (the reader copies what it keeps). */
async function* source(total: number, piece = CHUNK): AsyncGenerator<Uint8Array> {
  const buf = new Uint8Array(piece);
  for (let i = 0; i < piece; i++) buf[i] = (i * 31 + 7) & 0xff;
  for (let o = 0; o < total; o += piece) {
    buf[0] = (o / piece) & 0xff; // vary content per piece
    yield o + piece <= total ? buf : buf.subarray(0, total - o);
  }
}

async function drain(it: AsyncIterable<Uint8Array>): Promise<number> {
  let n = 0;
  for await (const p of it) n += p.length;
  return n;
}

async function kdfBench(): Promise<void> {
  const providers: Array<[string, Argon2Provider]> = [
    ['argon2 (native, via argon2PackageProvider)', argon2PackageProvider(argon2 as never)],
    ['hash-wasm (default)', hashWasmArgon2Provider],
    ['@noble/hashes (no-WebAssembly fallback)', nobleArgon2Provider],
  ];
  const input = {
    ...DEFAULT_ARGON2_PARAMS,
    password: new TextEncoder().encode(PASSWORD),
    salt: new Uint8Array(16).fill(1),
    hashLength: 32,
  };
  const times = new Map<string, number[]>(providers.map(([l]) => [l, []]));
  const ratios = new Map<string, number[]>(providers.map(([l]) => [l, []]));
  for (const [, p] of providers) await p.argon2id(input); // warm-up (WASM compile, JIT)
  for (let r = 0; r < KDF_ROUNDS; r++) {
    let nativeMs = 0;
    for (const [label, p] of providers) {
      const t = performance.now();
      await p.argon2id(input);
      const ms = performance.now() - t;
      if (label.startsWith('argon2 ')) nativeMs = ms;
      times.get(label)!.push(ms);
      ratios.get(label)!.push(ms / nativeMs);
    }
  }
  console.log(`\n## Argon2id, defaults m = 64 MiB, t = 3, p = 4 (${KDF_ROUNDS} interleaved rounds)\n`);
  console.log('| implementation | median ms | time vs native argon2 |');
  console.log('|---|---:|---:|');
  for (const [label] of providers) {
    console.log(
      `| ${label} | ${median(times.get(label)!).toFixed(0)} | ${median(ratios.get(label)!).toFixed(2)}× |`,
    );
  }
  for (const [label] of providers) {
    const impl = label.startsWith('argon2 ')
      ? { impl: 'argon2 (native)' }
      : { impl: 'e2ee-kit', provider: label };
    const row = { case: 'Argon2id, defaults m = 64 MiB, t = 3, p = 4', ...impl };
    emitted.push({ ...row, medianMs: median(times.get(label)!), samples: KDF_ROUNDS });
  }
}

async function rawAead(
  p: CryptoProvider,
  total: number,
  decrypt: boolean,
  sealed?: Uint8Array,
): Promise<void> {
  const key = new Uint8Array(32).fill(3);
  const nonce = new Uint8Array(12);
  const aad = new Uint8Array(32);
  const plain = new Uint8Array(CHUNK).fill(5);
  for (let o = 0; o < total; o += CHUNK) {
    if (decrypt) await p.aes256GcmDecrypt(key, nonce, sealed!, aad);
    else await p.aes256GcmEncrypt(key, nonce, plain, aad);
  }
}

async function throughputBench(): Promise<void> {
  const total = THROUGHPUT_MIB * MiB;
  const k = new Uint8Array(32).fill(3);
  const sealedChunk = await platformProvider.aes256GcmEncrypt(
    k,
    new Uint8Array(12),
    new Uint8Array(CHUNK).fill(5),
    new Uint8Array(32),
  );
  const keyrings = new Map<string, BackupKeyring>();
  const encrypted = new Map<string, Uint8Array[]>();
  for (const [label, provider] of [
    ['platform', platformProvider],
    ['node', nodeProvider],
  ] as const) {
    const { keyring } = await BackupKeyring.create({ password: PASSWORD, provider });
    keyrings.set(label, keyring);
    const pieces: Uint8Array[] = [];
    for await (const p of keyring.encrypt(source(total))) pieces.push(p);
    encrypted.set(label, pieces);
  }
  const tasks: Array<[string, () => Promise<unknown>]> = [
    [
      'raw AES-256-GCM encrypt, platform provider, 64 KiB calls',
      () => rawAead(platformProvider, total, false),
    ],
    [
      'backup encrypt stream, platform provider',
      () => drain(keyrings.get('platform')!.encrypt(source(total))),
    ],
    [
      'raw AES-256-GCM decrypt, platform provider, 64 KiB calls',
      () => rawAead(platformProvider, total, true, sealedChunk),
    ],
    [
      'backup decrypt stream, platform provider',
      () => drain(keyrings.get('platform')!.decrypt(encrypted.get('platform')!)),
    ],
    ['raw AES-256-GCM encrypt, node provider, 64 KiB calls', () => rawAead(nodeProvider, total, false)],
    ['backup encrypt stream, node provider', () => drain(keyrings.get('node')!.encrypt(source(total)))],
    [
      'raw AES-256-GCM decrypt, node provider, 64 KiB calls',
      () => rawAead(nodeProvider, total, true, sealedChunk),
    ],
    [
      'backup decrypt stream, node provider',
      () => drain(keyrings.get('node')!.decrypt(encrypted.get('node')!)),
    ],
  ];
  const wall = new Map<string, number[]>(tasks.map(([l]) => [l, []]));
  const wallRatio = new Map<string, number[]>(tasks.map(([l]) => [l, []]));
  const cpuRatio = new Map<string, number[]>(tasks.map(([l]) => [l, []]));
  for (const [, f] of tasks) await f(); // warm-up
  for (let r = 0; r < ROUNDS; r++) {
    // Each backup stream runs right after its raw baseline; ratios are taken per round (same
    // conditions), then the median is reported: robust on a shared, noisy machine.
    for (let i = 0; i < tasks.length; i += 2) {
      const measured: Array<{ ms: number; cpu: number }> = [];
      for (const [label, f] of [tasks[i]!, tasks[i + 1]!]) {
        const c = process.cpuUsage();
        const t = performance.now();
        await f();
        const ms = performance.now() - t;
        const u = process.cpuUsage(c);
        measured.push({ ms, cpu: (u.user + u.system) / 1000 });
        wall.get(label)!.push(ms);
      }
      const ours = tasks[i + 1]![0];
      wallRatio.get(ours)!.push(measured[0]!.ms / measured[1]!.ms);
      cpuRatio.get(ours)!.push(measured[0]!.cpu / measured[1]!.cpu);
    }
  }
  const mbps = (label: string) => total / 1e6 / (median(wall.get(label)!) / 1000);
  const pct = (x: number) => `${(x * 100).toFixed(0)}%`;
  console.log(
    `\n## Bulk throughput, ${THROUGHPUT_MIB} MiB, 64 KiB chunks (${ROUNDS} rounds, decimal MB/s)\n`,
  );
  console.log(
    'Ratios: median over rounds of (raw time / stream time), wall clock and process CPU time (all threads).\n',
  );
  console.log('| task | median MB/s | stream vs raw AEAD (wall) | stream vs raw AEAD (CPU) |');
  console.log('|---|---:|---:|---:|');
  for (let i = 0; i < tasks.length; i += 2) {
    const [raw] = tasks[i]!;
    const [ours] = tasks[i + 1]!;
    console.log(`| ${raw} | ${mbps(raw).toFixed(0)} | | |`);
    console.log(
      `| ${ours} | ${mbps(ours).toFixed(0)} | ${pct(median(wallRatio.get(ours)!))} | ${pct(median(cpuRatio.get(ours)!))} |`,
    );
    const [what, provider] = ours.replace('backup ', '').split(', ') as [string, string];
    const c = `${what}, ${THROUGHPUT_MIB} MiB in 64 KiB chunks`;
    const p = provider.replace(' provider', '');
    for (const [impl, label] of [
      [{ impl: 'e2ee-kit', provider: p }, ours],
      [{ impl: `raw AES-256-GCM calls (${p})` }, raw],
    ] as const)
      emitted.push({ case: c, ...impl, medianMs: median(wall.get(label)!), samples: ROUNDS });
  }
}

/** A streamed run as a scale row: throughput and memory. */
function scaleRow(run: string, total: number, ms: number, base: number, peak: number): void {
  scaleRows.push({
    case: `backup of ${mib(total)} MiB: ${run}`,
    impl: 'e2ee-kit',
    provider: 'platform',
    medianMs: ms,
    samples: 1,
    work: total,
    metrics: {
      throughput: `${(total / 1e6 / (ms / 1000)).toFixed(0)} MB/s`,
      'peak RSS': `${mib(peak)} MiB`,
      'RSS growth while streaming': `${mib(peak - base)} MiB`,
    },
  });
}

class RssSampler {
  max = 0;
  #timer: ReturnType<typeof setInterval> | undefined;
  start(): void {
    this.max = rss();
    this.#timer = setInterval(() => this.sample(), 5);
  }
  sample(): void {
    const v = rss();
    if (v > this.max) this.max = v;
  }
  stop(): number {
    clearInterval(this.#timer);
    this.sample();
    return this.max;
  }
}

async function streamBench(): Promise<void> {
  const total = STREAM_GIB * 1024 * MiB;
  const dir = mkdtempSync(join(tmpdir(), 'backup-bench-'));
  const path = join(dir, 'backup.bkdf');
  const rows: string[] = [];
  try {
    const inHash = createHash('sha256');
    for await (const p of source(total)) inHash.update(p);
    const expected = inHash.digest('hex');

    // create → file (Argon2 at the defaults runs first; baseline is taken after it)
    const beforeKdf = rss();
    const { output } = await createBackup(source(total), { password: PASSWORD });
    const sampler = new RssSampler();
    const base1 = rss();
    sampler.start();
    let t = performance.now();
    await pipeline(Readable.from(output, { objectMode: false, highWaterMark: 1 }), createWriteStream(path));
    const createMs = performance.now() - t;
    const peak1 = sampler.stop();
    scaleRow('create → file', total, createMs, base1, peak1);
    rows.push(
      `| create → file | ${mib(total)} MiB → ${mib(statSync(path).size)} MiB | ${(createMs / 1000).toFixed(1)} s | ${mib(base1)} | ${mib(peak1)} | **${mib(peak1 - base1)}** | ${mib(base1 - beforeKdf)} |`,
    );

    // file → open
    const beforeKdf2 = rss();
    const { plaintext } = await openBackup(
      createReadStream(path, { highWaterMark: CHUNK }),
      { password: PASSWORD },
      { attempts: noAttemptLimit },
    );
    const base2 = rss();
    sampler.start();
    t = performance.now();
    const outHash = createHash('sha256');
    for await (const p of plaintext) {
      outHash.update(p);
      sampler.sample();
    }
    const openMs = performance.now() - t;
    const peak2 = sampler.stop();
    const ok = outHash.digest('hex') === expected;
    scaleRow('file → open', total, openMs, base2, peak2);
    rows.push(
      `| file → open | ${mib(total)} MiB (plaintext ${ok ? 'verified' : 'MISMATCH'}) | ${(openMs / 1000).toFixed(1)} s | ${mib(base2)} | ${mib(peak2)} | **${mib(peak2 - base2)}** | ${mib(base2 - beforeKdf2)} |`,
    );

    // create → open in one pipeline, never stored
    const { output: out3 } = await createBackup(source(total), { password: PASSWORD });
    const { plaintext: p3 } = await openBackup(out3, { password: PASSWORD }, { attempts: noAttemptLimit });
    const base3 = rss();
    sampler.start();
    t = performance.now();
    const h3 = createHash('sha256');
    for await (const p of p3) {
      h3.update(p);
      sampler.sample();
    }
    const pipeMs = performance.now() - t;
    const peak3 = sampler.stop();
    const ok3 = h3.digest('hex') === expected;
    scaleRow('create → open, piped', total, pipeMs, base3, peak3);
    rows.push(
      `| create → open, piped | ${mib(total)} MiB (plaintext ${ok3 ? 'verified' : 'MISMATCH'}) | ${(pipeMs / 1000).toFixed(1)} s | ${mib(base3)} | ${mib(peak3)} | **${mib(peak3 - base3)}** | |`,
    );
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  console.log(
    `\n## ${STREAM_GIB} GiB streamed through create and open (default Argon2 and platform provider; RSS in MiB)\n`,
  );
  console.log(
    '| run | data | time | RSS at start of stream | peak RSS | growth while streaming | growth from the KDF before it |',
  );
  console.log('|---|---|---:|---:|---:|---:|---:|');
  for (const r of rows) console.log(r);
}

async function main(): Promise<void> {
  console.log(`# @e2ee-kit/backup-kdf benchmark — ${new Date().toISOString().slice(0, 10)}`);
  console.log(
    `Node ${process.version}, ${cpus().length}× ${cpus()[0]?.model ?? 'cpu'}, ${(totalmem() / 1024 ** 3).toFixed(0)} GiB RAM, ${process.platform}-${process.arch}`,
  );
  // Streaming first, so its memory baseline is not inflated by the in-memory throughput data.
  if (!SKIP.has('stream')) await streamBench();
  if (!SKIP.has('kdf')) await kdfBench();
  if (!SKIP.has('throughput')) await throughputBench();
  emitRows('backup-kdf', emitted);
  emitRows('scale', scaleRows);
}

await main();
