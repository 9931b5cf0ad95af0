// SPQR rows of the ratchet benchmark (issue 13.5): CPU and wire bytes per message of an alternating
// conversation long enough for several braid epochs, ours next to libsignal-client in the same run,
// and what SPQR itself adds: the same conversation on a session without SPQR. Epoch-advancing
// messages (the sender's wire epoch moved on since its previous message) are reported apart from the
// others; "all" is the mean over the whole conversation (each message's share of the ML-KEM work and
// of the process's garbage collection included). Target: mean CPU per message ≤ libsignal-client's on
// the node provider, ≤ 2× on platform.
//
// Every conversation runs in a process of its own (this script again, `BENCH_SPQR_CHILD` naming the
// conversation): a major GC costs 20–70 ms of process CPU and lands on whichever message is running
// when the shared heap crosses its limit, which in one process moved a 600-message mean by 100 µs or
// more from run to run and charged one implementation's garbage to another. The conversations run one
// after the other in `rounds` rounds with a rotating order, so load changes on a shared machine hit
// every row alike; each round's samples are pooled.
import { spawn } from 'node:child_process';
import { decodeVarint } from '@e2ee-kit/core';
import type { AddressLike, RawWireMessage } from '@e2ee-kit/interop/libsignal';
import { PreKeySignalMessage, SignalMessage } from '@e2ee-kit/ratchet';

export interface ConversationParty {
  readonly address: AddressLike;
  encrypt(peer: AddressLike, plaintext: Uint8Array): Promise<RawWireMessage>;
  decrypt(peer: AddressLike, message: RawWireMessage): Promise<Uint8Array>;
}

export type PairFactory = () => Promise<{ a: ConversationParty; b: ConversationParty }>;

export interface SpqrImpl {
  readonly label: string;
  readonly baseline?: boolean;
  pair: PairFactory;
  /** The same conversation on sessions that do not run SPQR (the "extra" is with − without). */
  readonly withoutSpqr?: { readonly label: string; readonly pair: PairFactory };
}

export interface SpqrRunOptions {
  readonly messages: number;
  readonly payload: Uint8Array;
  /** Messages on a throwaway pair first (compiling the code paths is not charged to the rows). */
  readonly warmup: number;
  readonly rounds: number;
}

/** One conversation's per-message results, as a child process reports them. */
interface Samples {
  cpu: number[];
  advancing: boolean[];
  bytes: number;
  pqBytes: number;
  epochs: string;
}

interface Stats {
  all: number;
  ordinary: number;
  advancing: number;
  advancingMax: number;
  advancingCount: number;
  bytes: number;
  pqBytes: number;
  epochs: string;
}

function pqOf(m: RawWireMessage): Uint8Array {
  return m.type === 'prekey'
    ? PreKeySignalMessage.deserialize(m.body).message.pqRatchet
    : SignalMessage.deserialize(m.body).pqRatchet;
}

/** The sender's SCKA epoch: the varint after the version byte (0 = no SPQR). */
function epochOf(pq: Uint8Array): number {
  return pq.length < 2 ? 0 : decodeVarint(pq, 1).value;
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length === 0
    ? Number.NaN
    : s.length % 2
      ? (s[m] as number)
      : ((s[m - 1] as number) + (s[m] as number)) / 2;
};
const cpuNow = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
};
const fmt = (ms: number) =>
  Number.isNaN(ms) ? '–' : Math.abs(ms) >= 1 ? `${ms.toFixed(2)} ms` : `${(ms * 1000).toFixed(0)} µs`;
const signed = (ms: number) => (ms >= 0 ? `+${fmt(ms)}` : `−${fmt(-ms)}`);

/** `messages` alternating messages on a fresh pair, each timed (process CPU, encrypt + decrypt). */
async function converse(pair: PairFactory, messages: number, payload: Uint8Array): Promise<Samples> {
  const { a, b } = await pair();
  const last = new Map<ConversationParty, number>();
  const out: Samples = { cpu: [], advancing: [], bytes: 0, pqBytes: 0, epochs: '' };
  for (let i = 0; i < messages; i++) {
    const [from, to] = i % 2 === 0 ? [a, b] : [b, a];
    const t = cpuNow();
    const m = await from.encrypt(to.address, payload);
    await to.decrypt(from.address, m);
    out.cpu.push(cpuNow() - t);
    const pq = pqOf(m);
    out.bytes += m.body.length;
    out.pqBytes += pq.length;
    const e = epochOf(pq);
    out.advancing.push(e > (last.get(from) ?? e));
    last.set(from, e);
  }
  out.epochs = `${last.get(a) ?? 0}/${last.get(b) ?? 0}`;
  return out;
}

/** The conversations of `impls`, by key: `<index>` with SPQR, `<index>-` without. */
function conversations(impls: SpqrImpl[]): Map<string, PairFactory> {
  const all = new Map<string, PairFactory>();
  impls.forEach((impl, i) => {
    all.set(`${i}`, impl.pair);
    if (impl.withoutSpqr) all.set(`${i}-`, impl.withoutSpqr.pair);
  });
  return all;
}

const MARK = 'SPQR-SAMPLES ';

/** The child's side: runs conversation `key` (after a warm-up on another pair) and prints its samples. */
export async function spqrConversationChild(impls: SpqrImpl[], key: string, o: SpqrRunOptions) {
  const pair = conversations(impls).get(key);
  if (!pair) throw new Error(`no SPQR conversation ${key}`);
  await converse(pair, o.warmup, o.payload);
  console.log(MARK + JSON.stringify(await converse(pair, o.messages, o.payload)));
}

/** This script again (same node flags, e.g. tsx's loader), for conversation `key`. */
function runChild(key: string): Promise<Samples> {
  return new Promise((resolve, reject) => {
    const script = process.argv[1] as string;
    const child = spawn(process.execPath, [...process.execArgv, script], {
      env: { ...process.env, BENCH_SPQR_CHILD: key },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let out = '';
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
    });
    child.on('error', reject);
    child.on('close', (code) => {
      const line = out.split('\n').find((l) => l.startsWith(MARK));
      if (code !== 0 || !line) reject(new Error(`SPQR conversation ${key}: exit ${code}`));
      else resolve(JSON.parse(line.slice(MARK.length)) as Samples);
    });
  });
}

function statsOf(runs: Samples[]): Stats {
  const cpu = runs.flatMap((r) => r.cpu);
  const adv = runs.flatMap((r) => r.advancing);
  const ordinary = cpu.filter((_, i) => !adv[i]);
  const advancing = cpu.filter((_, i) => adv[i]);
  const n = cpu.length;
  return {
    all: cpu.reduce((s, x) => s + x, 0) / n,
    ordinary: median(ordinary),
    advancing: median(advancing),
    advancingMax: advancing.length ? Math.max(...advancing) : Number.NaN,
    advancingCount: advancing.length / runs.length,
    bytes: runs.reduce((s, r) => s + r.bytes, 0) / n,
    pqBytes: runs.reduce((s, r) => s + r.pqBytes, 0) / n,
    epochs: [...new Set(runs.map((r) => r.epochs))].join(', '),
  };
}

interface Measured {
  impl: SpqrImpl;
  with: Stats;
  without?: Stats;
}

/** Extra per message of SPQR: mean, ordinary (median vs median) and epoch-advancing (median vs median). */
function extraOf(
  m: Measured,
): { all: number; ordinary: number; advancing: number; bytes: number } | undefined {
  const w = m.without;
  if (!w) return undefined;
  return {
    all: m.with.all - w.all,
    ordinary: m.with.ordinary - w.ordinary,
    advancing: m.with.advancing - w.ordinary,
    bytes: m.with.bytes - w.bytes,
  };
}

function limitOf(label: string): number | undefined {
  return label.includes('(node)') ? 1 : label.includes('(platform)') ? 2 : undefined;
}

/** Prints the SPQR rows: every conversation `o.rounds` times, each run in a process of its own. */
export async function spqrConversationReport(impls: SpqrImpl[], o: SpqrRunOptions) {
  console.log(
    `## SPQR: ${o.messages} alternating messages of ${o.payload.length} B (encrypt + decrypt per message), ` +
      `${o.rounds} rounds, each conversation in a process of its own after ${o.warmup} warm-up messages`,
  );
  const keys = [...conversations(impls).keys()];
  const samples = new Map<string, Samples[]>(keys.map((k) => [k, []]));
  for (let round = 0; round < o.rounds; round++) {
    for (let k = 0; k < keys.length; k++) {
      const key = keys[(k + round) % keys.length] as string;
      samples.get(key)!.push(await runChild(key));
    }
  }
  const rows: Measured[] = impls.map((impl, i) => {
    const w = statsOf(samples.get(`${i}`)!);
    return impl.withoutSpqr ? { impl, with: w, without: statsOf(samples.get(`${i}-`)!) } : { impl, with: w };
  });

  const base = rows.find((r) => r.impl.baseline);
  const w = Math.max(...impls.map((i) => Math.max(i.label.length, (i.withoutSpqr?.label.length ?? 0) + 2)));
  for (const r of rows) {
    const s = r.with;
    const ratio = base ? s.all / base.with.all : Number.NaN;
    console.log(
      `  ${r.impl.label.padEnd(w)}  all ${fmt(s.all).padStart(8)} (${ratio.toFixed(2)}× lib)  ordinary ${fmt(s.ordinary).padStart(8)}` +
        `  epoch-advancing ×${s.advancingCount} median ${fmt(s.advancing)} max ${fmt(s.advancingMax)}` +
        `  wire ${s.bytes.toFixed(0)} B/msg (pq_ratchet ${s.pqBytes.toFixed(1)} B)  final epochs A/B ${s.epochs}`,
    );
    const x = extraOf(r);
    if (r.without && x) {
      console.log(
        `  ${`  ${r.impl.withoutSpqr!.label}`.padEnd(w)}  all ${fmt(r.without.all).padStart(8)}              ordinary ${fmt(r.without.ordinary).padStart(8)}` +
          `  wire ${r.without.bytes.toFixed(0)} B/msg` +
          `  → SPQR adds ${signed(x.all)} / message (ordinary ${signed(x.ordinary)}, epoch-advancing ${signed(x.advancing)}), ${x.bytes.toFixed(0)} B`,
      );
    }
  }
  if (!base) return console.log('');
  console.log(
    `## target: mean CPU per message ≤ libsignal-client on node, ≤ 2× on platform (${fmt(base.with.all)})`,
  );
  // libsignal's own extra: the build that can run both ways in one version (0.90.0 negotiates down).
  const libExtra = rows.find((r) => !r.impl.label.startsWith('e2ee-kit') && r.without);
  const libX = libExtra ? extraOf(libExtra) : undefined;
  for (const r of rows.filter((x) => x.impl.label.startsWith('e2ee-kit'))) {
    const limit = limitOf(r.impl.label);
    if (limit === undefined) continue;
    const ratio = r.with.all / base.with.all;
    const x = extraOf(r);
    const extra =
      x && libX
        ? `; SPQR's extra ${fmt(x.all)} / message (ordinary ${signed(x.ordinary)}), ${libExtra!.impl.label}'s ${signed(libX.all)} (ordinary ${signed(libX.ordinary)})`
        : '';
    console.log(
      `  ${r.impl.label.padEnd(w)}  total ${ratio.toFixed(2)}×  ${ratio <= limit ? 'met' : 'MISSED'}${extra}`,
    );
  }
  console.log('');
}
