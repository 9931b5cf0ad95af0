import { redact } from '@e2ee-kit/core';
import { createDeterministicRandom } from '@e2ee-kit/core/testing';

export interface SimulatedNetworkOptions {
  /** Seed of the network's own deterministic randomness (default `'network'`). */
  seed?: string;
  /** Probability that a message is never delivered (default 0). */
  dropRate?: number;
  /** Probability that a message is delivered twice (default 0). */
  duplicateRate?: number;
  /** How many positions a message may move in the delivery order (default 0: in order). */
  reorderWindow?: number;
}

export interface Envelope<T> {
  /** Sequence number of the `send` (duplicates share it). */
  readonly id: number;
  readonly from: string;
  readonly to: string;
  readonly message: T;
  /** True for the second copy of a duplicated message. */
  readonly duplicate: boolean;
}

/**
 * A lossy, reordering, duplicating network for tests. `send` queues; `deliver(to)` drains the queue
 * for `to` in a simulated order. Deterministic for a given seed.
 */
export class SimulatedNetwork<T = unknown> {
  readonly #random: (n: number) => Uint8Array;
  readonly #drop: number;
  readonly #dup: number;
  readonly #window: number;
  readonly #queues = new Map<string, Envelope<T>[]>();
  #next = 0;
  readonly stats = { sent: 0, dropped: 0, duplicated: 0, delivered: 0 };

  constructor(options: SimulatedNetworkOptions = {}) {
    this.#random = createDeterministicRandom(options.seed ?? 'network');
    this.#drop = rate(options.dropRate ?? 0, 'dropRate');
    this.#dup = rate(options.duplicateRate ?? 0, 'duplicateRate');
    const w = options.reorderWindow ?? 0;
    if (!Number.isInteger(w) || w < 0) throw new RangeError('reorderWindow must be a non-negative integer');
    this.#window = w;
  }

  /** Queues `message`; returns its id. */
  send(from: string, to: string, message: T): number {
    const id = this.#next++;
    this.stats.sent++;
    const q = this.#queues.get(to) ?? [];
    this.#queues.set(to, q);
    if (this.#chance(this.#drop)) {
      this.stats.dropped++;
      return id;
    }
    q.push({ id, from, to, message, duplicate: false });
    if (this.#chance(this.#dup)) {
      this.stats.duplicated++;
      q.push({ id, from, to, message, duplicate: true });
    }
    return id;
  }

  /** Messages waiting for `to` (or for everyone). */
  pending(to?: string): number {
    if (to !== undefined) return this.#queues.get(to)?.length ?? 0;
    let n = 0;
    for (const q of this.#queues.values()) n += q.length;
    return n;
  }

  /** Takes every queued message for `to`, each moved at most `reorderWindow` places. */
  deliver(to: string): Envelope<T>[] {
    const q = this.#queues.get(to) ?? [];
    this.#queues.set(to, []);
    // Sort by (position + random offset in [0, window]): no message moves more than `window` places.
    const keyed = q.map((e, i) => ({
      e,
      k: i + this.#uniform(this.#window + 1) + this.#uniform(1000) / 1000,
    }));
    keyed.sort((a, b) => a.k - b.k);
    this.stats.delivered += keyed.length;
    return keyed.map((x) => x.e);
  }

  #uniform(n: number): number {
    if (n <= 1) return 0;
    const b = this.#random(4);
    const x =
      (((b[0] as number) << 24) | ((b[1] as number) << 16) | ((b[2] as number) << 8) | (b[3] as number)) >>>
      0;
    return x % n;
  }

  #chance(p: number): boolean {
    if (p <= 0) return false;
    const b = this.#random(4);
    const x =
      ((((b[0] as number) << 24) | ((b[1] as number) << 16) | ((b[2] as number) << 8) | (b[3] as number)) >>>
        0) /
      2 ** 32;
    return x < p;
  }
}
redact(SimulatedNetwork, '[SimulatedNetwork]');

function rate(v: number, name: string): number {
  if (typeof v !== 'number' || !(v >= 0 && v <= 1)) throw new RangeError(`${name} must be between 0 and 1`);
  return v;
}
