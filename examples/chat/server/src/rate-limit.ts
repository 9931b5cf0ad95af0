/**
 * Fixed-window counters keyed by a string (an account, a recipient, a requester/target pair), bounded
 * in memory: when `tracked` keys are held, the oldest window is forgotten first. With a `WindowStore`
 * (rate-windows.ts: the relay's SQLite file) every count is written through and a window not in
 * memory is read back, so the windows survive a restart. The clock is the caller's (`now` per call),
 * so tests drive the windows without waiting.
 */
import type { Window, WindowStore } from './rate-windows.js';

export interface WindowLimit {
  /** Units allowed per key per window. */
  readonly count: number;
  readonly windowMs: number;
}

export class WindowLimiter {
  readonly #windows = new Map<string, Window>();

  constructor(
    readonly limit: WindowLimit,
    readonly tracked = 10_000,
    readonly store?: WindowStore,
  ) {}

  #remember(key: string, w: Window): void {
    this.#windows.delete(key);
    if (this.#windows.size >= this.tracked) {
      const oldest = this.#windows.keys().next().value;
      if (oldest !== undefined) this.#windows.delete(oldest);
    }
    this.#windows.set(key, w);
  }

  #window(key: string, now: number): Window {
    let w = this.#windows.get(key);
    if (!w && this.store) {
      w = this.store.get(key);
      if (w) this.#remember(key, w);
    }
    if (!w || now - w.start >= this.limit.windowMs || now < w.start) {
      w = { start: now, used: 0 };
      this.#remember(key, w);
      this.store?.opened(now, this.limit.windowMs, this.tracked);
    }
    return w;
  }

  /** Whether `cost` units would fit in the key's window now (nothing counted). */
  allows(key: string, now: number, cost = 1): boolean {
    return this.#window(key, now).used + cost <= this.limit.count;
  }

  /** Counts `cost` units; false (and nothing counted) when they do not fit in the key's window. */
  take(key: string, now: number, cost = 1): boolean {
    const w = this.#window(key, now);
    if (w.used + cost > this.limit.count) return false;
    w.used += cost;
    this.store?.put(key, w);
    return true;
  }

  /** Milliseconds until the key's window resets (for a Retry-After header). */
  retryAfterMs(key: string, now: number): number {
    const w = this.#windows.get(key);
    return w ? Math.max(0, w.start + this.limit.windowMs - now) : 0;
  }
}
