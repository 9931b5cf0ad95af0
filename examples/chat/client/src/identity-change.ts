/**
 * A contact's identity key that changed, found while sending. The kit's `DeviceFanout` refuses
 * bundles whose identity key is not the one known for the account, before any session is touched,
 * and leaves the decision to the app. Receiving settles it (a change is accepted for receiving), so
 * until a contact who re-installed wrote first they could not be written to — even after the user
 * chose "Accept". As Signal and WhatsApp do, a changed key is accepted for sending — saved, which
 * notes the change in the chat — unless the user verified the old key (`trustedForSending` says no:
 * then it stays refused until they verify again or accept the change).
 */
import { E2eeError, type PublicKey } from '@e2ee-kit/core';
import type { DeviceFanout, PreKeyBundle } from '@e2ee-kit/ratchet';

/**
 * After a fan-out to ServiceId `recipient` failed with `err`: when it is an untrusted identity and
 * every bundle fetched for it (`bundles`) carries one new key the app trusts for sending, takes
 * that key for the account with the kit's `approveIdentity` (each known device's session archived:
 * it belongs to the old key, and archived it still decrypts what was sent before; the key saved
 * for each device; all of it put back if a store call fails), in the running operation — whose
 * transaction lists the change (`tx.identityChanges`), so `run` notes it in the chat in the same
 * commit. Returns true when the send may be tried again.
 */
export async function acceptChangedIdentity(
  err: unknown,
  recipient: string,
  bundles: readonly PreKeyBundle[],
  fanout: DeviceFanout,
  trustedForSending: (address: { name: string; deviceId: number }, key: PublicKey) => Promise<boolean>,
): Promise<boolean> {
  if (!E2eeError.is(err, 'UNTRUSTED_IDENTITY')) return false;
  const first = bundles[0];
  const key = first?.identityKey;
  if (!first || !key || bundles.some((b) => !b.identityKey.equals(key))) return false;
  if (!(await trustedForSending({ name: recipient, deviceId: first.deviceId }, key))) return false;
  await fanout.approveIdentity(recipient, key);
  return true;
}
