// SPQR rows of the ratchet benchmark (issue 13.5): CPU and wire bytes per message of an alternating
// conversation long enough for several braid epochs, ours next to libsignal-client 0.103.0 in the same
// run. Epoch-advancing messages (the sender's wire epoch moved on since its previous message) are
// reported apart from the others; "all" is the mean over the whole conversation (each message's share
// of the ML-KEM work included). Target: mean CPU per message ≤ libsignal-client's on the node
// provider, ≤ 2× on platform.
import { decodeVarint } from '@e2ee-kit/core';
import type { AddressLike, RawWireMessage } from '@e2ee-kit/interop/libsignal';
import { PreKeySignalMessage, SignalMessage } from '@e2ee-kit/ratchet';

export interface ConversationParty {
  readonly address: AddressLike;
  encrypt(peer: AddressLike, plaintext: Uint8Array): Promise<RawWireMessage>;
  decrypt(peer: AddressLike, message: RawWireMessage): Promise<Uint8Array>;
}

export interface SpqrImpl {
  readonly label: string;
  readonly baseline?: boolean;
  pair(): Promise<{ a: ConversationParty; b: ConversationParty }>;
}

interface Row {
  label: string;
  baseline: boolean;
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
const fmt = (ms: number) => (ms >= 1 ? `${ms.toFixed(2)} ms` : `${(ms * 1000).toFixed(0)} µs`);

async function measure(impl: SpqrImpl, messages: number, payload: Uint8Array): Promise<Row> {
  const { a, b } = await impl.pair();
  const last = new Map<ConversationParty, number>();
  const ordinary: number[] = [];
  const advancing: number[] = [];
  let total = 0;
  let bytes = 0;
  let pqBytes = 0;
  for (let i = 0; i < messages; i++) {
    const [from, to] = i % 2 === 0 ? [a, b] : [b, a];
    const t = cpuNow();
    const m = await from.encrypt(to.address, payload);
    await to.decrypt(from.address, m);
    const cpu = cpuNow() - t;
    total += cpu;
    const pq = pqOf(m);
    bytes += m.body.length;
    pqBytes += pq.length;
    const e = epochOf(pq);
    if (e > (last.get(from) ?? e)) advancing.push(cpu);
    else ordinary.push(cpu);
    last.set(from, e);
  }
  return {
    label: impl.label,
    baseline: impl.baseline === true,
    all: total / messages,
    ordinary: median(ordinary),
    advancing: median(advancing),
    advancingMax: Math.max(...advancing),
    advancingCount: advancing.length,
    bytes: bytes / messages,
    pqBytes: pqBytes / messages,
    epochs: `${last.get(a) ?? 0}/${last.get(b) ?? 0}`,
  };
}

/** Prints the SPQR rows; `messages` alternating messages per implementation (after the handshake). */
export async function spqrConversationReport(impls: SpqrImpl[], messages: number, payload: Uint8Array) {
  console.log(
    `## SPQR: ${messages} alternating messages of ${payload.length} B (encrypt + decrypt per message)`,
  );
  const rows: Row[] = [];
  for (const impl of impls) rows.push(await measure(impl, messages, payload));
  const base = rows.find((r) => r.baseline);
  const w = Math.max(...rows.map((r) => r.label.length));
  for (const r of rows) {
    const ratio = base ? r.all / base.all : Number.NaN;
    console.log(
      `  ${r.label.padEnd(w)}  all ${fmt(r.all).padStart(8)} (${ratio.toFixed(2)}× lib)  ordinary ${fmt(r.ordinary).padStart(8)}` +
        `  epoch-advancing ×${r.advancingCount} median ${fmt(r.advancing)} max ${fmt(r.advancingMax)}` +
        `  wire ${r.bytes.toFixed(0)} B/msg (pq_ratchet ${r.pqBytes.toFixed(1)} B)  final epochs A/B ${r.epochs}`,
    );
  }
  if (base) {
    console.log(
      `## target: mean CPU per message ≤ libsignal-client on node, ≤ 2× on platform (${fmt(base.all)})`,
    );
    for (const r of rows.filter((x) => !x.baseline)) {
      const limit = r.label.includes('(node)') ? 1 : r.label.includes('platform') ? 2 : undefined;
      if (limit === undefined) continue;
      const ratio = r.all / base.all;
      console.log(`  ${r.label.padEnd(w)}  ${ratio.toFixed(2)}×  ${ratio <= limit ? 'met' : 'MISSED'}`);
    }
  }
  console.log('');
}
