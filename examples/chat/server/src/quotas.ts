/**
 * The relay's per-account rate limits, so one account cannot use up what others need: how many
 * envelopes it submits, how many bundles it fetches, and how many one-time prekeys a device hands
 * out (to anyone, and to one requester); and, per remote address, how many registrations are tried. Windows are fixed; given the relay's database they are kept
 * in it (rate-windows.ts), so a restart forgets none of them.
 */
import type Database from 'better-sqlite3';
import type { RelayLimits } from './limits.js';
import { WindowLimiter } from './rate-limit.js';
import { sqliteWindows } from './rate-windows.js';
import { HttpError } from './validate.js';

export class RelayQuotas {
  /** Envelopes submitted, per sending account. */
  readonly sends: WindowLimiter;
  /** Bundles fetched, per requesting account. */
  readonly bundles: WindowLimiter;
  /** One-time prekeys handed out, per target device. */
  readonly oneTimeKeys: WindowLimiter;
  /** One-time prekeys handed out, per (requesting account, target device). */
  readonly oneTimeKeysPerPair: WindowLimiter;
  /** Registrations attempted, per remote address (remote.ts). */
  readonly registrations: WindowLimiter;

  constructor(limits: RelayLimits, db?: Database.Database) {
    const kept = (name: string) => (db ? sqliteWindows(db, name) : undefined);
    this.sends = new WindowLimiter(limits.sendRate, undefined, kept('sends'));
    this.bundles = new WindowLimiter(limits.bundleRate, undefined, kept('bundles'));
    this.oneTimeKeys = new WindowLimiter(limits.oneTimeKeyRate, undefined, kept('one-time-keys'));
    this.oneTimeKeysPerPair = new WindowLimiter(
      limits.oneTimeKeyPairRate,
      undefined,
      kept('one-time-key-pairs'),
    );
    this.registrations = new WindowLimiter(limits.registrationRate, undefined, kept('registrations'));
  }

  /**
   * Whether `requester` may be handed one of the target device's one-time prekeys now; counts it
   * against both the device's window and the pair's only when both have room.
   */
  takeOneTimeKey(requester: string, target: string, deviceId: number, now: number): boolean {
    const device = `${target}\u0000${deviceId}`;
    const pair = `${requester}\u0000${device}`;
    if (!this.oneTimeKeys.allows(device, now) || !this.oneTimeKeysPerPair.allows(pair, now)) return false;
    this.oneTimeKeys.take(device, now);
    this.oneTimeKeysPerPair.take(pair, now);
    return true;
  }

  /** Counts `cost` units against `limiter` for `key`, or throws 429 `rate_limited` (nothing counted). */
  static charge(limiter: WindowLimiter, key: string, now: number, cost: number, what: string): void {
    if (limiter.take(key, now, cost)) return;
    throw new HttpError(429, 'rate_limited', `too many ${what}; retry later`, {
      retryAfterSeconds: Math.ceil(limiter.retryAfterMs(key, now) / 1000),
    });
  }
}
