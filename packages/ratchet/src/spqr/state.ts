/**
 * `SpqrState`: one side's complete SPQR state (braid + chains) as an immutable value. Operations return
 * a new state and never change the one they were given, so a session can keep the old state until the
 * whole message has verified. Secrets never reach `toString`, JSON or `util.inspect`.
 */

// Cycle by design: codec needs the class, the class offers codec's functions as methods (call time only).
import { copyBytes } from '@e2ee-kit/core';
import type { Braid } from './braid.js';
import type { Chain } from './chain.js';
import { deserializeSpqrState, serializeSpqrState } from './codec.js';
import { stateDecodeError } from './errors.js';

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
/**
 * The brand of every copy's `SpqrState` (a registered symbol: the same in each copy of the package).
 * `@1`: a branded object's `serialize()` returns the versioned record `deserialize` reads.
 */
const BRAND = Symbol.for('@e2ee-kit/ratchet/SpqrState@1');

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

// On the prototype, outside the class: the frozen instances carry it without a field each.
Object.defineProperty(SpqrState.prototype, BRAND, { value: true });

/**
 * Internal view of a state (not exported from the package). Another copy of the package (an app that
 * loads two) has its own class, whose data this copy cannot see: its state is read through its
 * serialized form, as a stored one (the state cache makes a repeated read of the same state cheap).
 * Anything else is refused with `DecodeError` (`SPQR_STATE_DECODE`): it can only have come from a
 * record, never from this copy's own code.
 */
export function stateData(s: SpqrState): SpqrStateData {
  if (s instanceof SpqrState) {
    const d = data.get(s);
    if (d) return d;
  } else if (s !== null && typeof s === 'object' && (s as { [BRAND]?: unknown })[BRAND] === true) {
    const bytes = (s as { serialize(): unknown }).serialize();
    if (bytes instanceof Uint8Array) return stateData(deserializeSpqrState(copyBytes(bytes)));
  }
  throw stateDecodeError('not an SpqrState');
}
