// Conversation driver for the live interop tests: two endpoints (ours or libsignal's) exchange
// messages with random direction changes, out-of-order delivery, loss, duplicates and session
// replacement, driven by a seeded PRNG so that a failure reproduces from the printed seed.
//
// Limits respected (spec §3.1, §8 point 7): libsignal keeps 5 receiver chains per session. A new
// receiver chain appears at most once per two direction changes (a side only gets a new ratchet key
// after hearing from the other side), so a message is never held back for more than
// `maxLagDirectionChanges` (default 6) direction changes: at most 3 newer chains exist on arrival.
import type { AddressLike, RawPreKeyBundle, RawWireMessage } from '../src/libsignal.js';

/** One side of a conversation. */
export interface Endpoint {
  readonly label: string;
  readonly address: AddressLike;
  createBundle(): Promise<RawPreKeyBundle>;
  processBundle(peer: AddressLike, bundle: RawPreKeyBundle): Promise<void>;
  encrypt(peer: AddressLike, plaintext: Uint8Array): Promise<RawWireMessage>;
  decrypt(peer: AddressLike, message: RawWireMessage): Promise<Uint8Array>;
  /** Whether `err` is this implementation's "duplicate message" error. */
  isDuplicate(err: unknown): boolean;
  /** Everything this side persisted about `peer`, as text, to prove a rejection changed nothing. */
  snapshot(peer: AddressLike): Promise<string>;
}

// ---------------------------------------------------------------------------------------------
// Seeded PRNG

/** mulberry32: tiny, fast, good enough for schedules (not for keys). */
export function createRng(seed: number): Rng {
  let s = seed >>> 0;
  const next = (): number => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return {
    next,
    chance: (p) => next() < p,
    int: (n) => Math.floor(next() * n),
    pick<T>(items: readonly T[]): T {
      if (items.length === 0) throw new RangeError('pick from an empty list');
      return items[Math.floor(next() * items.length)]!;
    },
    fork: () => createRng(Math.floor(next() * 2 ** 32)),
  };
}

export interface Rng {
  next(): number;
  chance(p: number): boolean;
  int(n: number): number;
  pick<T>(items: readonly T[]): T;
  fork(): Rng;
}

/** The run's base seed: `E2EE_INTEROP_SEED` if set, else random. Printed so failures reproduce. */
export function baseSeed(): number {
  const env = process.env['E2EE_INTEROP_SEED'];
  const seed = env !== undefined && env !== '' ? Number(env) >>> 0 : Math.floor(Math.random() * 2 ** 32);
  console.log(`[interop] seed ${seed} (reproduce with E2EE_INTEROP_SEED=${seed})`);
  return seed;
}

/** A per-test seed derived from the base seed and the test's name (stable across test order). */
export function seedFor(base: number, name: string): number {
  let h = base ^ 0x9e3779b9;
  for (let i = 0; i < name.length; i++) h = Math.imul(h ^ name.charCodeAt(i), 0x01000193);
  return h >>> 0;
}

// ---------------------------------------------------------------------------------------------
// Conversation

export interface ConversationOptions {
  /** Messages sent in total (both directions). */
  readonly messages: number;
  /** Probability that the sender changes before a message (when the other side can send). */
  readonly switchProbability?: number;
  /** Per step, probability that a pending message is delivered now. */
  readonly deliverProbability?: number;
  /** Probability that a message is lost in the network (never delivered). */
  readonly lossProbability?: number;
  /** Per step, probability of re-delivering an already delivered message (must be rejected). */
  readonly duplicateProbability?: number;
  /** Indexes (in 0..messages) at which a side replaces the session with a fresh bundle of the other. */
  readonly replaceAt?: ReadonlyArray<{ readonly at: number; readonly by: 'a' | 'b' }>;
  readonly maxLagDirectionChanges?: number;
}

export interface ConversationStats {
  sent: number;
  delivered: number;
  lost: number;
  duplicatesRejected: number;
  /** Duplicates rejected by a and by b (the run ends with one duplicate per side). */
  duplicatesRejectedBy: { a: number; b: number };
  directionChanges: number;
  /** Deliveries of a message while an older one from the same sender was still pending. */
  outOfOrder: number;
  replacements: number;
  prekeyMessages: number;
}

interface Flight {
  readonly id: number;
  readonly from: 'a' | 'b';
  readonly message: RawWireMessage;
  readonly plaintext: string;
  readonly epoch: number;
  state: 'pending' | 'delivered' | 'lost';
}

const enc = new TextEncoder();
const dec = new TextDecoder();

/** A context string for failures: seed, step and message. */
export class ConversationError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'ConversationError';
  }
}

/**
 * Runs a conversation: `a` starts the session from `b`'s bundle, then messages flow with the
 * options' perturbations. Every delivered message must decrypt to its plaintext exactly once,
 * every duplicate must be rejected as a duplicate and leave the receiver's snapshot unchanged.
 */
export async function runConversation(
  a: Endpoint,
  b: Endpoint,
  rng: Rng,
  options: ConversationOptions,
): Promise<ConversationStats> {
  const switchP = options.switchProbability ?? 0.35;
  const deliverP = options.deliverProbability ?? 0.55;
  const lossP = options.lossProbability ?? 0.04;
  const dupP = options.duplicateProbability ?? 0.06;
  const maxLag = options.maxLagDirectionChanges ?? 6;
  const replaceAt = [...(options.replaceAt ?? [])];
  const ends = { a, b };
  const other = (x: 'a' | 'b'): 'a' | 'b' => (x === 'a' ? 'b' : 'a');
  const stats: ConversationStats = {
    sent: 0,
    delivered: 0,
    lost: 0,
    duplicatesRejected: 0,
    duplicatesRejectedBy: { a: 0, b: 0 },
    directionChanges: 0,
    outOfOrder: 0,
    replacements: 0,
    prekeyMessages: 0,
  };
  const flights: Flight[] = [];
  const canSend = { a: true, b: false };
  let sender: 'a' | 'b' = 'a';
  let epoch = 0;
  const where = (f: Flight, what: string) =>
    `${what} #${f.id} ${ends[f.from].label}→${ends[other(f.from)].label} (${f.message.type}, sent at direction change ${f.epoch}, now ${epoch})`;

  await a.processBundle(b.address, await b.createBundle());

  const deliver = async (f: Flight): Promise<void> => {
    const to = other(f.from);
    const olderPending = flights.some((g) => g.from === f.from && g.id < f.id && g.state === 'pending');
    let out: Uint8Array;
    try {
      out = await ends[to].decrypt(ends[f.from].address, f.message);
    } catch (err) {
      throw new ConversationError(`${where(f, 'decrypt failed for')}: ${String(err)}`, { cause: err });
    }
    if (dec.decode(out) !== f.plaintext) throw new ConversationError(where(f, 'wrong plaintext for'));
    f.state = 'delivered';
    stats.delivered++;
    if (olderPending) stats.outOfOrder++;
    canSend[to] = true;
  };

  const duplicate = async (f: Flight): Promise<void> => {
    const to = ends[other(f.from)];
    const from = ends[f.from];
    const before = await to.snapshot(from.address);
    const err = await to.decrypt(from.address, f.message).then(
      () => undefined,
      (e: unknown) => e,
    );
    if (err === undefined) throw new ConversationError(where(f, 'duplicate accepted:'));
    if (!to.isDuplicate(err))
      throw new ConversationError(`${where(f, 'duplicate not reported as duplicate:')} ${String(err)}`, {
        cause: err,
      });
    if ((await to.snapshot(from.address)) !== before)
      throw new ConversationError(where(f, 'duplicate changed the stored state:'));
    stats.duplicatesRejected++;
    stats.duplicatesRejectedBy[other(f.from)]++;
  };

  const step = async (): Promise<void> => {
    // Messages about to exceed the lag are delivered (or lost) now; others with deliverP.
    const pending = flights.filter((f) => f.state === 'pending');
    const due = pending.filter((f) => epoch - f.epoch >= maxLag);
    const chosen = pending.filter((f) => !due.includes(f) && rng.chance(deliverP));
    // random order, so later messages often overtake earlier ones
    const batch = [...due, ...chosen];
    for (let i = batch.length - 1; i > 0; i--) {
      const j = rng.int(i + 1);
      [batch[i], batch[j]] = [batch[j]!, batch[i]!];
    }
    for (const f of batch) await deliver(f);
    if (rng.chance(dupP)) {
      const candidates = flights.filter((f) => f.state === 'delivered' && epoch - f.epoch < maxLag);
      if (candidates.length > 0) await duplicate(rng.pick(candidates));
    }
  };

  for (let i = 0; i < options.messages; i++) {
    let replacedBy: 'a' | 'b' | undefined;
    while (replaceAt.length > 0 && replaceAt[0]!.at <= i) {
      const r = replaceAt.shift()!;
      if (!canSend[other(r.by)] || !canSend[r.by]) {
        replaceAt.unshift({ at: i + 1, by: r.by });
        break;
      }
      const by = ends[r.by];
      const peer = ends[other(r.by)];
      await by.processBundle(peer.address, await peer.createBundle());
      stats.replacements++;
      replacedBy = r.by;
      if (sender !== r.by) {
        sender = r.by;
        epoch++;
        stats.directionChanges++;
      }
    }
    if (replacedBy === undefined && canSend[other(sender)] && rng.chance(switchP)) {
      sender = other(sender);
      epoch++;
      stats.directionChanges++;
    }
    const plaintext = `${sender}#${i} ${'x'.repeat(rng.int(64))}`;
    let message: RawWireMessage;
    try {
      message = await ends[sender].encrypt(ends[other(sender)].address, enc.encode(plaintext));
    } catch (err) {
      throw new ConversationError(`encrypt #${i} by ${ends[sender].label} failed: ${String(err)}`, {
        cause: err,
      });
    }
    if (message.type === 'prekey') stats.prekeyMessages++;
    // The first message of a replacing session is a PreKey message (the new session is unacknowledged).
    if (replacedBy !== undefined && message.type !== 'prekey')
      throw new ConversationError(
        `#${i} by ${ends[sender].label} right after a new bundle is not a PreKey message`,
      );
    const lost = rng.chance(lossP);
    flights.push({ id: i, from: sender, message, plaintext, epoch, state: lost ? 'lost' : 'pending' });
    stats.sent++;
    if (lost) stats.lost++;
    await step();
  }
  // Flush what is still in flight, in random order.
  const rest = flights.filter((f) => f.state === 'pending');
  for (let i = rest.length - 1; i > 0; i--) {
    const j = rng.int(i + 1);
    [rest[i], rest[j]] = [rest[j]!, rest[i]!];
  }
  for (const f of rest) await deliver(f);
  // One duplicate per side at the end: the newest delivered message in each direction.
  for (const from of ['a', 'b'] as const) {
    const last = flights.filter((f) => f.from === from && f.state === 'delivered').at(-1);
    if (last) await duplicate(last);
  }
  return stats;
}
