/**
 * Safety numbers: the 60 digits and QR code with a contact, verifying a scanned code (a verified key
 * that changes blocks sending until verified again), and accepting a change without verifying.
 */
import { constantTimeEqual, utf8 } from '@e2ee-kit/core';
import { type CompareResult, computeSafetyNumber as safetyNumberOf } from '@e2ee-kit/safety-number';
import { safetyNumberQr } from '@e2ee-kit/safety-number/qr';
import { APP_KEYS } from './app-data.js';
import type { ClientCore } from './core.js';
import { address, dm, type SafetyNumberView } from './types.js';

export async function computeSafetyNumber(c: ClientCore, contact: string) {
  const theirs = await c.protocol.getIdentity(address(await c.directory.aciOf(c.data, contact)));
  if (!theirs) throw new Error(`no identity key known for ${contact} yet: exchange a message first`);
  const sn = safetyNumberOf({
    local: { identifier: utf8(c.name), identityKey: c.identity.publicKey },
    remote: { identifier: utf8(contact), identityKey: theirs },
    provider: c.provider,
  });
  return { theirs, sn };
}

/** The safety number with `contact` (needs a session, i.e. at least one message exchanged). */
export function safetyNumber(c: ClientCore, contact: string): Promise<SafetyNumberView> {
  return c.run(async (tx) => {
    const { theirs, sn } = await computeSafetyNumber(c, contact);
    const verified = await tx.get(APP_KEYS.verified(contact));
    return {
      contact,
      digits: sn.digits,
      groups: sn.groups(),
      payload: sn.scannable.serialize(),
      qrSvg: safetyNumberQr(sn).toSvg(),
      verified: verified !== undefined && constantTimeEqual(verified, theirs.serialize()),
    };
  });
}

/**
 * Compares the payload scanned from `contact`'s screen with our own view. On a match the contact's
 * current identity key is remembered as verified; a later change of that key blocks sending until
 * it is verified again (or the change is accepted).
 */
export function verifySafetyNumber(
  c: ClientCore,
  contact: string,
  scanned: Uint8Array,
): Promise<CompareResult> {
  return c.run(async (tx) => {
    const { theirs, sn } = await computeSafetyNumber(c, contact);
    const result = sn.compare(scanned);
    if (result.status === 'match') {
      await tx.put(APP_KEYS.verified(contact), theirs.serialize());
      await c.note(tx, dm(contact), c.name, `you verified ${contact}'s safety number`);
    }
    return result;
  });
}

/** Accepts a changed identity without verifying it (sending is allowed again, marked unverified). */
export function acceptIdentityChange(c: ClientCore, contact: string): Promise<void> {
  return c.run(async (tx) => {
    await tx.delete(APP_KEYS.verified(contact));
  });
}
