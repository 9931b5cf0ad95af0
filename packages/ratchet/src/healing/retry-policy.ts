/**
 * Loop protection for retry receipts, with Signal's defaults (spec `devices-and-healing.md` §4.2–4.3,
 * §7.10). Pure bookkeeping in memory with an injectable clock; it decides, the app acts.
 *
 * - Receiver (`allowRequest`): at most 5 receipts per failed message (Signal-Desktop's `RETRY_LIMIT`),
 *   and at most 10 per sender address until that sender has been quiet for 3 hours
 *   (Signal-Android's `retryReceiptMaxCount` / `retryReceiptMaxCountResetAge`).
 * - Sender (`allowResponse`): at most 5 answers (archive + resend) per original message, 10 per
 *   requester until a 3-hour quiet gap, and none for messages older than 14 days.
 * - `allowSessionReset`: Signal-Desktop's light session reset, at most once per hour per address.
 *
 * Receipts are plaintext and are never answered with a receipt, so every exchange ends: a message
 * costs at most `maxRequestsPerMessage` receipts and `maxResponsesPerMessage` resends, and a peer at
 * most `maxRequestsPerAddress` receipts per quiet window. Every attempt — allowed or not — counts as
 * activity for the quiet gap. Tables are bounded (`maxTracked` keys each, oldest forgotten first).
 *
 * `serialize()` / `RetryPolicy.deserialize()` carry the counters across a restart (retry-policy-state.ts).
 */
import { type Address, addressToString, brandClass } from '@e2ee-kit/core';
import { stateBrand } from './own-state.js';
import {
  type AddressCount,
  decodeRetryPolicyState,
  encodeRetryPolicyState,
  type LimiterState,
  type MessageCount,
} from './retry-policy-state.js';

export interface RetryPolicyOptions {
  /** Clock (ms since the epoch). Default `Date.now`. */
  readonly now?: () => number;
  /** Receipts we send per failed message (sender address + timestamp). Default 5. */
  readonly maxRequestsPerMessage?: number;
  /** Receipts we send per sender address before it has been quiet for `quietResetMs`. Default 10. */
  readonly maxRequestsPerAddress?: number;
  /** Answers we give per original message (requester address + timestamp). Default 5. */
  readonly maxResponsesPerMessage?: number;
  /** Answers we give per requester address before it has been quiet for `quietResetMs`. Default 10. */
  readonly maxResponsesPerAddress?: number;
  /** Quiet gap after which an address's count starts again. Default 3 hours. */
  readonly quietResetMs?: number;
  /** No answer for an original message older than this (by its timestamp). Default 14 days. */
  readonly maxResponseAgeMs?: number;
  /** Minimum time between two light session resets of one address. Default 1 hour. */
  readonly sessionResetIntervalMs?: number;
  /** Keys kept per table (messages, addresses); the oldest are forgotten first. Default 10,000. */
  readonly maxTracked?: number;
}

const HOUR = 60 * 60 * 1000;

export const RETRY_POLICY_DEFAULTS = {
  maxRequestsPerMessage: 5,
  maxRequestsPerAddress: 10,
  maxResponsesPerMessage: 5,
  maxResponsesPerAddress: 10,
  quietResetMs: 3 * HOUR,
  maxResponseAgeMs: 14 * 24 * HOUR,
  sessionResetIntervalMs: HOUR,
  maxTracked: 10_000,
} as const satisfies Required<Omit<RetryPolicyOptions, 'now'>>;

/** Why an attempt was refused. */
export type RetryDenial = 'message-limit' | 'address-limit' | 'too-old' | 'too-soon';

export type RetryDecision =
  | { readonly allowed: true }
  | { readonly allowed: false; readonly reason: RetryDenial };

const ALLOWED: RetryDecision = Object.freeze({ allowed: true });
const deny = (reason: RetryDenial): RetryDecision => Object.freeze({ allowed: false, reason });

/** Insertion-ordered map that forgets its oldest keys beyond `max`. */
class BoundedMap<V> {
  readonly #map = new Map<string, V>();
  constructor(readonly max: number) {}
  get(key: string): V | undefined {
    return this.#map.get(key);
  }
  set(key: string, value: V): void {
    this.#map.delete(key);
    this.#map.set(key, value);
    while (this.#map.size > this.max) this.#map.delete(this.#map.keys().next().value as string);
  }
  get size(): number {
    return this.#map.size;
  }
  /** Oldest first: the order in which they would be forgotten. */
  values(): IterableIterator<V> {
    return this.#map.values();
  }
  entries(): IterableIterator<[string, V]> {
    return this.#map.entries();
  }
}

/** Per-message attempt counts plus per-address counts that reset after a quiet gap. */
class Limiter {
  readonly #messages: BoundedMap<MessageCount>;
  readonly #addresses: BoundedMap<AddressCount>;

  constructor(
    private readonly perMessage: number,
    private readonly perAddress: number,
    private readonly quietResetMs: number,
    maxTracked: number,
  ) {
    this.#messages = new BoundedMap(maxTracked);
    this.#addresses = new BoundedMap(maxTracked);
  }

  attempt(address: string, timestamp: number, now: number): RetryDecision {
    const seen = this.#addresses.get(address);
    const quiet = seen === undefined || now - seen.last >= this.quietResetMs;
    const addressCount = quiet ? 0 : seen.count;
    this.#addresses.set(address, { address, count: addressCount, last: now });
    const messageKey = `${timestamp}@${address}`;
    const messageCount = this.#messages.get(messageKey)?.count ?? 0;
    if (messageCount >= this.perMessage) return deny('message-limit');
    if (addressCount >= this.perAddress) return deny('address-limit');
    this.#messages.set(messageKey, { address, timestamp, count: messageCount + 1 });
    this.#addresses.set(address, { address, count: addressCount + 1, last: now });
    return ALLOWED;
  }

  /**
   * The counters that still decide something at `now`: an address quiet for `quietResetMs` counts
   * from zero again, so it is left out; so are messages `keepMessage` rejects.
   */
  export(now: number, keepMessage: (m: MessageCount) => boolean): LimiterState {
    return {
      messages: [...this.#messages.values()].filter(keepMessage),
      addresses: [...this.#addresses.values()].filter((a) => now - a.last < this.quietResetMs),
    };
  }

  /** Adds restored counters oldest first (beyond `maxTracked`, the oldest are forgotten as usual). */
  import(state: LimiterState): void {
    for (const m of state.messages) this.#messages.set(`${m.timestamp}@${m.address}`, m);
    for (const a of state.addresses) this.#addresses.set(a.address, a);
  }
}

export class RetryPolicy {
  readonly #now: () => number;
  readonly #requests: Limiter;
  readonly #responses: Limiter;
  readonly #maxResponseAgeMs: number;
  readonly #resetInterval: number;
  readonly #resets: BoundedMap<number>;

  constructor(options: RetryPolicyOptions = {}) {
    if (options === null || typeof options !== 'object') throw new TypeError('options must be an object');
    if (options.now !== undefined && typeof options.now !== 'function')
      throw new TypeError('now must be a function');
    const o = { ...RETRY_POLICY_DEFAULTS };
    for (const k of Object.keys(RETRY_POLICY_DEFAULTS) as (keyof typeof RETRY_POLICY_DEFAULTS)[]) {
      const v = options[k];
      if (v === undefined) continue;
      if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 1)
        throw new RangeError(`${k} must be a positive integer`);
      (o as Record<string, number>)[k] = v;
    }
    this.#now = options.now ?? Date.now;
    this.#requests = new Limiter(
      o.maxRequestsPerMessage,
      o.maxRequestsPerAddress,
      o.quietResetMs,
      o.maxTracked,
    );
    this.#responses = new Limiter(
      o.maxResponsesPerMessage,
      o.maxResponsesPerAddress,
      o.quietResetMs,
      o.maxTracked,
    );
    this.#maxResponseAgeMs = o.maxResponseAgeMs;
    this.#resetInterval = o.sessionResetIntervalMs;
    this.#resets = new BoundedMap(o.maxTracked);
  }

  /**
   * Receiver: may we send `sender` a retry receipt for its message with `timestamp` that we could not
   * decrypt? An allowed answer is counted; when refused, show the failure to the user instead.
   */
  allowRequest(sender: Address, timestamp: number): RetryDecision {
    const key = addressToString(sender);
    checkTimestamp(timestamp);
    return this.#requests.attempt(key, timestamp, this.#clock());
  }

  /**
   * Sender: may we act on `requester`'s retry receipt for our message with `timestamp` (archive the
   * session, resend)? An allowed answer is counted.
   */
  allowResponse(requester: Address, timestamp: number): RetryDecision {
    const key = addressToString(requester);
    checkTimestamp(timestamp);
    const now = this.#clock();
    if (now - timestamp > this.#maxResponseAgeMs) return deny('too-old');
    return this.#responses.attempt(key, timestamp, now);
  }

  /** May we reset the session with `peer` (archive it, send a null message) now? Counted when allowed. */
  allowSessionReset(peer: Address): RetryDecision {
    const key = addressToString(peer);
    const now = this.#clock();
    const last = this.#resets.get(key);
    if (last !== undefined && now - last < this.#resetInterval) {
      // A reset "in the future" (the clock was set back, or restored counters came from a clock that
      // ran ahead) waits one interval from now, like the limiters' quiet gap, not until the clock
      // catches up with it — a year's error would block healing that peer for a year.
      if (last > now) this.#resets.set(key, now);
      return deny('too-soon');
    }
    this.#resets.set(key, now);
    return ALLOWED;
  }

  /**
   * The counters as bytes (versioned), to keep where the app keeps its sessions and restore with
   * `RetryPolicy.deserialize` after a restart, so limits reached before it still hold. Counters that
   * can no longer refuse anything (a quiet address, a reset long ago, a message too old to answer)
   * are left out; the rest is at most `maxTracked` entries per table.
   */
  serialize(): Uint8Array {
    const now = this.#clock();
    return encodeRetryPolicyState({
      requests: this.#requests.export(now, () => true),
      responses: this.#responses.export(now, (m) => now - m.timestamp <= this.#maxResponseAgeMs),
      resets: [...this.#resets.entries()]
        .filter(([, last]) => now - last < this.#resetInterval)
        .map(([address, last]) => ({ address, last })),
    });
  }

  /**
   * A policy with `options` (the limits are configuration, not state) and the counters of `bytes`
   * from `serialize`. Malformed bytes are a `DecodeError` (start from `new RetryPolicy(options)`
   * then: the counters are lost, nothing else). Keeps no view of `bytes`.
   */
  static deserialize(bytes: Uint8Array, options: RetryPolicyOptions = {}): RetryPolicy {
    const state = decodeRetryPolicyState(bytes);
    const policy = new RetryPolicy(options);
    policy.#requests.import(state.requests);
    policy.#responses.import(state.responses);
    for (const r of state.resets) policy.#resets.set(r.address, r.last);
    return policy;
  }

  #clock(): number {
    const now = this.#now();
    if (typeof now !== 'number' || !Number.isSafeInteger(now))
      throw new RangeError('clock must return an integer');
    return now;
  }
}

/** Every copy's policies carry it: another copy's is refused by name, never used (own-state.ts). */
export const RETRY_POLICY = stateBrand('RetryPolicy');
brandClass(RetryPolicy, RETRY_POLICY);

function checkTimestamp(timestamp: number): void {
  if (typeof timestamp !== 'number' || !Number.isSafeInteger(timestamp))
    throw new TypeError('timestamp must be a safe integer (ms since the epoch)');
  if (timestamp < 0) throw new RangeError('timestamp must not be negative');
}
