/**
 * Attempt limiting (spec §8.6). A device-side control: it slows down someone guessing on *this*
 * device, but anyone who copies the backup file can guess offline at Argon2's cost, and a reinstall
 * or a wiped store resets the count. For limits an attacker cannot bypass, add an external slot
 * whose secret a rate-limiting server, HSM or enclave releases (see `ExternalSlotInit`).
 *
 * What a budget is keyed by matters: nothing in a backup file is authenticated before the unwrap,
 * so a budget per file field (0.1.0 keyed it by the header's backup id) is reset by editing that
 * field. Budgets here are per policy store and kind of secret; a slot id (hash of the slot's bytes)
 * only says which failures a later success may clear — and a file with that slot opens only with
 * the secret that slot was made for.
 */
import { copyBytes, KeyedMutex, StoreError, toHex, utf8 } from '@e2ee-kit/core';
import { sha256 } from '@noble/hashes/sha2.js';
import {
  type AttemptRecord,
  type AttemptStore,
  decodeRecord,
  emptyRecord,
  encodeRecord,
  MAX_TRACKED_SLOTS,
  MemoryAttemptStore,
  totalOf,
} from './attempt-store.js';

export { type AttemptStore, MAX_TRACKED_SLOTS, MemoryAttemptStore } from './attempt-store.js';

export interface AttemptState {
  /** Failures counted against this budget and not yet cleared by a success on the same slot. */
  readonly failures: number;
  /** Attempts left before the next lockout (0 when locked). */
  readonly remainingAttempts: number;
  /** Set while locked. */
  readonly lockedUntil: Date | undefined;
}

/**
 * A pluggable policy. `scope` names one budget: `password`, `recovery` or `hex` — one per kind of
 * secret for every backup opened through this policy, so no file, edited or forged, gets a budget
 * of its own. `slots` / `slot` name the exact slots a guess was tried against (32 lowercase hex
 * characters: a hash of the slot's bytes, which the unwrap depends on entirely); a success may clear
 * only the failures of the slot that opened and authenticated, never anyone else's.
 */
export interface AttemptPolicy {
  /** Current state; `lockedUntil` in the future means the attempt must not run. */
  check(scope: string): Promise<AttemptState>;
  /** A well-formed secret failed to unwrap every one of `slots`. */
  recordFailure(scope: string, slots: readonly string[]): Promise<AttemptState>;
  /**
   * `slot` unwrapped and the backup's slot section and header authenticated under the key it held.
   * Must reject when it cannot persist (the unlock then fails too), exactly as `recordFailure`
   * does: otherwise a store that fails on writes tells wrong secrets from right ones.
   */
  recordSuccess(scope: string, slot: string): Promise<void>;
  /**
   * Optional (`LocalBackoffPolicy` has it): charges a guess against `slots` *before* the KDF runs,
   * in one step with the lockout check. With it, tabs, workers or processes sharing the policy's
   * store cannot all pass `check` and guess at once, and a guess whose answer is never recorded
   * (the app killed during the KDF) still counts. When present, `openBackup` calls `reserve`, then
   * `settle` on a success or on tampering found after a correct secret, and nothing after a
   * failure (the charge stands); `check` / `recordFailure` / `recordSuccess` are not used for it.
   */
  reserve?(scope: string, slots: readonly string[]): Promise<AttemptReservation>;
  /**
   * Ends a reservation whose guess did not fail: `opened` (the slot that unwrapped and
   * authenticated) clears that slot's failures, as `recordSuccess`; `undefined` (tampering found
   * after a correct secret: not an attempt) only gives the reservation's charges back. Must reject
   * when it cannot persist, like `recordSuccess`.
   */
  settle?(scope: string, reservation: AttemptReservation, opened: string | undefined): Promise<void>;
}

/** What `AttemptPolicy.reserve` resolves with. */
export interface AttemptReservation {
  /** Whether the guess may run (false: locked, nothing charged). */
  readonly allowed: boolean;
  /** When allowed, the state a failure of this guess leaves (it is already charged); else the current one. */
  readonly state: AttemptState;
}

/** 30 s, 5 min, 1 h, then 24 h for every further failure. */
export const DEFAULT_LOCKOUT_STEPS_MS: readonly number[] = Object.freeze([
  30_000, 300_000, 3_600_000, 86_400_000,
]);

export interface LocalBackoffPolicyOptions {
  store: AttemptStore;
  /** Failures before the first lockout (default 5). */
  maxFailures?: number;
  /**
   * The same for imported 64-hex keys (scope `hex`, default 10): they have no checksum,
   * so a typo can only show up as a failed unlock (spec §8.7).
   */
  maxFailuresHexKey?: number;
  /**
   * Lockout lengths: the n-th failure past `maxFailures` waits `steps[min(n, last)]` (default 30 s, 5 min,
   * 1 h, 24 h). Finite; a lock is capped at the last time a `Date` holds (year 275760).
   */
  lockoutStepsMs?: readonly number[];
  /** Clock in ms since the epoch (default `Date.now`). */
  now?: () => number;
}

const SLOT_ID_PATTERN = /^[0-9a-f]{32}$/;

function checkSlotId(id: unknown): string {
  if (typeof id !== 'string' || !SLOT_ID_PATTERN.test(id)) {
    throw new TypeError('attempt slot ids are 32 lowercase hex characters');
  }
  return id;
}

/**
 * Where one failed guess is counted: the slot it was tried on, or, tried on several slots (a file
 * with two recovery keys), one entry for that set of slots. One guess is one failure whatever the
 * slot count — a forged file with 8 garbage slots must not make one try cost 8. The set's entry is
 * no slot's id (a hash under its own label), so no success clears it: the guess may have been aimed
 * at any of them, e.g. the victim's slot copied beside the attacker's own.
 */
function chargedEntry(ids: readonly string[]): string {
  if (ids.length === 1) return ids[0] as string;
  const h = sha256(utf8(`backup-kdf/v1/attempt-slot-set\u0000${[...ids].sort().join(',')}`));
  return toHex(h.subarray(0, 16));
}

/**
 * Default policy: one budget per kind of secret (`password`, `recovery`, `hex`) for every backup
 * opened through it. After `maxFailures` (5; 10 for imported hex keys) failures, lock for 30 s;
 * every further failure locks again for longer (5 min, 1 h, 24 h…). Each wrong guess is one
 * failure, however many slots it was tried on. A success clears only the failures recorded against
 * the slot that opened alone, so opening your own (or a forged) file never gives guesses back
 * against someone else's slot. A malformed stored record fails closed (`DecodeError`).
 */
export class LocalBackoffPolicy implements AttemptPolicy {
  readonly #store: AttemptStore;
  readonly #max: number;
  readonly #maxHex: number;
  readonly #steps: readonly number[];
  readonly #now: () => number;
  readonly #mutex = new KeyedMutex();

  constructor(options: LocalBackoffPolicyOptions) {
    if (!options || typeof options.store?.get !== 'function' || typeof options.store.set !== 'function') {
      throw new TypeError('LocalBackoffPolicy needs a store with get/set');
    }
    this.#store = options.store;
    this.#max = options.maxFailures ?? 5;
    this.#maxHex = options.maxFailuresHexKey ?? 10;
    // A frozen copy, read once: the caller's array (still theirs to change) cannot shorten a lockout.
    this.#steps = Object.freeze(Array.from(options.lockoutStepsMs ?? DEFAULT_LOCKOUT_STEPS_MS));
    this.#now = options.now ?? Date.now;
    if (!Number.isInteger(this.#max) || this.#max < 1)
      throw new RangeError('maxFailures must be a positive integer');
    if (!Number.isInteger(this.#maxHex) || this.#maxHex < 1)
      throw new RangeError('maxFailuresHexKey must be a positive integer');
    // Finite: the record stores the lock's end as a finite time (an infinite one would read back as
    // malformed). For a lock that never ends in practice, pass a large finite step.
    if (this.#steps.length === 0 || this.#steps.some((s) => !(Number.isFinite(s) && s >= 0)))
      throw new RangeError('lockoutStepsMs must be non-empty, finite and ≥ 0');
  }

  async #read(scope: string): Promise<Uint8Array | undefined> {
    let b: Uint8Array | undefined;
    try {
      b = await this.#store.get(scope);
    } catch (cause) {
      throw new StoreError('attempt store failed', { cause });
    }
    // A copy: #update hands it back as compareAndSet's `expected` after an await, and a store may
    // answer with a view of a buffer it reuses (a row pool), by then holding another context's write.
    return b instanceof Uint8Array ? copyBytes(b) : b;
  }

  async #load(scope: string): Promise<AttemptRecord> {
    const b = await this.#read(scope);
    return b === undefined ? emptyRecord() : decodeRecord(b);
  }

  /**
   * Read, change, write back. With a store that has `compareAndSet` the write lands only on the bytes
   * read (else it reads again and redoes the change), so contexts sharing the store never lose each
   * other's failures; `write: false` writes nothing.
   */
  async #update<T>(scope: string, mutate: (r: AttemptRecord) => { value: T; write: boolean }): Promise<T> {
    const cas = this.#store.compareAndSet?.bind(this.#store);
    for (let tries = 0; tries < MAX_UPDATE_TRIES; tries++) {
      const before = await this.#read(scope);
      const r = before === undefined ? emptyRecord() : decodeRecord(before);
      const { value, write } = mutate(r);
      if (!write) return value;
      const bytes = encodeRecord(r);
      let written = true;
      try {
        if (cas) written = await cas(scope, before, bytes);
        else await this.#store.set(scope, bytes);
      } catch (cause) {
        throw new StoreError('attempt store failed', { cause });
      }
      if (written === true) return value;
      if (written !== false) throw new StoreError('attempt store compareAndSet must resolve a boolean');
    }
    throw new StoreError('attempt store kept changing under this update (too many contexts at once)');
  }

  #maxFor(scope: string): number {
    return scope === 'hex' || scope.endsWith(':hex') ? this.#maxHex : this.#max;
  }

  #state(scope: string, r: AttemptRecord): AttemptState {
    const locked = r.lockedUntilMs > this.#now();
    const failures = totalOf(r);
    return {
      failures,
      remainingAttempts: locked ? 0 : Math.max(0, this.#maxFor(scope) - failures),
      lockedUntil: locked ? new Date(r.lockedUntilMs) : undefined,
    };
  }

  /** Adds one failure to entry `id` (see `chargedEntry`) and locks when the budget is spent. */
  #charge(scope: string, r: AttemptRecord, id: string): void {
    const had = r.slots.get(id);
    if (had === undefined && r.slots.size >= MAX_TRACKED_SLOTS) {
      const [oldest, n] = r.slots.entries().next().value as [string, number];
      r.slots.delete(oldest);
      r.unattributed += n;
    }
    // Re-inserted at the end: the map's order is "least recently failed first".
    r.slots.delete(id);
    r.slots.set(id, (had ?? 0) + 1);
    const failures = totalOf(r);
    const max = this.#maxFor(scope);
    if (failures >= max) {
      const step = this.#steps[Math.min(failures - max, this.#steps.length - 1)]!;
      // Capped at the last time a Date can hold: beyond it `lockedUntil` would be an Invalid Date.
      r.lockedUntilMs = Math.min(this.#now() + step, MAX_DATE_MS);
    }
  }

  check(scope: string): Promise<AttemptState> {
    return this.#mutex.run(scope, async () => this.#state(scope, await this.#load(scope)));
  }

  async recordFailure(scope: string, slots: readonly string[]): Promise<AttemptState> {
    const entry = chargedEntry(slotIds(slots));
    return this.#mutex.run(scope, () =>
      this.#update(scope, (r) => {
        this.#charge(scope, r, entry);
        return { value: this.#state(scope, r), write: true };
      }),
    );
  }

  async recordSuccess(scope: string, slot: string): Promise<void> {
    const id = checkSlotId(slot);
    return this.#mutex.run(scope, () =>
      // Written even when nothing changed: with a store that cannot be written, a right secret must
      // fail like a wrong one (both `StoreError`), or the store's failure becomes a guessing oracle.
      this.#update(scope, (r) => {
        r.slots.delete(id);
        return { value: undefined, write: true };
      }),
    );
  }

  async reserve(scope: string, slots: readonly string[]): Promise<AttemptReservation> {
    const ids = slotIds(slots);
    const entry = chargedEntry(ids);
    return this.#mutex.run(scope, () =>
      this.#update(scope, (r): { value: AttemptReservation; write: boolean } => {
        if (r.lockedUntilMs > this.#now())
          return { value: { allowed: false, state: this.#state(scope, r) }, write: false };
        const lockBefore = r.lockedUntilMs;
        this.#charge(scope, r, entry);
        const reservation: AttemptReservation = Object.freeze({
          allowed: true,
          state: this.#state(scope, r),
        });
        reservations.set(reservation, { ids, entry, lockBefore, lockSet: r.lockedUntilMs });
        return { value: reservation, write: true };
      }),
    );
  }

  async settle(scope: string, reservation: AttemptReservation, opened: string | undefined): Promise<void> {
    const held = reservations.get(reservation);
    if (!held) throw new TypeError('settle needs a reservation this policy made and not yet settled');
    const id = opened === undefined ? undefined : checkSlotId(opened);
    if (id !== undefined && !held.ids.includes(id))
      throw new TypeError('settle: the opened slot was not reserved');
    reservations.delete(reservation);
    return this.#mutex.run(scope, () =>
      this.#update(scope, (r) => {
        // This guess's charge back (an entry folded into `unattributed` meanwhile stays counted)...
        const n = r.slots.get(held.entry);
        if (n !== undefined && n <= 1) r.slots.delete(held.entry);
        else if (n !== undefined) r.slots.set(held.entry, n - 1);
        // ...a success clears the failures of the slot that opened, as recordSuccess does...
        if (id !== undefined) r.slots.delete(id);
        // ...and the lock this reservation set goes (another context's later lock stays).
        if (totalOf(r) < this.#maxFor(scope)) r.lockedUntilMs = Math.min(r.lockedUntilMs, held.lockBefore);
        else if (r.lockedUntilMs === held.lockSet) r.lockedUntilMs = held.lockBefore;
        return { value: undefined, write: true };
      }),
    );
  }
}

/** The largest time a `Date` holds (ECMA-262: ±8.64e15 ms around the epoch). */
const MAX_DATE_MS = 8.64e15;

/** How often one update re-reads after losing a compare-and-set to another context. */
const MAX_UPDATE_TRIES = 64;

/** What a reservation charged, for its `settle` (kept here: the object handed out stays plain). */
const reservations = new WeakMap<
  AttemptReservation,
  { ids: readonly string[]; entry: string; lockBefore: number; lockSet: number }
>();

function slotIds(slots: readonly string[]): string[] {
  if (!Array.isArray(slots) || slots.length === 0) throw new TypeError('attempts need the slots tried');
  return [...new Set(slots.map(checkSlotId))];
}

/** No limiting at all: for slots gated elsewhere (e.g. a server that counts) or for tools. */
export const noAttemptLimit: AttemptPolicy = /* @__PURE__ */ Object.freeze({
  check: async () => ({ failures: 0, remainingAttempts: Number.POSITIVE_INFINITY, lockedUntil: undefined }),
  recordFailure: async () => ({
    failures: 0,
    remainingAttempts: Number.POSITIVE_INFINITY,
    lockedUntil: undefined,
  }),
  recordSuccess: async () => {},
});

/** The policy used when none is passed: 5 strikes, in memory for the life of this JavaScript realm. */
export const defaultAttemptPolicy: AttemptPolicy = new LocalBackoffPolicy({
  store: new MemoryAttemptStore(),
});
