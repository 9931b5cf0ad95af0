/**
 * Container v1 codec (spec/backup.md §8.3, with the header tag below). All integers big-endian.
 *
 * Fixed header, 92 bytes, immutable; SHA-256 of it is the AAD of every payload chunk:
 *   magic 8 (`BKDF` 0D 0A 1A 0A) ‖ version 1 (0x01) ‖ suite 1 ‖ chunk_log2 1 (12…22) ‖ flags 1 (0)
 *   ‖ backup_id 16 ‖ file_nonce 32 ‖ header_tag 32 = HMAC-SHA256(header-MAC key, the first 60 bytes)
 *
 * Slot section, rewritable (password change touches only this):
 *   slot_count 1 (1…8) ‖ slots (type 1 ‖ len 2 ‖ body) ‖ slots_mac 32
 *   slots_mac = HMAC-SHA256(slots-MAC key, magic ‖ version ‖ backup_id ‖ slot_count ‖ slots)
 *   type 0x01 password: kdf 1 (0x01 = Argon2id v0x13) ‖ m_kib 4 ‖ t 4 ‖ p 1 ‖ salt 16 ‖ wrapped 48
 *   type 0x02 recovery: key format 1 (0x01 64 digits, 0x02 64 hex) ‖ salt 16 ‖ wrapped 48
 *   type 0x80…0xFF external: salt 16 ‖ wrapped 48 ‖ integrator data (0…1024 bytes)
 */
import { copyBytes } from '@e2ee-kit/core';
import { type Argon2Params, argon2FormatViolation } from './argon2.js';
import { BackupErrorCode, BackupFormatError } from './errors.js';

export const MAGIC = Uint8Array.of(0x42, 0x4b, 0x44, 0x46, 0x0d, 0x0a, 0x1a, 0x0a);
export const FORMAT_VERSION = 1;
export const HEADER_LENGTH = 92;
export const HEADER_SIGNED_LENGTH = 60;
export const BACKUP_ID_LENGTH = 16;
export const FILE_NONCE_LENGTH = 32;
export const SALT_LENGTH = 16;
export const WRAPPED_LENGTH = 48;
export const MAC_LENGTH = 32;
export const MAX_SLOTS = 8;
export const MAX_EXTERNAL_DATA = 1024;
export const MIN_CHUNK_LOG2 = 12;
export const MAX_CHUNK_LOG2 = 22;
export const DEFAULT_CHUNK_LOG2 = 16;

/** The payload AEAD of a backup. */
export type Suite = 'aes-256-gcm' | 'chacha20-poly1305';
export const SUITES = { 'aes-256-gcm': 0x01, 'chacha20-poly1305': 0x02 } as const satisfies Record<
  Suite,
  number
>;

export const SLOT_PASSWORD = 0x01;
export const SLOT_RECOVERY = 0x02;
const KDF_ARGON2ID = 0x01;
export const RECOVERY_FORMAT_CODES = { digits64: 0x01, hex64: 0x02 } as const;

export interface FileHeader {
  readonly suite: Suite;
  readonly chunkLog2: number;
  readonly backupId: Uint8Array;
  readonly fileNonce: Uint8Array;
  readonly headerTag: Uint8Array;
  /** The 92 bytes exactly as read or written. */
  readonly bytes: Uint8Array;
}

export type SlotBody =
  | {
      readonly type: 'password';
      readonly params: Argon2Params;
      readonly salt: Uint8Array;
      readonly wrapped: Uint8Array;
    }
  | {
      readonly type: 'recovery';
      readonly format: 'digits64' | 'hex64';
      readonly salt: Uint8Array;
      readonly wrapped: Uint8Array;
    }
  | {
      readonly type: 'external';
      readonly typeByte: number;
      readonly salt: Uint8Array;
      readonly wrapped: Uint8Array;
      readonly data: Uint8Array;
    };

/** A slot's fields but its salt and wrapped key (what a new slot is made from). */
export type SlotKind = SlotBody extends infer S
  ? S extends SlotBody
    ? Omit<S, 'salt' | 'wrapped'>
    : never
  : never;

export interface SlotSection {
  readonly slots: readonly SlotBody[];
  readonly mac: Uint8Array;
  /** The bytes covered by the MAC after magic ‖ version ‖ backup_id: slot_count ‖ slots. */
  readonly macInput: Uint8Array;
  /** The whole section as read or written (with the MAC). */
  readonly bytes: Uint8Array;
}

const malformed = (what: string, field?: string) =>
  new BackupFormatError(BackupErrorCode.Malformed, what, field);
const outOfRange = (field: string) =>
  new BackupFormatError(
    BackupErrorCode.ParameterOutOfRange,
    `backup parameter ${field} is out of range`,
    field,
  );

/** The header without its tag (the bytes the header tag authenticates). */
export function encodeHeaderPrefix(h: {
  suite: Suite;
  chunkLog2: number;
  backupId: Uint8Array;
  fileNonce: Uint8Array;
}): Uint8Array {
  const out = new Uint8Array(HEADER_SIGNED_LENGTH);
  out.set(MAGIC, 0);
  out[8] = FORMAT_VERSION;
  out[9] = SUITES[h.suite];
  out[10] = h.chunkLog2;
  out[11] = 0;
  out.set(h.backupId, 12);
  out.set(h.fileNonce, 28);
  return out;
}

/**
 * Decodes and range-checks the fixed header (the first 92 bytes). Checks, in this order: length of
 * the magic part, magic, version, then the remaining length, suite, chunk size and flags.
 */
export function decodeHeader(bytes: Uint8Array): FileHeader {
  const n = Math.min(bytes.length, MAGIC.length);
  for (let i = 0; i < n; i++) {
    if (bytes[i] !== MAGIC[i]) {
      throw new BackupFormatError(BackupErrorCode.BadMagic, 'not an e2ee-kit backup (bad magic bytes)');
    }
  }
  if (bytes.length < 9) throw malformed('backup header is truncated', 'header');
  if (bytes[8] !== FORMAT_VERSION) {
    throw new BackupFormatError(
      BackupErrorCode.UnsupportedVersion,
      'backup format version is not supported by this reader',
      'format_version',
    );
  }
  if (bytes.length < HEADER_LENGTH) throw malformed('backup header is truncated', 'header');
  const suiteByte = bytes[9]!;
  const suite = (Object.keys(SUITES) as Suite[]).find((s) => SUITES[s] === suiteByte);
  if (suite === undefined) throw outOfRange('suite');
  const chunkLog2 = bytes[10]!;
  if (chunkLog2 < MIN_CHUNK_LOG2 || chunkLog2 > MAX_CHUNK_LOG2) throw outOfRange('chunk_log2');
  if (bytes[11] !== 0) throw outOfRange('flags');
  const b = copyBytes(bytes, 0, HEADER_LENGTH); // a copy: the fields below are slices of it
  return {
    suite,
    chunkLog2,
    backupId: b.slice(12, 28),
    fileNonce: b.slice(28, 60),
    headerTag: b.slice(60, 92),
    bytes: b,
  };
}

function u32(b: Uint8Array, o: number): number {
  return ((b[o]! << 24) >>> 0) + (b[o + 1]! << 16) + (b[o + 2]! << 8) + b[o + 3]!;
}

function putU32(b: Uint8Array, o: number, v: number): void {
  b[o] = v >>> 24;
  b[o + 1] = (v >>> 16) & 0xff;
  b[o + 2] = (v >>> 8) & 0xff;
  b[o + 3] = v & 0xff;
}

/** The bytes of a slot body before its wrapped key: bound as AAD into the wrap. */
export function slotDescriptor(slot: SlotBody): Uint8Array {
  switch (slot.type) {
    case 'password': {
      const d = new Uint8Array(2 + 9 + SALT_LENGTH);
      d[0] = SLOT_PASSWORD;
      d[1] = KDF_ARGON2ID;
      putU32(d, 2, slot.params.memoryKiB);
      putU32(d, 6, slot.params.iterations);
      d[10] = slot.params.parallelism;
      d.set(slot.salt, 11);
      return d;
    }
    case 'recovery': {
      const d = new Uint8Array(2 + SALT_LENGTH);
      d[0] = SLOT_RECOVERY;
      d[1] = RECOVERY_FORMAT_CODES[slot.format];
      d.set(slot.salt, 2);
      return d;
    }
    case 'external': {
      const d = new Uint8Array(1 + SALT_LENGTH + 2 + slot.data.length);
      d[0] = slot.typeByte;
      d.set(slot.salt, 1);
      d[17] = slot.data.length >>> 8;
      d[18] = slot.data.length & 0xff;
      d.set(slot.data, 19);
      return d;
    }
  }
}

function encodeSlotBody(slot: SlotBody): { type: number; body: Uint8Array } {
  switch (slot.type) {
    case 'password': {
      const body = new Uint8Array(1 + 4 + 4 + 1 + SALT_LENGTH + WRAPPED_LENGTH);
      body[0] = KDF_ARGON2ID;
      putU32(body, 1, slot.params.memoryKiB);
      putU32(body, 5, slot.params.iterations);
      body[9] = slot.params.parallelism;
      body.set(slot.salt, 10);
      body.set(slot.wrapped, 26);
      return { type: SLOT_PASSWORD, body };
    }
    case 'recovery': {
      const body = new Uint8Array(1 + SALT_LENGTH + WRAPPED_LENGTH);
      body[0] = RECOVERY_FORMAT_CODES[slot.format];
      body.set(slot.salt, 1);
      body.set(slot.wrapped, 17);
      return { type: SLOT_RECOVERY, body };
    }
    case 'external': {
      const body = new Uint8Array(SALT_LENGTH + WRAPPED_LENGTH + slot.data.length);
      body.set(slot.salt, 0);
      body.set(slot.wrapped, 16);
      body.set(slot.data, 64);
      return { type: slot.typeByte, body };
    }
  }
}

/** A password slot can replace the one in `slots`, or be added (`RangeError` when all 8 are taken). */
export function checkRoomForPassword(slots: readonly SlotBody[]): void {
  if (slots.length >= MAX_SLOTS && !slots.some((s) => s.type === 'password'))
    throw new RangeError(`a backup has at most ${MAX_SLOTS} slots`);
}

/** slot_count ‖ slots (the section without its MAC). */
export function encodeSlots(slots: readonly SlotBody[]): Uint8Array {
  if (slots.length < 1 || slots.length > MAX_SLOTS) throw new RangeError(`a backup has 1…${MAX_SLOTS} slots`);
  const parts = slots.map(encodeSlotBody);
  const total = 1 + parts.reduce((n, p) => n + 3 + p.body.length, 0);
  const out = new Uint8Array(total);
  out[0] = slots.length;
  let o = 1;
  for (const p of parts) {
    out[o] = p.type;
    out[o + 1] = p.body.length >>> 8;
    out[o + 2] = p.body.length & 0xff;
    out.set(p.body, o + 3);
    o += 3 + p.body.length;
  }
  return out;
}

function decodeSlot(type: number, body: Uint8Array): SlotBody {
  if (type === SLOT_PASSWORD) {
    if (body.length !== 1 + 4 + 4 + 1 + SALT_LENGTH + WRAPPED_LENGTH)
      throw malformed('password slot has a wrong length', 'slot');
    if (body[0] !== KDF_ARGON2ID) throw outOfRange('kdf');
    const params: Argon2Params = { memoryKiB: u32(body, 1), iterations: u32(body, 5), parallelism: body[9]! };
    const bad = argon2FormatViolation(params);
    if (bad !== undefined) throw outOfRange(bad);
    return { type: 'password', params, salt: body.slice(10, 26), wrapped: body.slice(26, 74) };
  }
  if (type === SLOT_RECOVERY) {
    if (body.length !== 1 + SALT_LENGTH + WRAPPED_LENGTH)
      throw malformed('recovery slot has a wrong length', 'slot');
    const format =
      body[0] === RECOVERY_FORMAT_CODES.digits64
        ? 'digits64'
        : body[0] === RECOVERY_FORMAT_CODES.hex64
          ? 'hex64'
          : undefined;
    if (format === undefined) throw outOfRange('recovery_format');
    return { type: 'recovery', format, salt: body.slice(1, 17), wrapped: body.slice(17, 65) };
  }
  if (type >= 0x80) {
    if (
      body.length < SALT_LENGTH + WRAPPED_LENGTH ||
      body.length > SALT_LENGTH + WRAPPED_LENGTH + MAX_EXTERNAL_DATA
    )
      throw malformed('external slot has a wrong length', 'slot');
    return {
      type: 'external',
      typeByte: type,
      salt: body.slice(0, 16),
      wrapped: body.slice(16, 64),
      data: body.slice(64),
    };
  }
  throw outOfRange('slot_type');
}

/** Largest possible slot section: a reader never needs to buffer more than this before the payload. */
export const MAX_SLOT_SECTION_LENGTH =
  1 + MAX_SLOTS * (3 + SALT_LENGTH + WRAPPED_LENGTH + MAX_EXTERNAL_DATA) + MAC_LENGTH;

/**
 * Decodes the slot section starting at `bytes[0]`. `available` tells whether more bytes could
 * follow (`bytes` may extend into the payload). Returns the section and its length.
 */
export function decodeSlotSection(bytes: Uint8Array): SlotSection {
  if (bytes.length < 1) throw malformed('slot section is truncated', 'slots');
  const count = bytes[0]!;
  if (count < 1 || count > MAX_SLOTS) throw outOfRange('slot_count');
  let o = 1;
  const slots: SlotBody[] = [];
  let passwordSlots = 0;
  for (let i = 0; i < count; i++) {
    if (o + 3 > bytes.length) throw malformed('slot section is truncated', 'slots');
    const type = bytes[o]!;
    const len = (bytes[o + 1]! << 8) | bytes[o + 2]!;
    if (o + 3 + len > bytes.length) throw malformed('slot section is truncated', 'slots');
    const slot = decodeSlot(type, copyBytes(bytes, o + 3, o + 3 + len));
    if (slot.type === 'password' && ++passwordSlots > 1)
      throw malformed('more than one password slot', 'slot');
    slots.push(slot);
    o += 3 + len;
  }
  if (o + MAC_LENGTH > bytes.length) throw malformed('slot section is truncated', 'slots');
  return {
    slots,
    macInput: copyBytes(bytes, 0, o),
    mac: copyBytes(bytes, o, o + MAC_LENGTH),
    bytes: copyBytes(bytes, 0, o + MAC_LENGTH),
  };
}

/**
 * Length of the slot section at the start of `bytes` (`done: true`), or how many bytes must be
 * available to learn more (`done: false`).
 */
export function slotSectionLength(bytes: Uint8Array): { done: boolean; length: number } {
  if (bytes.length < 1) return { done: false, length: 1 };
  const count = bytes[0]!;
  if (count < 1 || count > MAX_SLOTS) throw outOfRange('slot_count');
  let o = 1;
  for (let i = 0; i < count; i++) {
    if (o + 3 > bytes.length) return { done: false, length: o + 3 };
    o += 3 + ((bytes[o + 1]! << 8) | bytes[o + 2]!);
  }
  return { done: true, length: o + MAC_LENGTH };
}

/** Payload chunk nonce: 88-bit big-endian counter ‖ 0x01 for the final chunk, else 0x00. */
export function chunkNonce(index: number, final: boolean): Uint8Array {
  const n = new Uint8Array(12);
  let v = index;
  for (let i = 10; i >= 4 && v > 0; i--) {
    n[i] = v % 256;
    v = Math.floor(v / 256);
  }
  n[11] = final ? 1 : 0;
  return n;
}
