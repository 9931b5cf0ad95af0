/**
 * Splitting a backup file into its slot section and the rest, for services that store the slot
 * section (the wrapped keys) apart from the encrypted body: a password change then replaces only
 * the slot section, and the body bytes stay identical. Pure byte surgery, no key involved; every
 * part is still authenticated when the joined file is opened.
 */
import { assertBytes, concatBytes, copyBytes } from '@e2ee-kit/core';
import { BackupErrorCode, BackupFormatError } from './errors.js';
import { decodeHeader, decodeSlotSection, HEADER_LENGTH } from './format.js';

/** Slot section (with its MAC) and body (header ‖ payload chunks) of a complete backup file. */
export function splitBackupFile(file: Uint8Array): { slots: Uint8Array; body: Uint8Array } {
  assertBytes(file, 'file');
  decodeHeader(file);
  const section = decodeSlotSection(file.subarray(HEADER_LENGTH));
  const end = HEADER_LENGTH + section.bytes.length;
  return {
    slots: copyBytes(file, HEADER_LENGTH, end),
    body: concatBytes(file.subarray(0, HEADER_LENGTH), file.subarray(end)),
  };
}

/** The inverse of `splitBackupFile`: header ‖ slots ‖ payload chunks. */
export function joinBackupFile(parts: { body: Uint8Array; slots: Uint8Array }): Uint8Array {
  assertBytes(parts?.body, 'body');
  assertBytes(parts.slots, 'slots');
  decodeHeader(parts.body);
  if (decodeSlotSection(parts.slots).bytes.length !== parts.slots.length) {
    throw new BackupFormatError(BackupErrorCode.Malformed, 'bytes after the slot section', 'slots');
  }
  return concatBytes(parts.body.subarray(0, HEADER_LENGTH), parts.slots, parts.body.subarray(HEADER_LENGTH));
}
