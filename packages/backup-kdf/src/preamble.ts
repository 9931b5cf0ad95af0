/**
 * The unencrypted front of a backup file — header and slot section — read off a stream, and what
 * they deliberately show without a key.
 */
import { BackupErrorCode, BackupFormatError } from './errors.js';
import {
  decodeHeader,
  decodeSlotSection,
  type FileHeader,
  FORMAT_VERSION,
  HEADER_LENGTH,
  MAX_SLOT_SECTION_LENGTH,
  type SlotSection,
  slotSectionLength,
} from './format.js';
import { slotInfo } from './key-hierarchy.js';
import type { BackupMetadata } from './options.js';
import { ByteReader, type ByteSource, ByteStream } from './stream.js';

/** A one-shot output stream that releases `reader`'s source however the consumer stops. */
export function readerStream(reader: ByteReader, body: () => AsyncGenerator<Uint8Array>): ByteStream {
  return new ByteStream(async function* () {
    try {
      yield* body();
    } finally {
      await reader.close();
    }
  });
}

/** Reads header and slot section off a stream; leaves the reader at the first payload byte. */
export async function readPreamble(
  reader: ByteReader,
): Promise<{ header: FileHeader; section: SlotSection }> {
  const head = await reader.read(HEADER_LENGTH);
  const header = decodeHeader(head);
  let want = 1;
  for (;;) {
    const peek = await reader.peek(want);
    const next = slotSectionLength(peek);
    // Checked on every step, not only once the whole length is known: slot lengths are u16, so a
    // hostile section would otherwise make us buffer up to 8 × 64 KiB before refusing it.
    if (next.length > MAX_SLOT_SECTION_LENGTH) {
      throw new BackupFormatError(BackupErrorCode.Malformed, 'slot section too long', 'slots');
    }
    if (next.done || peek.length < want) {
      // Decoding checks every slot and reports a truncated section as malformed.
      return { header, section: decodeSlotSection(await reader.read(next.length)) };
    }
    want = next.length;
  }
}

/** The header and slots as `BackupMetadata` (copies). */
export function metadataOf(header: FileHeader, section: SlotSection): BackupMetadata {
  return {
    formatVersion: FORMAT_VERSION,
    suite: header.suite,
    chunkSize: 2 ** header.chunkLog2,
    backupId: header.backupId.slice(),
    slots: section.slots.map(slotInfo),
  };
}

/** Reads only the header and slot section (no key needed) and returns what they deliberately expose. */
export async function readBackupMetadata(source: ByteSource): Promise<BackupMetadata> {
  const reader = new ByteReader(source);
  try {
    const { header, section } = await readPreamble(reader);
    return metadataOf(header, section);
  } finally {
    await reader.close();
  }
}
