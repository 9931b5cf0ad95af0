// Benchmark (issue 3, point 8): @e2ee-kit/ratchet on every crypto provider next to
// @signalapp/libsignal-client 0.103.0 (native Rust) and the pure-JS `libsignal` npm package (v6,
// X3DH only, node:crypto inside), in one run. Run: `pnpm bench` in packages/ratchet
// (`tsx bench/ratchet.bench.ts`). `BENCH_TIME_MS=<ms>` sets the time per task (default 900, split
// over `BENCH_ROUNDS` rounds, default 3),
// `BENCH_ONLY=setup,oneway,pingpong,skip1000,skip2000,forged-0,forged-40,forged-prekey,spqr` picks scenarios, `BENCH_IMPLS=node,pure` implementations
// (`BENCH_SPQR_MESSAGES`, default 600: length of the SPQR conversation, `BENCH_SPQR_ROUNDS`, default 2:
// runs of each, every run in a process of its own, see bench/spqr-conversation.ts).
//
// Scenarios (each iteration, medians reported):
// - setup+first:  initiator processes a fresh bundle, encrypts a 200-byte message, responder decrypts
//                 it (PQXDH; X3DH for the pure-JS rival, which has no Kyber). Key generation for the
//                 parties and the bundle happens before each iteration, untimed.
// - one-way:      steady state, 200-byte message encrypted by A and decrypted by B (no DH step).
// - ping-pong:    A→B then B→A, 200 bytes each: every decrypt performs a DH ratchet step
//                 (reported per round trip, i.e. 2 messages and 2 DH steps).
// - skip-1000:    B decrypts message #1000 of A's chain from a state that has seen #0..: derives and
//                 stores 1,000 skipped keys. B's session record is put back before each iteration.
// - skip-2000:    the same with 2,000 skipped keys (libsignal's per-chain maximum).
// - forged-0 / forged-40: B rejects an attacker-made 80-byte SignalMessage (fresh ratchet key, counter
//                 24,999, SPQR index 25,000, random MAC) with 0 / 40 archived session states (issue 11.3).
// - forged-prekey: B rejects a PreKey message made from its public bundle whose inner message is forged.
//                 Targets (printed): ≤ 100 ms CPU and ≤ 0.25× libsignal-client's worst forged case;
//                 skip rows ≤ 2× libsignal-client.
//
// Every implementation keeps serialized bytes in its in-memory store (ours: InMemoryProtocolStore;
// libsignal-client: the interop harness stores in 'bytes' mode, like libsignal's own test stores;
// pure-JS: JSON text). A libsignal-client row with an object store (records kept as native objects,
// as Signal-Desktop caches them) is printed for reference.
import { cpus } from 'node:os';
import type { CryptoProvider } from '@e2ee-kit/core';
import { platformProvider } from '@e2ee-kit/core';
import {
  type AddressLike,
  type LibHandle,
  LibsignalParty,
  libs,
  type RawPreKeyBundle,
  type RawWireMessage,
} from '@e2ee-kit/interop/libsignal';
import { LibsignalJsParty } from '@e2ee-kit/interop/rivals';
import {
  createPreKeyBundle,
  PreKeyBundle,
  type PreKeyBundleParts,
  PreKeySignalMessage,
  SessionCipher,
  SessionRecord,
} from '@e2ee-kit/ratchet';
import { InMemoryProtocolStore } from '@e2ee-kit/ratchet/testing';
import { Bench, type FnOptions } from 'tinybench';
import { emitRows, implOf, type PackageRow } from '../../../tools/bench/emit.js';
import { allProviders } from '../../../tools/providers.js';
import { forgedPreKeyMessage, forgedSignalMessage } from '../test/forgery.js';
import {
  type SpqrImpl,
  type SpqrRunOptions,
  spqrConversationChild,
  spqrConversationReport,
} from './spqr-conversation.js';

const TIME_MS = Number(process.env['BENCH_TIME_MS'] ?? 900);
const ROUNDS = Number(process.env['BENCH_ROUNDS'] ?? 3);
const PAYLOAD = new Uint8Array(200).map((_, i) => (i * 31 + 7) & 0xff);

/** What every implementation offers the scenarios. */
interface Party {
  readonly address: AddressLike;
  createBundle(): Promise<unknown>;
  processBundle(peer: AddressLike, bundle: unknown): Promise<void>;
  encrypt(peer: AddressLike, plaintext: Uint8Array): Promise<RawWireMessage>;
  decrypt(peer: AddressLike, message: RawWireMessage): Promise<Uint8Array>;
  saveSession(peer: AddressLike): Promise<unknown>;
  restoreSession(peer: AddressLike, saved: unknown): Promise<void>;
}

interface Impl {
  readonly label: string;
  /** Ratios are computed against this implementation's medians. */
  readonly baseline?: boolean;
  create(): Promise<Party>;
}

let counter = 0;

class OurParty implements Party {
  readonly address: AddressLike;
  readonly #ciphers = new Map<string, SessionCipher>();
  private constructor(
    readonly store: InMemoryProtocolStore,
    readonly provider: CryptoProvider,
    readonly protocol: 'pqxdh' | 'x3dh',
  ) {
    this.address = { name: `ours-${++counter}`, deviceId: 1 };
  }
  /** `protocol: 'x3dh'` starts (and accepts) version-3 sessions: the Double Ratchet without SPQR. */
  static async create(provider: CryptoProvider, protocol: 'pqxdh' | 'x3dh' = 'pqxdh'): Promise<OurParty> {
    return new OurParty(await InMemoryProtocolStore.create({ provider }), provider, protocol);
  }
  cipher(peer: AddressLike): SessionCipher {
    const k = `${peer.name}.${peer.deviceId}`;
    let c = this.#ciphers.get(k);
    if (!c) {
      c = new SessionCipher(this.store, peer, {
        provider: this.provider,
        localAddress: this.address,
        acceptX3dh: this.protocol === 'x3dh',
      });
      this.#ciphers.set(k, c);
    }
    return c;
  }
  async createBundle(): Promise<unknown> {
    return (
      await createPreKeyBundle(this.store, { deviceId: this.address.deviceId, provider: this.provider })
    ).toParts();
  }
  async processBundle(peer: AddressLike, bundle: unknown): Promise<void> {
    await this.cipher(peer).initiate(PreKeyBundle.from(bundle as PreKeyBundleParts), {
      protocol: this.protocol,
    });
  }
  encrypt(peer: AddressLike, plaintext: Uint8Array): Promise<RawWireMessage> {
    return this.cipher(peer).encrypt(plaintext);
  }
  async decrypt(peer: AddressLike, message: RawWireMessage): Promise<Uint8Array> {
    return (await this.cipher(peer).decrypt(message)).plaintext;
  }
  async saveSession(peer: AddressLike): Promise<unknown> {
    return (await this.store.getSession(peer))!.serialize();
  }
  async restoreSession(peer: AddressLike, saved: unknown): Promise<void> {
    await this.store.saveSession(peer, SessionRecord.deserialize(saved as Uint8Array));
  }
}

/** The rival parties share one surface; only session save/restore differ. */
interface Rival {
  readonly address: AddressLike;
  createBundle(): Promise<RawPreKeyBundle>;
  processBundle(peer: AddressLike, bundle: RawPreKeyBundle): Promise<void>;
  encrypt(peer: AddressLike, plaintext: Uint8Array): Promise<RawWireMessage>;
  decrypt(peer: AddressLike, message: RawWireMessage): Promise<Uint8Array>;
}

function rivalParty<S>(
  p: Rival,
  save: (peer: AddressLike) => S,
  restore: (peer: AddressLike, s: S) => void,
): Party {
  return {
    address: p.address,
    createBundle: () => p.createBundle(),
    processBundle: (peer, b) => p.processBundle(peer, b as RawPreKeyBundle),
    encrypt: (peer, pt) => p.encrypt(peer, pt),
    decrypt: (peer, m) => p.decrypt(peer, m),
    saveSession: async (peer) => save(peer),
    restoreSession: async (peer, saved) => restore(peer, saved as S),
  };
}

function libParty(storage: 'bytes' | 'objects', lib: LibHandle = libs.lib103): Party {
  const p = LibsignalParty.create(lib, { name: `lib-${++counter}`, storage });
  return rivalParty(
    p,
    (peer) => p.sessionBytes(peer)!,
    (peer, s) => p.restoreSession(peer, s),
  );
}

function jsParty(): Party {
  const p = LibsignalJsParty.create({ name: `js-${++counter}` });
  return rivalParty(
    p,
    (peer) => p.sessionJson(peer)!,
    (peer, s) => p.restoreSession(peer, s),
  );
}

const allImpls: Impl[] = [
  ...allProviders.map(
    (p): Impl => ({ label: `e2ee-kit (${p.label})`, create: () => OurParty.create(p.provider) }),
  ),
  { label: 'libsignal-client 0.103.0', baseline: true, create: async () => libParty('bytes') },
  { label: 'libsignal-client 0.103.0 (object store)', create: async () => libParty('objects') },
  { label: 'libsignal (pure JS, npm v6)', create: async () => jsParty() },
];
// BENCH_IMPLS=<substring>,… keeps the matching implementations (the baseline always runs).
const implFilter = process.env['BENCH_IMPLS']?.split(',');
const impls = allImpls.filter(
  (i) => i.baseline || !implFilter || implFilter.some((f) => i.label.includes(f)),
);

/** A and B with an acknowledged session (B has answered once); B made by `createB` if given. */
async function establishedPair(impl: Impl, createB = impl.create): Promise<{ a: Party; b: Party }> {
  const a = await impl.create();
  const b = await createB();
  await a.processBundle(b.address, await b.createBundle());
  await b.decrypt(a.address, await a.encrypt(b.address, PAYLOAD));
  await a.decrypt(b.address, await b.encrypt(a.address, PAYLOAD));
  return { a, b };
}

function check(out: Uint8Array): void {
  if (out.length !== PAYLOAD.length || out[199] !== PAYLOAD[199]) throw new Error('wrong plaintext');
}

interface Prepared {
  fn(): Promise<void>;
  beforeEach?: () => Promise<void>;
}

interface Scenario {
  readonly key: string;
  readonly title: string;
  /** Slow tasks: one timed iteration per round, no warmup. */
  readonly heavy?: boolean;
  /** Implementations this scenario runs for (default all). */
  readonly runs?: (impl: Impl) => boolean;
  /** Sets up the parties once; the returned task is then timed in every round. */
  prepare(impl: Impl): Promise<Prepared>;
}

const scenarios: Scenario[] = [
  {
    key: 'setup',
    title: 'session setup + first message (process bundle, encrypt, decrypt)',
    async prepare(impl) {
      let a!: Party;
      let b!: Party;
      let bundle: unknown;
      return {
        async fn() {
          await a.processBundle(b.address, bundle);
          check(await b.decrypt(a.address, await a.encrypt(b.address, PAYLOAD)));
        },
        async beforeEach() {
          a = await impl.create();
          b = await impl.create();
          bundle = await b.createBundle();
        },
      };
    },
  },
  {
    key: 'oneway',
    title: 'one-way steady state, 200 B (encrypt + decrypt, no DH step)',
    async prepare(impl) {
      const { a, b } = await establishedPair(impl);
      return {
        async fn() {
          check(await b.decrypt(a.address, await a.encrypt(b.address, PAYLOAD)));
        },
      };
    },
  },
  {
    key: 'pingpong',
    title: 'ping-pong, 200 B, DH step on every message (per round trip = 2 messages)',
    async prepare(impl) {
      const { a, b } = await establishedPair(impl);
      return {
        async fn() {
          check(await b.decrypt(a.address, await a.encrypt(b.address, PAYLOAD)));
          check(await a.decrypt(b.address, await b.encrypt(a.address, PAYLOAD)));
        },
      };
    },
  },
  skipScenario(1000),
  skipScenario(2000),
  forgedScenario(0),
  // The smoke run (CI) only shows the scenario runs: 4 archived states there (40 cost ~40 s of it).
  forgedScenario(process.env['BENCH_SMOKE'] === '1' ? 4 : 40),
  {
    key: 'forged-prekey',
    title: 'reject a forged PreKey message (real handshake from the public bundle, forged inner message)',
    heavy: true,
    runs: rejectable,
    async prepare(impl) {
      const b = await impl.create();
      const mallory = await impl.create();
      await mallory.processBundle(b.address, await b.createBundle());
      const genuine = await mallory.encrypt(b.address, PAYLOAD);
      const forged = await forgedPreKeyMessage(
        platformProvider,
        PreKeySignalMessage.deserialize(genuine.body),
      );
      const message: RawWireMessage = { type: 'prekey', body: forged.serializedView };
      return { fn: () => mustFail(b.decrypt(mallory.address, message)) };
    },
  },
];

function skipScenario(n: number): Scenario {
  return {
    key: `skip${n}`,
    title: `decrypt after ${n.toLocaleString('en')} skipped messages (derive + store ${n.toLocaleString('en')} keys)`,
    // The pure-JS rival refuses a message more than 2,000 ahead of its chain (libsignal allows 25,000).
    runs: (impl) => n < 2000 || !impl.label.includes('pure JS'),
    async prepare(impl) {
      const { a, b } = await establishedPair(impl);
      for (let i = 0; i < n; i++) await a.encrypt(b.address, PAYLOAD);
      const target = await a.encrypt(b.address, PAYLOAD);
      const saved = await b.saveSession(a.address);
      return {
        async fn() {
          check(await b.decrypt(a.address, target));
        },
        beforeEach: () => b.restoreSession(a.address, saved),
      };
    },
  };
}

/** Ours and libsignal-client (the pure-JS rival speaks neither PQXDH nor SPQR). */
function rejectable(impl: Impl): boolean {
  return !impl.label.includes('pure JS');
}

async function mustFail(p: Promise<unknown>): Promise<void> {
  let failed = false;
  try {
    await p;
  } catch {
    failed = true;
  }
  if (!failed) throw new Error('a forged message was accepted');
}

function forgedScenario(archived: number): Scenario {
  return {
    key: `forged-${archived}`,
    title: `reject a forged SignalMessage (counter 24,999, fresh ratchet key), ${archived} archived states`,
    heavy: true,
    runs: rejectable,
    async prepare(impl) {
      const { a, b } = await establishedPair(impl);
      // Each new session from A archives B's previous state.
      for (let i = 0; i < archived; i++) {
        await a.processBundle(b.address, await b.createBundle());
        check(await b.decrypt(a.address, await a.encrypt(b.address, PAYLOAD)));
      }
      const forged = await forgedSignalMessage(platformProvider);
      const message: RawWireMessage = { type: 'whisper', body: forged.serializedView };
      return { fn: () => mustFail(b.decrypt(a.address, message)) };
    },
  };
}

function fmt(ms: number): string {
  if (ms >= 10) return `${ms.toFixed(1)} ms`;
  if (ms >= 1) return `${ms.toFixed(2)} ms`;
  return `${(ms * 1000).toFixed(0)} µs`;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

/** Process CPU time (all threads) in ms: steadier than wall time on a shared machine. */
function cpuNow(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
}

interface TargetRow {
  label: string;
  baseline: boolean;
  cpu: number;
}

/** Issue 11.3 targets, checked on the CPU medians of this run. */
function printTargets(t: Map<string, TargetRow[]>): void {
  // Every forged row of this run (the archived-state count differs between the full and the smoke run).
  const forged = [...t.keys()].filter((k) => k.startsWith('forged-'));
  if (forged.length > 0) {
    const libWorst = Math.max(...forged.map((k) => t.get(k)!.find((r) => r.baseline)?.cpu ?? 0));
    console.log(
      `## targets: forged messages ≤ 100 ms CPU and ≤ 0.25× libsignal-client's worst (${fmt(libWorst)})`,
    );
    for (const k of forged) {
      for (const r of t.get(k)!.filter((x) => x.label.startsWith('e2ee-kit'))) {
        const ok = r.cpu <= 100 && r.cpu <= 0.25 * libWorst;
        console.log(
          `  ${k.padEnd(14)} ${r.label.padEnd(40)} ${fmt(r.cpu).padStart(9)}  ${(r.cpu / libWorst).toFixed(2)}× of worst  ${ok ? 'met' : 'MISSED'}`,
        );
      }
    }
  }
  for (const k of ['skip1000', 'skip2000'].filter((x) => t.has(x))) {
    const rows = t.get(k)!;
    const lib = rows.find((r) => r.baseline)?.cpu ?? Number.NaN;
    console.log(`## target: ${k} ≤ 2× libsignal-client (${fmt(lib)})`);
    for (const r of rows.filter((x) => x.label.startsWith('e2ee-kit'))) {
      const ratio = r.cpu / lib;
      console.log(
        `  ${r.label.padEnd(40)} ${fmt(r.cpu).padStart(9)}  ${ratio.toFixed(2)}×  ${ratio <= 2 ? 'met' : 'MISSED'}`,
      );
    }
  }
  console.log('');
}

/**
 * The SPQR conversation's implementations, each with the same conversation on sessions without SPQR:
 * ours on a version-3 (X3DH) session, which never runs it; libsignal-client 0.103.0 cannot make one
 * (SPQR is mandatory since 0.92), so libsignal's own extra comes from 0.90.0, which runs SPQR with a
 * 0.90.0 peer and negotiates it down with a 0.72.1 one (PQXDH, version 4, no `pq_ratchet`).
 */
function spqrImpls(): SpqrImpl[] {
  const ours = impls.filter((i) => i.label.startsWith('e2ee-kit'));
  const lib103 = impls.find((i) => i.baseline)!;
  const lib90: Impl = { label: 'libsignal-client 0.90.0', create: async () => libParty('bytes', libs.lib90) };
  return [
    ...ours.map((i) => {
      const provider = allProviders.find((p) => i.label === `e2ee-kit (${p.label})`)!.provider;
      const x3dh: Impl = { label: `${i.label}, X3DH`, create: () => OurParty.create(provider, 'x3dh') };
      return {
        label: i.label,
        pair: () => establishedPair(i),
        withoutSpqr: { label: 'without SPQR (X3DH session)', pair: () => establishedPair(x3dh) },
      };
    }),
    { label: lib103.label, baseline: true, pair: () => establishedPair(lib103) },
    {
      label: lib90.label,
      pair: () => establishedPair(lib90),
      withoutSpqr: {
        label: 'without SPQR (0.90.0 ↔ 0.72.1)',
        pair: () => establishedPair(lib90, async () => libParty('bytes', libs.lib72)),
      },
    },
  ];
}

function spqrOptions(): SpqrRunOptions {
  // The smoke run (CI) only shows that every conversation runs: one process each, a shorter one
  // (still long enough for an epoch to advance), instead of 2 × 700 messages per implementation.
  const smoke = process.env['BENCH_SMOKE'] === '1';
  return {
    messages: Number(process.env['BENCH_SPQR_MESSAGES'] ?? (smoke ? 200 : 600)),
    payload: PAYLOAD,
    warmup: smoke ? 20 : 100,
    rounds: Number(process.env['BENCH_SPQR_ROUNDS'] ?? (smoke ? 1 : 2)),
  };
}

async function main(): Promise<void> {
  const child = process.env['BENCH_SPQR_CHILD'];
  if (child !== undefined) return spqrConversationChild(spqrImpls(), child, spqrOptions());
  const only = process.env['BENCH_ONLY']?.split(',');
  const started = Date.now();
  console.log(
    `@e2ee-kit/ratchet benchmark — ${new Date().toISOString().slice(0, 10)}, Node ${process.version}, ` +
      `${cpus()[0]?.model ?? 'unknown CPU'} ×${cpus().length}, ${ROUNDS} rounds × ${Math.round(TIME_MS / ROUNDS)} ms per task`,
  );
  console.log(
    'wall = median wall-clock time per iteration; cpu = median process CPU time per iteration (all threads);\n' +
      'speed = libsignal-client 0.103.0 median ÷ this median (≥ 1.00: at least as fast), for wall and cpu\n',
  );
  const summary: string[] = [];
  const targets = new Map<string, TargetRow[]>();
  const emitted: PackageRow[] = [];
  for (const sc of scenarios) {
    if (only && !only.includes(sc.key)) continue;
    const scImpls = impls.filter((i) => sc.runs?.(i) ?? true);
    const prepared = new Map<Impl, Prepared>();
    for (const impl of scImpls) prepared.set(impl, await sc.prepare(impl));
    const wall = new Map<Impl, number[]>(scImpls.map((i) => [i, []]));
    const cpu = new Map<Impl, number[]>(scImpls.map((i) => [i, []]));
    // Rounds with a rotating task order, so that load changes on a shared machine hit every
    // implementation alike.
    for (let round = 0; round < ROUNDS; round++) {
      const order = scImpls.map((_, i) => scImpls[(i + round) % scImpls.length]!);
      const bench = new Bench({
        time: sc.heavy ? 0 : TIME_MS / ROUNDS,
        iterations: sc.heavy ? 1 : 5,
        warmupTime: sc.heavy ? 0 : 50,
        warmupIterations: sc.heavy ? 0 : 2,
        retainSamples: true,
        throws: true,
      });
      const cpuRound = new Map<Impl, number[]>();
      for (const impl of order) {
        const p = prepared.get(impl)!;
        const samples: number[] = [];
        cpuRound.set(impl, samples);
        const opts: FnOptions = {
          beforeAll() {
            samples.length = 0; // keep the run phase only, not the warmup
          },
        };
        if (p.beforeEach) opts.beforeEach = p.beforeEach;
        bench.add(
          impl.label,
          async () => {
            const t = cpuNow();
            await p.fn();
            samples.push(cpuNow() - t);
          },
          opts,
        );
      }
      await bench.run();
      for (const t of bench.tasks) {
        const impl = scImpls.find((i) => i.label === t.name)!;
        const r = t.result;
        if (r.state !== 'completed') throw new Error(`${sc.key}/${t.name}: ${r.state}`);
        wall.get(impl)!.push(...(r.latency.samples ?? []));
        cpu.get(impl)!.push(...cpuRound.get(impl)!);
      }
    }
    const rows = scImpls.map((impl) => ({
      impl,
      wall: median(wall.get(impl)!),
      cpu: median(cpu.get(impl)!),
      n: wall.get(impl)!.length,
    }));
    const base = rows.find((r) => r.impl.baseline)!;
    console.log(`## ${sc.title}`);
    const w = Math.max(...rows.map((r) => r.impl.label.length));
    for (const r of rows) {
      const sw = base.wall / r.wall;
      const sc2 = base.cpu / r.cpu;
      console.log(
        `  ${r.impl.label.padEnd(w)}  wall ${fmt(r.wall).padStart(9)}  speed ${sw.toFixed(2).padStart(5)}×` +
          `   cpu ${fmt(r.cpu).padStart(9)}  speed ${sc2.toFixed(2).padStart(5)}×  (n=${r.n})`,
      );
      summary.push(
        `| ${sc.key} | ${r.impl.label} | ${fmt(r.wall)} | ${sw.toFixed(2)}× | ${fmt(r.cpu)} | ${sc2.toFixed(2)}× |`,
      );
    }
    for (const r of rows)
      emitted.push({ case: sc.title, ...implOf(r.impl.label), medianMs: r.wall, cpuMs: r.cpu, samples: r.n });
    targets.set(
      sc.key,
      rows.map((r) => ({ label: r.impl.label, baseline: r.impl.baseline === true, cpu: r.cpu })),
    );
    console.log('');
  }
  printTargets(targets);
  if (!only || only.includes('spqr')) {
    await spqrConversationReport(spqrImpls(), spqrOptions());
  }
  console.log(
    'Markdown:\n| scenario | implementation | wall median | speed | CPU median | speed |\n|---|---|---|---|---|---|',
  );
  console.log(summary.join('\n'));
  console.log(`\n(total ${((Date.now() - started) / 1000).toFixed(0)} s)`);
  emitRows('ratchet', emitted);
}

await main();
