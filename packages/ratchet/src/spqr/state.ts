/**
 * `SpqrState`: one side's complete SPQR state (braid + chains) as an immutable value. Operations return
 * a new state and never change the one they were given, so a session can keep the old state until the
 * whole message has verified. Secrets never reach `toString`, JSON or `util.inspect`.
 */
import type { Braid } from './braid.js';
import type { Chain } from './chain.js';
// Cycle by design: codec needs the class, the class offers codec's functions as methods (call time only).
import { deserializeSpqrState, serializeSpqrState } from './codec.js';

export interface SpqrStateData {
  /** True for the initiator (direction A2B). */
  readonly a2b: boolean;
  readonly braid: Braid;
  /** Frozen by convention: clone (`cloneChain`) before mutating. */
  readonly chain: Chain;
}

const INSPECT = Symbol.for('nodejs.util.inspect.custom');
const TOKEN = Symbol('SpqrState');
const data = new WeakMap<SpqrState, SpqrStateData>();

export class SpqrState {
  private constructor(token: symbol, d: SpqrStateData) {
    if (token !== TOKEN) throw new TypeError('use initSpqr or SpqrState.deserialize');
    data.set(this, d);
    Object.freeze(this);
  }

  /** @internal */
  static _create(d: SpqrStateData): SpqrState {
    return new SpqrState(TOKEN, d);
  }

  /** The versioned record of this state (format version 1, see `codec.ts`). */
  serialize(): Uint8Array {
    return serializeSpqrState(this);
  }

  /** Loads a record written by `serialize`; malformed bytes → `DecodeError` (`SPQR_STATE_DECODE`). */
  static deserialize(bytes: Uint8Array): SpqrState {
    return deserializeSpqrState(bytes);
  }

  /** The braid's current epoch (SCKA epoch, starts at 1). */
  get epoch(): number {
    return stateData(this).braid.epoch;
  }

  /** The chain epoch this side sends with (the epoch secrets mixed in so far). */
  get sendEpoch(): number {
    return stateData(this).chain.sendEpoch;
  }

  toString(): string {
    return `SpqrState(epoch ${this.epoch})`;
  }

  toJSON(): string {
    return this.toString();
  }

  [INSPECT](): string {
    return this.toString();
  }
}

/** Internal view of a state (not exported from the package). */
export function stateData(s: SpqrState): SpqrStateData {
  const d = s instanceof SpqrState ? data.get(s) : undefined;
  if (!d) throw new TypeError('not an SpqrState');
  return d;
}
