/**
 * A simulated relay for group tests: each `send` is fanned out to every other member's inbox, and
 * `deliver` hands messages out in an order chosen by a seeded RNG, dropping and duplicating some.
 */
import { redact } from '@e2ee-kit/core';
import { createDeterministicRandom } from '@e2ee-kit/core/testing';

export interface NetworkConditions {
  /** Probability that a delivery is lost (0..1). */
  drop?: number;
  /** Probability that a delivery arrives twice (0..1). */
  duplicate?: number;
  /** Shuffle each inbox before delivery (default true). */
  reorder?: boolean;
}

export interface Delivery<M> {
  readonly from: string;
  readonly to: string;
  readonly message: M;
  /** Index of the original send (the same for a duplicate). */
  readonly sendIndex: number;
}

export class SimulatedNetwork<M = Uint8Array> {
  readonly #members: string[] = [];
  readonly #queue: Array<Delivery<M>> = [];
  readonly #random: (n: number) => Uint8Array;
  readonly #conditions: Required<NetworkConditions>;
  #sends = 0;

  constructor(seed: string | Uint8Array, conditions: NetworkConditions = {}) {
    this.#random = createDeterministicRandom(seed);
    this.#conditions = {
      drop: conditions.drop ?? 0,
      duplicate: conditions.duplicate ?? 0,
      reorder: conditions.reorder ?? true,
    };
    for (const p of [this.#conditions.drop, this.#conditions.duplicate]) {
      if (typeof p !== 'number' || !(p >= 0 && p <= 1)) throw new RangeError('probabilities must be in 0..1');
    }
  }

  join(member: string): void {
    if (!this.#members.includes(member)) this.#members.push(member);
  }

  leave(member: string): void {
    const i = this.#members.indexOf(member);
    if (i >= 0) this.#members.splice(i, 1);
  }

  /** One upload, fanned out by the relay to every other current member. Returns the send index. */
  send(from: string, message: M): number {
    const sendIndex = this.#sends++;
    for (const to of this.#members) {
      if (to !== from) this.#queue.push({ from, to, message, sendIndex });
    }
    return sendIndex;
  }

  /** Takes every queued delivery, applying the network conditions. */
  deliver(): Array<Delivery<M>> {
    const out: Array<Delivery<M>> = [];
    for (const d of this.#queue.splice(0)) {
      if (this.#chance(this.#conditions.drop)) continue;
      out.push(d);
      if (this.#chance(this.#conditions.duplicate)) out.push(d);
    }
    if (this.#conditions.reorder) {
      for (let i = out.length - 1; i > 0; i--) {
        const j = this.#uint32() % (i + 1);
        [out[i], out[j]] = [out[j] as Delivery<M>, out[i] as Delivery<M>];
      }
    }
    return out;
  }

  #uint32(): number {
    const b = this.#random(4);
    return (
      ((b[0] as number) | ((b[1] as number) << 8) | ((b[2] as number) << 16) | ((b[3] as number) << 24)) >>> 0
    );
  }

  #chance(p: number): boolean {
    return p > 0 && this.#uint32() / 0x1_0000_0000 < p;
  }
}
redact(SimulatedNetwork, '[SimulatedNetwork]');
