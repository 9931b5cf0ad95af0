// SPQR rows of the ratchet benchmark (issue 13.5): CPU and wire bytes per message of an alternating
// conversation long enough for several braid epochs, ours next to libsignal-client in the same run,
// and what SPQR itself adds: the same conversation on a session without SPQR, measured alongside.
// Epoch-advancing messages (the sender's wire epoch moved on since its previous message) are
// reported apart from the others; "all" is the mean over the whole conversation (each message's share
// of the ML-KEM work included). Target: mean CPU per message ≤ libsignal-client's on the node
// provider, ≤ 2× on platform.
//
// Every conversation runs interleaved with the others in blocks of `block` messages (a rotating
// order), so load changes on a shared machine hit every row alike; the with / without SPQR pair of an
// implementation is what the "extra" is computed from.
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

/** One conversation, advanced a message at a time. */
class Conversation {
  readonly #last = new Map<ConversationParty, number>();
  readonly #ordinary: number[] = [];
  readonly #advancing: number[] = [];
  #sent = 0;
  #total = 0;
  #bytes = 0;
  #pqBytes = 0;

  private constructor(
    readonly label: string,
    readonly a: ConversationParty,
    readonly b: ConversationParty,
  ) {}

  static async open(label: string, pair: PairFactory): Promise<Conversation> {
    const { a, b } = await pair();
    return new Conversation(label, a, b);
  }

  async step(payload: Uint8Array): Promise<void> {
    const [from, to] = this.#sent % 2 === 0 ? [this.a, this.b] : [this.b, this.a];
    this.#sent++;
    const t = cpuNow();
    const m = await from.encrypt(to.address, payload);
    await to.decrypt(from.address, m);
    const cpu = cpuNow() - t;
    this.#total += cpu;
    const pq = pqOf(m);
    this.#bytes += m.body.length;
    this.#pqBytes += pq.length;
    const e = epochOf(pq);
    if (e > (this.#last.get(from) ?? e)) this.#advancing.push(cpu);
    else this.#ordinary.push(cpu);
    this.#last.set(from, e);
  }

  stats(): Stats {
    const n = this.#sent;
    return {
      all: this.#total / n,
      ordinary: median(this.#ordinary),
      advancing: median(this.#advancing),
      advancingMax: this.#advancing.length ? Math.max(...this.#advancing) : Number.NaN,
      advancingCount: this.#advancing.length,
      bytes: this.#bytes / n,
      pqBytes: this.#pqBytes / n,
      epochs: `${this.#last.get(this.a) ?? 0}/${this.#last.get(this.b) ?? 0}`,
    };
  }
}

/** Runs every conversation `messages` messages long, interleaved in blocks of `block`. */
async function runInterleaved(all: Conversation[], messages: number, block: number, payload: Uint8Array) {
  for (let done = 0, round = 0; done < messages; done += block, round++) {
    const n = Math.min(block, messages - done);
    for (let k = 0; k < all.length; k++) {
      const c = all[(k + round) % all.length] as Conversation;
      for (let i = 0; i < n; i++) await c.step(payload);
    }
  }
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

/**
 * Prints the SPQR rows; `messages` alternating messages per conversation (after the handshake), run
 * interleaved in blocks of `block` messages, after `warmup` discarded messages on other sessions.
 */
export async function spqrConversationReport(
  impls: SpqrImpl[],
  messages: number,
  payload: Uint8Array,
  block = 20,
  warmup = 100,
) {
  console.log(
    `## SPQR: ${messages} alternating messages of ${payload.length} B (encrypt + decrypt per message), ` +
      `all conversations interleaved in blocks of ${block}, after ${warmup} warm-up messages each`,
  );
  // Warm-up, discarded: the same kinds of conversation, long enough for an epoch, so that compiling
  // the code paths is not charged to the first measured block.
  const warm = await Promise.all(
    impls
      .flatMap((i) => [i.pair, ...(i.withoutSpqr ? [i.withoutSpqr.pair] : [])])
      .map((p) => Conversation.open('', p)),
  );
  await runInterleaved(warm, warmup, block, payload);
  const convs = new Map<SpqrImpl, { with: Conversation; without?: Conversation }>();
  for (const impl of impls) {
    const w = await Conversation.open(impl.label, impl.pair);
    convs.set(
      impl,
      impl.withoutSpqr
        ? { with: w, without: await Conversation.open(impl.withoutSpqr.label, impl.withoutSpqr.pair) }
        : { with: w },
    );
  }
  const all = [...convs.values()].flatMap((c) => (c.without ? [c.with, c.without] : [c.with]));
  await runInterleaved(all, messages, block, payload);
  const rows: Measured[] = impls.map((impl) => {
    const c = convs.get(impl)!;
    return c.without
      ? { impl, with: c.with.stats(), without: c.without.stats() }
      : { impl, with: c.with.stats() };
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
    const extraRatio =
      x && libX
        ? `; extra ${fmt(x.all)} = ${(x.all / libX.all).toFixed(2)}× ${libExtra!.impl.label}'s ${fmt(libX.all)}`
        : '';
    console.log(
      `  ${r.impl.label.padEnd(w)}  total ${ratio.toFixed(2)}×  ${ratio <= limit ? 'met' : 'MISSED'}${extraRatio}`,
    );
  }
  console.log('');
}
