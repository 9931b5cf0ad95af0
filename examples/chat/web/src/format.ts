/**
 * What the user reads: times in the browser's local time zone and language, and error texts in
 * plain words (what happened, what to do) instead of codes and UTC timestamps.
 */
import { RelayError } from '@e2ee-kit/chat-client';
import { E2eeError } from '@e2ee-kit/core';

/** "14:05" (local). */
export const timeText = (ms: number) =>
  new Date(ms).toLocaleTimeString(undefined, { hour: '2-digit', minute: '2-digit' });

/** "14:05:30" (local), for lockout ends. */
export const clockText = (d: Date) =>
  d.toLocaleTimeString(undefined, { hour: '2-digit', minute: '2-digit', second: '2-digit' });

/** "Today", "Yesterday" or a local date, for the separators between days. */
export function dayText(ms: number, now = Date.now()): string {
  const day = (t: number) => new Date(t).toDateString();
  if (day(ms) === day(now)) return 'Today';
  if (day(ms) === day(now - 86_400_000)) return 'Yesterday';
  return new Date(ms).toLocaleDateString(undefined, {
    weekday: 'short',
    day: 'numeric',
    month: 'short',
    year: 'numeric',
  });
}

/** The moment something ends, said the way a person would: "at 14:05:30" or "on 3 Dec at 14:05". */
export function untilText(d: Date, now = Date.now()): string {
  if (new Date(now).toDateString() === d.toDateString()) return `at ${clockText(d)}`;
  return `on ${d.toLocaleDateString(undefined, { day: 'numeric', month: 'short' })} at ${timeText(d.getTime())}`;
}

/**
 * When a device was linked, as the relay reports it: nothing signed or encrypted carries that time,
 * so a hostile relay can say anything (an old date, to make a new device look familiar). It is shown
 * as the relay's claim, and a value that is no time at all is said to be missing.
 */
export function relayLinkedText(createdAt: unknown): string {
  const t = typeof createdAt === 'number' && Number.isFinite(createdAt) ? new Date(createdAt) : undefined;
  if (!t || Number.isNaN(t.getTime())) return 'the relay gives no link time';
  return `the relay says it was linked ${t.toLocaleString()}`;
}

export const isOffline = (err: unknown) =>
  err instanceof TypeError && /fetch|network|load failed/i.test(err.message);

/** True when the relay says this device is not (any more) registered. */
export const isUnauthorized = (err: unknown) => err instanceof RelayError && err.status === 401;

const RELAY_TEXTS: Record<string, string> = {
  name_taken:
    'That name is already registered. If it is yours, enter its recovery code to re-install it on this device.',
  wrong_recovery_code: 'That recovery code does not belong to this account.',
  unauthorized: 'The relay no longer knows this device: the account was moved to another device.',
  forbidden: 'Only the account itself can do that.',
  rate_limited: 'Too many requests in a short time. Wait a moment and try again.',
  payload_too_large: 'That is too large for the relay.',
  backup_changed:
    'Your backup changed while the password was being changed (a new backup, or another device). Nothing was lost: try the change again.',
};

/** A sentence for the user; never a raw code or a UTC timestamp. */
export function errorText(err: unknown): string {
  if (isOffline(err)) return 'The relay cannot be reached. Check your connection and try again.';
  if (err instanceof RelayError) {
    const known = RELAY_TEXTS[err.code];
    if (known) return known;
    if (err.status === 404)
      return err.message.includes('backup') ? 'There is no backup for this account.' : 'No such account.';
    if (err.status >= 500) return 'The relay had a problem. Try again in a moment.';
    return `The relay refused this (${err.message}).`;
  }
  if (E2eeError.is(err, 'LOCKED_OUT'))
    return `Too many wrong attempts. You can try again ${untilText(err.until)}.`;
  if (E2eeError.is(err, 'WRONG_PASSWORD')) {
    const info = err as { remainingAttempts?: number; lockedUntil?: Date };
    if (info.lockedUntil)
      return `Wrong password or key. Too many attempts: try again ${untilText(info.lockedUntil)}.`;
    if (info.remainingAttempts !== undefined)
      return `Wrong password or key. ${info.remainingAttempts} ${info.remainingAttempts === 1 ? 'try' : 'tries'} left before a pause.`;
    return 'Wrong password or key.';
  }
  if (E2eeError.is(err, 'RECOVERY_KEY_CHECKSUM') || E2eeError.is(err, 'RECOVERY_KEY_FORMAT'))
    return 'That 64-digit key has a typo. Check it group by group (16 groups of 4 digits).';
  if (E2eeError.is(err, 'BACKUP_NO_MATCHING_SLOT'))
    return 'This backup cannot be opened that way (no password, or no 64-digit key, was set for it).';
  if (E2eeError.is(err, 'UNTRUSTED_IDENTITY'))
    return 'The safety number of this contact changed since you verified it.';
  if (E2eeError.is(err)) return `${err.message.charAt(0).toUpperCase()}${err.message.slice(1)}.`;
  if (err instanceof Error) return `${err.message.charAt(0).toUpperCase()}${err.message.slice(1)}.`;
  return String(err);
}
