/**
 * A fixed amount of work per decrypt, shared by every session state the message is tried on, so no
 * input — forged, replayed or malformed — costs more than one maximal legitimate message, whatever the
 * record holds (issue 11.3). Work is counted in KDF steps (one message-chain or SPQR-chain step); a
 * state's attempt is priced before any of it is done, and refused if it does not fit what is left.
 *
 * Long chain walks also yield to the event loop now and then, so a single decrypt never blocks it for
 * long (a walk of 25,000 steps is tens of milliseconds of hashing).
 */
import { E2eeError } from '@e2ee-kit/core';
import { MAX_FORWARD_JUMPS } from './constants.js';
import { RatchetErrorCode } from './errors.js';

/** Price of a DH ratchet step (one X25519 agreement and an HKDF) in KDF steps, measured roughly. */
export const DH_STEP_COST = 64;

/**
 * Work one decrypt may do: a new chain with the largest forward jump on the message chain and on the
 * SPQR chain (2 × 25,000 steps), plus room for cheap attempts on archived states.
 */
export const DECRYPT_WORK_BUDGET = 2 * MAX_FORWARD_JUMPS + 4 * DH_STEP_COST + 4_000;

/** Self-sessions (our own other devices) have no forward-jump limit in libsignal; ours is this. */
export const SELF_SESSION_MAX_FORWARD_JUMPS = 10 * MAX_FORWARD_JUMPS;

/** Steps between two yields to the event loop in a chain walk. */
export const STEPS_PER_YIELD = 512;

export class WorkBudget {
  #remaining: number;

  constructor(units: number) {
    this.#remaining = units;
  }

  get remaining(): number {
    return this.#remaining;
  }

  /** Reserves `units` or throws `WORK_BUDGET_EXCEEDED` (nothing is reserved then). */
  take(units: number): void {
    if (units > this.#remaining) {
      throw new E2eeError(
        RatchetErrorCode.WorkBudgetExceeded,
        'message needs more work than a decrypt may do (see the README, Limits)',
      );
    }
    this.#remaining -= units;
  }
}

// One event-loop turn (setImmediate, scheduler.yield, MessageChannel or setTimeout): core's helper.
export { yieldToEventLoop } from '@e2ee-kit/core';
