/**
 * Our own devices that still have to be told our groups and contacts. A device of ours that the
 * relay names during a send (linked, or re-registered) knows neither: the phone sends it the state
 * of every active group and the contact list (`devicesChanged` in direct.ts). The fan-out saves the
 * new device list before it sends again, and the commit before that send keeps it; when the
 * operation then fails (the request that tells the device, the commit before it), no later answer
 * names the device again, and it would never be told. So the device is noted here as soon as the
 * relay names it (`noteOwnDevices`, from the relay's answer, before the fan-out applies it: the
 * same transaction as the device list), and taken off only once it was told (`tellOwnDevices`); a
 * device still noted is told by the next outbox flush (`flushOwnDevices`). Telling it twice is
 * harmless: a device keeps the newest group state and contact list it got.
 *
 * App row (in the running operation's transaction): `local:own-devices-to-tell` → the device ids
 * as JSON (at most 127, the device ids there are). Not carried by backups: a restored device
 * learns its account's devices anew.
 */
import type { DeviceMismatch } from '@e2ee-kit/ratchet';
import { RelayError } from './api.js';
import type { ChatData } from './app-data.js';
import { syncContacts } from './contacts.js';
import type { ClientCore } from './core.js';
import { DeviceError } from './device-link.js';
import { activeGroups, announce } from './groups.js';
import { isRetryable } from './outbox.js';
import { DEVICE_ID } from './types.js';

const KEY = 'local:own-devices-to-tell';

/**
 * Notes the devices the relay's answer for our own account names that are new to us: missing ones
 * (a linked device; a linked device hearing of its account's primary is not news, as in
 * `devicesChanged`) and re-registered ones. Never this device.
 */
export async function noteOwnDevices(tx: ChatData, answer: DeviceMismatch, self: number): Promise<void> {
  const named =
    answer.kind === 'mismatched'
      ? answer.missingDevices.filter((id) => id !== DEVICE_ID)
      : answer.staleDevices;
  const ids = named.filter((id) => id !== self);
  if (ids.length === 0) return;
  const noted = await devicesToTell(tx);
  const all = [...new Set([...noted, ...ids])].sort((a, b) => a - b);
  if (all.length > noted.length) await tx.putJson(KEY, all);
}

async function devicesToTell(tx: ChatData): Promise<number[]> {
  return (await tx.json<number[]>(KEY)) ?? [];
}

/**
 * Sends our groups' state and our contacts to our own other devices (every one: a send to our
 * account goes to all of them), then takes the devices noted before it started off the row. A
 * device the sends themselves found is told by the nested call its answer starts (or stays noted).
 */
export async function tellOwnDevices(c: ClientCore, tx: ChatData): Promise<void> {
  const noted = await devicesToTell(tx);
  for (const g of await activeGroups(tx)) await announce(c, tx, g, []);
  await syncContacts(c, tx);
  const left = (await devicesToTell(tx)).filter((id) => !noted.includes(id));
  if (left.length > 0) await tx.putJson(KEY, left);
  else await tx.delete(KEY);
}

/**
 * The outbox flush's part: tells the devices still noted (an operation that failed after it found
 * them). Kept when the relay cannot be reached now, or the operation failed otherwise (a storage
 * error); dropped when the relay refuses it for good (those devices miss it, as any other device's
 * message refused for good).
 */
export async function flushOwnDevices(c: ClientCore): Promise<void> {
  // Looked at first: a flush runs on every reconnect, and nearly always there is nothing.
  if ((await c.run((tx) => devicesToTell(tx), true)).length === 0) return;
  try {
    await c.run((tx) => tellOwnDevices(c, tx));
  } catch (err) {
    const refused = (err instanceof RelayError && !isRetryable(err)) || err instanceof DeviceError;
    if (refused) await c.run((tx) => tx.delete(KEY));
  }
}
