/**
 * Device lists and the server's answer when a send named the wrong devices (Signal's 409
 * `{missingDevices, extraDevices}` and 410 `{staleDevices}`, spec `devices-and-healing.md` §1.3), as
 * typed input: `parseDeviceMismatch` checks the JSON, `planDeviceMismatch` says exactly which
 * sessions to start and which to drop.
 */
import { DecodeError, MAX_DEVICE_ID } from '@e2ee-kit/core';

/** Where the fan-out keeps the known device ids of each account (other accounts' and our own). */
export interface DeviceListStore {
  /**
   * The known device ids of `account` (distinct, each 1..127), or `null` if none were ever recorded.
   * Anything else is a `DecodeError` in the fan-out, before anything is encrypted.
   */
  getDevices(account: string): Promise<readonly number[] | null>;
  saveDevices(account: string, deviceIds: readonly number[]): Promise<void>;
}

/** A `DeviceListStore` in memory (prototypes and tests; an app persists device lists with its sessions). */
export class InMemoryDeviceListStore implements DeviceListStore {
  readonly #lists = new Map<string, number[]>();

  async getDevices(account: string): Promise<readonly number[] | null> {
    return this.#lists.get(account)?.slice() ?? null;
  }

  async saveDevices(account: string, deviceIds: readonly number[]): Promise<void> {
    this.#lists.set(account, [...deviceIds]);
  }
}

/** The server's answer to a send that named the wrong devices. */
export type DeviceMismatch =
  /** 409: devices of the account the send left out, and ids that are no devices of it. */
  | {
      readonly kind: 'mismatched';
      readonly missingDevices: readonly number[];
      readonly extraDevices: readonly number[];
    }
  /** 410: ids whose registration id changed (the device id was reused by a new registration). */
  | { readonly kind: 'stale'; readonly staleDevices: readonly number[] };

/** Which sessions a mismatch answer asks for. A stale device is in both: archive, then start fresh. */
export interface DeviceMismatchPlan {
  /** Fetch a bundle for each and start a new session. */
  readonly start: readonly number[];
  /** Archive their sessions (nothing is deleted: late messages still decrypt). */
  readonly archive: readonly number[];
  /** Device ids that join the list. */
  readonly added: readonly number[];
  /** Device ids that leave the list. */
  readonly removed: readonly number[];
  /** Device ids that stay but were re-registered. */
  readonly reregistered: readonly number[];
}

/**
 * `value` as a sorted list of distinct device ids (1..MAX_DEVICE_ID, at most that many), else a
 * `DecodeError`: for a server's answer and for what a `DeviceListStore` returns alike.
 */
export function deviceIds(value: unknown, what: string): number[] {
  if (!Array.isArray(value)) throw new DecodeError(`${what} must be an array of device ids`);
  if (value.length > MAX_DEVICE_ID)
    throw new DecodeError(`${what} lists more devices than an account can have`);
  const seen = new Set<number>();
  for (const id of value) {
    if (!Number.isInteger(id) || id < 1 || id > MAX_DEVICE_ID)
      throw new DecodeError(`${what} has an invalid device id`);
    if (seen.has(id)) throw new DecodeError(`${what} names a device twice`);
    seen.add(id);
  }
  return [...seen].sort((a, b) => a - b);
}

/**
 * The typed form of a 409 or 410 body (`{missingDevices, extraDevices}` / `{staleDevices}`, as
 * Signal's server sends them). Anything else → `DecodeError`.
 */
export function parseDeviceMismatch(status: number, body: unknown): DeviceMismatch {
  if (body === null || typeof body !== 'object' || Array.isArray(body))
    throw new DecodeError('device mismatch body must be an object');
  const b = body as Record<string, unknown>;
  if (status === 409) {
    const missingDevices = deviceIds(b['missingDevices'] ?? [], 'missingDevices');
    const extraDevices = deviceIds(b['extraDevices'] ?? [], 'extraDevices');
    if (missingDevices.some((id) => extraDevices.includes(id)))
      throw new DecodeError('a device cannot be both missing and extra');
    if (missingDevices.length + extraDevices.length === 0)
      throw new DecodeError('a 409 answer names no device');
    return Object.freeze({ kind: 'mismatched', missingDevices, extraDevices });
  }
  if (status === 410) {
    const staleDevices = deviceIds(b['staleDevices'], 'staleDevices');
    if (staleDevices.length === 0) throw new DecodeError('a 410 answer names no device');
    return Object.freeze({ kind: 'stale', staleDevices });
  }
  throw new DecodeError(`status ${status} is not a device mismatch`);
}

/** Validates a `DeviceMismatch` the app built itself (same rules as `parseDeviceMismatch`). */
export function checkDeviceMismatch(mismatch: DeviceMismatch): DeviceMismatch {
  if (mismatch === null || typeof mismatch !== 'object') throw new TypeError('mismatch must be an object');
  if (mismatch.kind === 'mismatched')
    return parseDeviceMismatch(409, {
      missingDevices: mismatch.missingDevices,
      extraDevices: mismatch.extraDevices,
    });
  if (mismatch.kind === 'stale') return parseDeviceMismatch(410, { staleDevices: mismatch.staleDevices });
  throw new TypeError("mismatch.kind must be 'mismatched' or 'stale'");
}

/** What a mismatch answer asks of the sessions (Signal's clients: §1.3's table). */
export function planDeviceMismatch(mismatch: DeviceMismatch): DeviceMismatchPlan {
  const m = checkDeviceMismatch(mismatch);
  if (m.kind === 'mismatched')
    return Object.freeze({
      start: m.missingDevices,
      archive: m.extraDevices,
      added: m.missingDevices,
      removed: m.extraDevices,
      reregistered: [],
    });
  return Object.freeze({
    start: m.staleDevices,
    archive: m.staleDevices,
    added: [],
    removed: [],
    reregistered: m.staleDevices,
  });
}
