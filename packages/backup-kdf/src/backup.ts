/**
 * Key hierarchy (spec §8.2) and the operations: create, open, change password, add/remove a
 * recovery key, external slots, metadata.
 *
 *   DEK (32 random bytes per backup set, never stored in clear)
 *   ├─ payload key per file = HKDF(DEK, salt = file_nonce, "backup-kdf/v1/payload")
 *   ├─ header-MAC key       = HKDF(DEK, —, "backup-kdf/v1/header-mac")
 *   ├─ slots-MAC key        = HKDF(DEK, —, "backup-kdf/v1/slots-mac")
 *   └─ wrapped once per slot: AES-256-GCM(KEK, nonce = 0¹², AAD = "backup-kdf/v1/wrap" ‖ descriptor)
 *        password: KEK = HKDF(Argon2id(NFKC(password), salt, m, t, p), salt, "backup-kdf/v1/kek/password")
 *        recovery: KEK = HKDF(key material, salt, "backup-kdf/v1/kek/recovery")
 *        external: KEK = HKDF(integrator secret, salt, "backup-kdf/v1/kek/external")
 *
 * The wrap depends only on the slot (never on header fields), so a modified header is reported as
 * such after a correct password instead of looking like a wrong password.
 */
import {
  type CryptoProvider,
  concatBytes,
  constantTimeEqual,
  copyBytes,
  type E2eeError,
  KeyedMutex,
  LockedOutError,
  redact,
  resolveProvider,
  toHex,
  utf8,
  VerificationError,
  wipe,
} from '@e2ee-kit/core';
import {
  ARGON2_FORMAT_LIMITS,
  type Argon2Params,
  type Argon2Provider,
  checkCreationParams,
  DEFAULT_ARGON2_PARAMS,
  defaultArgon2Provider,
} from './argon2.js';
import {
  type AttemptPolicy,
  type AttemptReservation,
  type AttemptState,
  defaultAttemptPolicy,
} from './attempts.js';
import {
  BackupErrorCode,
  BackupFormatError,
  BackupPayloadError,
  BackupTamperedError,
  IncorrectSecretError,
  NoMatchingSlotError,
} from './errors.js';
import {
  BACKUP_ID_LENGTH,
  chunkNonce,
  DEFAULT_CHUNK_LOG2,
  decodeHeader,
  decodeSlotSection,
  encodeHeaderPrefix,
  encodeSlots,
  FILE_NONCE_LENGTH,
  type FileHeader,
  FORMAT_VERSION,
  HEADER_LENGTH,
  HEADER_SIGNED_LENGTH,
  MAGIC,
  MAX_CHUNK_LOG2,
  MAX_EXTERNAL_DATA,
  MAX_SLOT_SECTION_LENGTH,
  MAX_SLOTS,
  MIN_CHUNK_LOG2,
  SALT_LENGTH,
  type SlotBody,
  type SlotSection,
  SUITES,
  type Suite,
  slotDescriptor,
  slotSectionLength,
  WRAPPED_LENGTH,
} from './format.js';
import {
  ABSOLUTE_MIN_PASSWORD_LENGTH,
  DEFAULT_MIN_PASSWORD_LENGTH,
  normalizePassword,
  passwordBytes,
} from './password.js';
import { parseRecoveryKey, RecoveryKey, recoveryKeySecret } from './recovery-key.js';
import { ByteReader, type ByteSource, ByteStream } from './stream.js';

const L = {
  payload: utf8('backup-kdf/v1/payload'),
  headerMac: utf8('backup-kdf/v1/header-mac'),
  slotsMac: utf8('backup-kdf/v1/slots-mac'),
  wrap: utf8('backup-kdf/v1/wrap'),
  kekPassword: utf8('backup-kdf/v1/kek/password'),
  kekRecovery: utf8('backup-kdf/v1/kek/recovery'),
  kekExternal: utf8('backup-kdf/v1/kek/external'),
};
const ZERO_NONCE = new Uint8Array(12);
/** Chunks in flight at once while encrypting or decrypting (keeps a thread-pooled AEAD busy). */
const PIPELINE_DEPTH = 4;
/** How far (in chunk positions) a failing chunk is searched for, to report reordering precisely. */
const REORDER_SEARCH_WINDOW = 256;
/**
 * Bytes of AEAD work one diagnosis may spend (each search below is also capped by it), so that
 * damage to a file with large chunks cannot make the error path run for minutes.
 */
const DIAGNOSIS_BUDGET_BYTES = 64 * 1024 * 1024;
/**
 * Extra bytes after a short final chunk merge into the last read; up to this many are told apart
 * from a damaged chunk (after a full-size final chunk, any amount is).
 */
const TRAILING_SEARCH_BYTES = 1024;

/** An external slot at creation: `secret` comes from your server/HSM/enclave/OS keystore (≥ 16 bytes). */
export interface ExternalSlotInit {
  /** Slot type byte, 0x80…0xFF (yours to assign). */
  readonly type: number;
  /** Opaque data stored in clear in the slot (e.g. a server record id), ≤ 1024 bytes. */
  readonly data?: Uint8Array;
  readonly secret: Uint8Array;
}

/** Returns the secret for an external slot, or `undefined` to skip it. */
export type ExternalResolver = (slot: {
  readonly type: number;
  readonly data: Uint8Array;
}) => Promise<Uint8Array | undefined>;

/** How to unlock: a password, a recovery key (parsed or as typed), or an external secret resolver. */
export type UnlockWith =
  | { readonly password: string }
  | { readonly recoveryKey: RecoveryKey | string }
  | { readonly external: ExternalResolver };

export type SlotInfo =
  | { readonly type: 'password'; readonly argon2: Argon2Params }
  | { readonly type: 'recovery'; readonly format: 'digits64' | 'hex64' }
  | { readonly type: 'external'; readonly typeByte: number; readonly data: Uint8Array };

/** What a backup's header deliberately shows without any key. */
export interface BackupMetadata {
  readonly formatVersion: number;
  readonly suite: Suite;
  readonly chunkSize: number;
  /** Random id shared by the files of one backup set (it links them; nothing else). */
  readonly backupId: Uint8Array;
  readonly slots: readonly SlotInfo[];
}

export interface CryptoOptions {
  provider?: CryptoProvider;
  argon2Provider?: Argon2Provider;
}

export interface KeyringOptions extends CryptoOptions {
  /** Minimum password length in code points after NFKC (default 8, never below 6). */
  minPasswordLength?: number;
  /** Argon2id parameters for password slots (default m = 64 MiB, t = 3, p = 4; floor m = 19 MiB, t = 2, p = 1). */
  argon2?: Argon2Params;
}

export interface CreateKeyringOptions extends KeyringOptions {
  password?: string;
  /** `true` generates a 64-digit key (returned once: show it to the user); or pass one. */
  recoveryKey?: boolean | RecoveryKey;
  external?: readonly ExternalSlotInit[];
}

export interface EncryptOptions {
  /** Payload AEAD (default AES-256-GCM; ChaCha20-Poly1305 is faster in pure JavaScript, e.g. React Native). */
  suite?: Suite;
  /** Chunk size in bytes, a power of two from 4 KiB to 4 MiB (default 64 KiB). */
  chunkSize?: number;
}

export interface OpenOptions extends CryptoOptions {
  /** Attempt limiting (default: 5 strikes with escalating waits, in memory). */
  attempts?: AttemptPolicy;
  /**
   * Refuse password slots asking for more Argon2 memory than this, before any KDF runs (default
   * 256 MiB, `DEFAULT_MAX_ARGON2_MEMORY_KIB`: what the phone guidance allows). Files made with more
   * need this raised explicitly, up to the format's 1 GiB.
   */
  maxArgon2MemoryKiB?: number;
}

/**
 * The reader's default Argon2 memory cap: 256 MiB, the most the phone guidance ever allows, so a
 * few hundred hostile bytes cannot make a phone allocate 1 GiB. Opt in to more per call.
 */
export const DEFAULT_MAX_ARGON2_MEMORY_KIB = 256 * 1024;

const unlockMutex = new KeyedMutex();
const SLOT_ID_LABEL = utf8('backup-kdf/attempt-slot-id');

/**
 * Names a slot for the attempt policy: SHA-256 over the slot's exact encoding (type, length and
 * body: salt, parameters and wrapped key). The unwrap depends on all of these bytes and on no
 * others, so an edit that changes the id also makes the slot unopenable by any secret, and no
 * other slot with this id opens with a different secret.
 */
async function slotId(p: CryptoProvider, slot: SlotBody): Promise<string> {
  return toHex((await p.sha256(concatBytes(SLOT_ID_LABEL, encodeSlots([slot])))).subarray(0, 16));
}

function argon2MemoryCap(option: number | undefined): number {
  if (option === undefined) return DEFAULT_MAX_ARGON2_MEMORY_KIB;
  if (!Number.isInteger(option) || option < 0 || option > ARGON2_FORMAT_LIMITS.maxMemoryKiB) {
    throw new RangeError(
      `maxArgon2MemoryKiB must be an integer from 0 to ${ARGON2_FORMAT_LIMITS.maxMemoryKiB} (the format's cap)`,
    );
  }
  return option;
}

async function subkey(p: CryptoProvider, dek: Uint8Array, salt: Uint8Array | undefined, info: Uint8Array) {
  return p.hkdfSha256(dek, salt, info, 32);
}

/** The payload AEAD of a suite, in one direction (every provider appends a 16-byte tag). */
function chunkAead(p: CryptoProvider, suite: Suite, direction: 'seal' | 'open') {
  if (suite === 'aes-256-gcm') return direction === 'seal' ? p.aes256GcmEncrypt : p.aes256GcmDecrypt;
  return direction === 'seal' ? p.chacha20Poly1305Encrypt : p.chacha20Poly1305Decrypt;
}

function slotInfo(s: SlotBody): SlotInfo {
  switch (s.type) {
    case 'password':
      return { type: 'password', argon2: { ...s.params } };
    case 'recovery':
      return { type: 'recovery', format: s.format };
    case 'external':
      return { type: 'external', typeByte: s.typeByte, data: s.data.slice() };
  }
}

function chunkLog2Of(chunkSize: number | undefined): number {
  if (chunkSize === undefined) return DEFAULT_CHUNK_LOG2;
  const log2 = Math.log2(chunkSize);
  if (!Number.isInteger(log2) || log2 < MIN_CHUNK_LOG2 || log2 > MAX_CHUNK_LOG2) {
    throw new RangeError('chunkSize must be a power of two from 4096 to 4194304');
  }
  return log2;
}

/**
 * Runs up to `PIPELINE_DEPTH` chunk jobs at once and yields their results in order. A failed job
 * is surfaced when its turn comes, so a later chunk never overtakes an earlier failure.
 */
async function* inOrder(
  next: (index: number) => Promise<{ job: Promise<Uint8Array>; last: boolean }>,
): AsyncGenerator<Uint8Array> {
  const inflight: Promise<Uint8Array>[] = [];
  for (let index = 0; ; index++) {
    const { job, last } = await next(index);
    job.catch(() => {}); // handled when awaited below
    inflight.push(job);
    if (last) break;
    if (inflight.length >= PIPELINE_DEPTH) yield await inflight.shift()!;
  }
  while (inflight.length > 0) yield await inflight.shift()!;
}

/**
 * Chunk-sized input buffers, reused once the AEAD call that read one has finished (allocating a
 * fresh 64 KiB array per chunk costs more than the copy into it). A buffer whose bytes come back
 * as part of the result (a provider working in place) is never reused.
 */
class BufferPool {
  readonly #free: Uint8Array[] = [];
  readonly #all: Uint8Array[] = [];
  readonly #size: number;
  constructor(size: number) {
    this.#size = size;
  }
  take(): Uint8Array {
    const b = this.#free.pop();
    if (b) return b;
    const fresh = new Uint8Array(this.#size);
    this.#all.push(fresh);
    return fresh;
  }
  recycleAfter(buf: Uint8Array, job: Promise<Uint8Array>): void {
    job.then(
      (out) => {
        if (out.buffer !== buf.buffer) this.#free.push(buf);
      },
      () => {},
    );
  }
  /** Zeroes every buffer this pool handed out (they held plaintext). */
  wipe(): void {
    for (const b of this.#all) b.fill(0);
  }
}

/** A one-shot output stream that releases `reader`'s source however the consumer stops. */
function readerStream(reader: ByteReader, body: () => AsyncGenerator<Uint8Array>): ByteStream {
  return new ByteStream(async function* () {
    try {
      yield* body();
    } finally {
      await reader.close();
    }
  });
}

/** Reads header and slot section off a stream; leaves the reader at the first payload byte. */
async function readPreamble(reader: ByteReader): Promise<{ header: FileHeader; section: SlotSection }> {
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

function metadataOf(header: FileHeader, section: SlotSection): BackupMetadata {
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

async function wrapDek(
  p: CryptoProvider,
  kek: Uint8Array,
  dek: Uint8Array,
  slot: SlotBody,
): Promise<Uint8Array> {
  return p.aes256GcmEncrypt(kek, ZERO_NONCE, dek, concatBytes(L.wrap, slotDescriptor(slot)));
}

async function unwrapDek(
  p: CryptoProvider,
  kek: Uint8Array,
  slot: SlotBody,
): Promise<Uint8Array | undefined> {
  try {
    const dek = await p.aes256GcmDecrypt(
      kek,
      ZERO_NONCE,
      slot.wrapped,
      concatBytes(L.wrap, slotDescriptor(slot)),
    );
    return dek.length === 32 ? dek : undefined;
  } catch (err) {
    if (err instanceof VerificationError) return undefined;
    throw err;
  }
}

/**
 * The unlocked key of one backup set. Encrypts and decrypts its files and rewrites its slots.
 * Holds the data key in a private field; `destroy()` wipes it.
 */
export class BackupKeyring {
  readonly backupId: Uint8Array;
  #dek: Uint8Array | undefined;
  #slots: SlotBody[];
  readonly #p: CryptoProvider;
  readonly #argon2: Argon2Provider;

  private constructor(
    backupId: Uint8Array,
    dek: Uint8Array,
    slots: SlotBody[],
    p: CryptoProvider,
    argon2: Argon2Provider,
  ) {
    this.backupId = backupId;
    this.#dek = dek;
    this.#slots = slots;
    this.#p = p;
    this.#argon2 = argon2;
  }

  /** A new backup set with a fresh data key and one slot per unlock method given. */
  static async create(
    options: CreateKeyringOptions,
  ): Promise<{ keyring: BackupKeyring; recoveryKey: RecoveryKey | undefined }> {
    const p = resolveProvider(options.provider);
    const argon2 = options.argon2Provider ?? defaultArgon2Provider;
    const wantsKey = options.recoveryKey !== undefined && options.recoveryKey !== false;
    if (options.password === undefined && !wantsKey && !(options.external && options.external.length > 0)) {
      throw new TypeError('a backup needs at least one of password, recoveryKey, external');
    }
    // Validate everything before any KDF runs.
    const minLength = options.minPasswordLength ?? DEFAULT_MIN_PASSWORD_LENGTH;
    const pw = options.password === undefined ? undefined : normalizePassword(options.password, minLength);
    const params = checkCreationParams(options.argon2 ?? DEFAULT_ARGON2_PARAMS);
    let recoveryKey: RecoveryKey | undefined;
    if (options.recoveryKey === true) recoveryKey = RecoveryKey.generate(p.randomBytes);
    else if (RecoveryKey.isRecoveryKey(options.recoveryKey)) recoveryKey = options.recoveryKey;
    else if (options.recoveryKey !== undefined && options.recoveryKey !== false)
      throw new TypeError('recoveryKey must be a boolean or a RecoveryKey');
    for (const e of options.external ?? []) checkExternal(e);
    const keyring = new BackupKeyring(p.randomBytes(BACKUP_ID_LENGTH), p.randomBytes(32), [], p, argon2);
    if (pw) keyring.#slots.push(await keyring.#passwordSlot(pw, params));
    if (recoveryKey) keyring.#slots.push(await keyring.#recoverySlot(recoveryKey));
    for (const e of options.external ?? []) keyring.#slots.push(await keyring.#externalSlot(e));
    if (keyring.#slots.length > MAX_SLOTS) throw new RangeError(`a backup has at most ${MAX_SLOTS} slots`);
    return { keyring, recoveryKey };
  }

  #key(): Uint8Array {
    if (!this.#dek) throw new TypeError('this keyring was destroyed');
    return this.#dek;
  }

  async #passwordSlot(pw: Uint8Array, params: Argon2Params): Promise<SlotBody> {
    const salt = this.#p.randomBytes(SALT_LENGTH);
    const kek = await passwordKek(this.#p, this.#argon2, pw, salt, params);
    const draft: SlotBody = { type: 'password', params, salt, wrapped: new Uint8Array(WRAPPED_LENGTH) };
    const wrapped = await wrapDek(this.#p, kek, this.#key(), draft);
    wipe(kek, pw);
    return { ...draft, wrapped };
  }

  async #recoverySlot(key: RecoveryKey): Promise<SlotBody> {
    const salt = this.#p.randomBytes(SALT_LENGTH);
    const secret = recoveryKeySecret(key);
    const kek = await this.#p.hkdfSha256(secret, salt, L.kekRecovery, 32);
    const draft: SlotBody = {
      type: 'recovery',
      format: key.format,
      salt,
      wrapped: new Uint8Array(WRAPPED_LENGTH),
    };
    const wrapped = await wrapDek(this.#p, kek, this.#key(), draft);
    wipe(kek, secret);
    return { ...draft, wrapped };
  }

  async #externalSlot(e: ExternalSlotInit): Promise<SlotBody> {
    checkExternal(e);
    const salt = this.#p.randomBytes(SALT_LENGTH);
    const kek = await this.#p.hkdfSha256(e.secret, salt, L.kekExternal, 32);
    const draft: SlotBody = {
      type: 'external',
      typeByte: e.type,
      data: copyBytes(e.data ?? new Uint8Array(0)),
      salt,
      wrapped: new Uint8Array(WRAPPED_LENGTH),
    };
    const wrapped = await wrapDek(this.#p, kek, this.#key(), draft);
    wipe(kek);
    return { ...draft, wrapped };
  }

  /** The slots, as `readBackupMetadata` would show them. */
  get slots(): readonly SlotInfo[] {
    return this.#slots.map(slotInfo);
  }

  /** The slot section (with its MAC) as written into files. */
  async slotSection(): Promise<Uint8Array> {
    const body = encodeSlots(this.#slots);
    const macKey = await subkey(this.#p, this.#key(), undefined, L.slotsMac);
    const mac = await this.#p.hmacSha256(
      macKey,
      concatBytes(MAGIC, Uint8Array.of(FORMAT_VERSION), this.backupId, body),
    );
    wipe(macKey);
    return concatBytes(body, mac);
  }

  /** Replaces the password slot (or adds one). Runs Argon2 once. Existing files need `rewriteSlots`. */
  async changePassword(
    newPassword: string,
    options: Pick<KeyringOptions, 'minPasswordLength' | 'argon2'> = {},
  ): Promise<void> {
    const pw = normalizePassword(newPassword, options.minPasswordLength ?? DEFAULT_MIN_PASSWORD_LENGTH);
    const params = checkCreationParams(options.argon2 ?? DEFAULT_ARGON2_PARAMS);
    const slot = await this.#passwordSlot(pw, params);
    const i = this.#slots.findIndex((s) => s.type === 'password');
    if (i >= 0) this.#slots[i] = slot;
    else this.#addSlot(slot);
  }

  /** Adds a recovery-key slot; generates a 64-digit key unless one is given. Returns the key: show it once. */
  async addRecoveryKey(key?: RecoveryKey): Promise<RecoveryKey> {
    if (key !== undefined && !RecoveryKey.isRecoveryKey(key))
      throw new TypeError('key must be a RecoveryKey');
    const k = key ?? RecoveryKey.generate(this.#p.randomBytes);
    this.#addSlot(await this.#recoverySlot(k));
    return k;
  }

  /** Removes every recovery-key slot. Refused if no slot would remain. Returns how many were removed. */
  removeRecoveryKey(): number {
    return this.#remove((s) => s.type === 'recovery');
  }

  async addExternalSlot(init: ExternalSlotInit): Promise<void> {
    this.#addSlot(await this.#externalSlot(init));
  }

  /** Removes the external slots of one type byte. */
  removeExternalSlot(type: number): number {
    return this.#remove((s) => s.type === 'external' && s.typeByte === type);
  }

  #addSlot(slot: SlotBody): void {
    if (this.#slots.length >= MAX_SLOTS) throw new RangeError(`a backup has at most ${MAX_SLOTS} slots`);
    this.#slots.push(slot);
  }

  #remove(match: (s: SlotBody) => boolean): number {
    const kept = this.#slots.filter((s) => !match(s));
    if (kept.length === 0) throw new RangeError('cannot remove the last way to unlock the backup');
    const removed = this.#slots.length - kept.length;
    this.#slots = kept;
    return removed;
  }

  /** Encrypts one file of this set: header ‖ slot section ‖ chunks, streamed. */
  encrypt(source: ByteSource, options: EncryptOptions = {}): ByteStream {
    const suite = options.suite ?? 'aes-256-gcm';
    if (!(suite in SUITES)) throw new RangeError('unknown suite');
    const chunkLog2 = chunkLog2Of(options.chunkSize);
    const reader = new ByteReader(source);
    const self = this;
    return readerStream(reader, async function* () {
      const p = self.#p;
      const dek = self.#key();
      const fileNonce = p.randomBytes(FILE_NONCE_LENGTH);
      const prefix = encodeHeaderPrefix({ suite, chunkLog2, backupId: self.backupId, fileNonce });
      const hk = await subkey(p, dek, undefined, L.headerMac);
      const header = concatBytes(prefix, await p.hmacSha256(hk, prefix));
      wipe(hk);
      yield header;
      yield await self.slotSection();
      const key = await subkey(p, dek, fileNonce, L.payload);
      const aad = await p.sha256(header);
      const size = 2 ** chunkLog2;
      const seal = chunkAead(p, suite, 'seal');
      const pool = new BufferPool(size);
      yield* inOrder(async (index) => {
        const buf = pool.take();
        const { length, more } = await reader.readIntoWithLookahead(buf);
        const job = seal.call(p, key, chunkNonce(index, !more), buf.subarray(0, length), aad);
        pool.recycleAfter(buf, job);
        return { job, last: !more };
      });
      pool.wipe();
      wipe(key);
    });
  }

  /**
   * Decrypts one file of this set (e.g. a media file after the database was opened). Verifies the
   * header belongs to this key before releasing anything.
   */
  decrypt(source: ByteSource): ByteStream {
    const reader = new ByteReader(source);
    const self = this;
    return readerStream(reader, async function* () {
      const { header, section } = await readPreamble(reader);
      await self.#verify(header, section);
      yield* self.#payload(reader, header);
    });
  }

  /**
   * The same file with this keyring's current slot section: header and payload bytes are copied
   * unchanged (a password change never re-encrypts). The file must belong to this set.
   */
  rewriteSlots(source: ByteSource): ByteStream {
    const reader = new ByteReader(source);
    const self = this;
    return readerStream(reader, async function* () {
      const { header } = await readPreamble(reader);
      await self.#verifyHeader(header);
      yield* self.#copyWithSlots(reader, header);
    });
  }

  async #verifyHeader(header: FileHeader): Promise<void> {
    const hk = await subkey(this.#p, this.#key(), undefined, L.headerMac);
    const tag = await this.#p.hmacSha256(hk, header.bytes.subarray(0, HEADER_SIGNED_LENGTH));
    wipe(hk);
    if (!constantTimeEqual(tag, header.headerTag)) {
      throw new BackupTamperedError(
        BackupErrorCode.HeaderTampered,
        'backup header was modified or belongs to another backup',
      );
    }
  }

  async #verify(header: FileHeader, section: SlotSection): Promise<void> {
    const macKey = await subkey(this.#p, this.#key(), undefined, L.slotsMac);
    const mac = await this.#p.hmacSha256(
      macKey,
      concatBytes(MAGIC, Uint8Array.of(FORMAT_VERSION), header.backupId, section.macInput),
    );
    wipe(macKey);
    if (!constantTimeEqual(mac, section.mac)) {
      throw new BackupTamperedError(
        BackupErrorCode.SlotsTampered,
        'backup slots were modified or belong to another backup',
      );
    }
    await this.#verifyHeader(header);
  }

  async *#payload(reader: ByteReader, header: FileHeader): AsyncGenerator<Uint8Array> {
    const p = this.#p;
    const { suite } = header;
    const key = await subkey(p, this.#key(), header.fileNonce, L.payload);
    const aad = await p.sha256(header.bytes);
    const full = 2 ** header.chunkLog2 + 16;
    const openChunk = chunkAead(p, suite, 'open');
    const tryOpen = async (data: Uint8Array, index: number, final: boolean): Promise<boolean> => {
      try {
        wipe(await openChunk.call(p, key, chunkNonce(index, final), data, aad));
        return true;
      } catch (err) {
        if (err instanceof VerificationError) return false;
        throw err;
      }
    };
    const diagnose = async (data: Uint8Array, index: number, atEnd: boolean): Promise<E2eeError> => {
      if (data.length === 0) {
        return new BackupPayloadError(BackupErrorCode.Truncated, 'backup payload is missing', index);
      }
      if (await tryOpen(data, index, !atEnd)) {
        return atEnd
          ? new BackupPayloadError(BackupErrorCode.Truncated, 'backup ends before its final chunk', index + 1)
          : new BackupPayloadError(BackupErrorCode.TrailingData, 'bytes follow the final chunk', index + 1);
      }
      if (atEnd) {
        // A short final chunk followed by a few extra bytes: find where the final chunk ends.
        const tries = Math.min(TRAILING_SEARCH_BYTES, Math.floor(DIAGNOSIS_BUDGET_BYTES / data.length));
        for (let len = data.length - 1; len >= Math.max(16, data.length - tries); len--) {
          if (await tryOpen(data.subarray(0, len), index, true)) {
            return new BackupPayloadError(
              BackupErrorCode.TrailingData,
              'bytes follow the final chunk',
              index + 1,
            );
          }
        }
      }
      if (data.length >= 16) {
        // 4 decryptions per distance (two positions, two flags)
        const window = Math.min(
          REORDER_SEARCH_WINDOW,
          Math.floor(DIAGNOSIS_BUDGET_BYTES / (4 * data.length)),
        );
        for (let d = 1; d <= window; d++) {
          for (const j of [index + d, index - d]) {
            if (j < 0) continue;
            if ((await tryOpen(data, j, false)) || (await tryOpen(data, j, true))) {
              return new BackupPayloadError(
                BackupErrorCode.ChunkReordered,
                'backup chunks are out of order (moved, duplicated or dropped)',
                index,
                j,
              );
            }
          }
        }
      }
      return new BackupPayloadError(
        BackupErrorCode.ChunkInvalid,
        'backup chunk does not authenticate (modified, cut short, or from another file)',
        index,
      );
    };
    const open = async (data: Uint8Array, index: number, atEnd: boolean): Promise<Uint8Array> => {
      let plain: Uint8Array;
      try {
        plain = await openChunk.call(p, key, chunkNonce(index, atEnd), data, aad);
      } catch (err) {
        if (!(err instanceof VerificationError)) throw err;
        throw await diagnose(data, index, atEnd);
      }
      if (atEnd && index > 0 && plain.length === 0) {
        throw new BackupFormatError(
          BackupErrorCode.Malformed,
          'empty final chunk after other chunks',
          'chunk',
        );
      }
      return plain;
    };
    const pool = new BufferPool(full);
    yield* inOrder(async (index) => {
      const buf = pool.take();
      const { length, more } = await reader.readIntoWithLookahead(buf);
      const job = open(buf.subarray(0, length), index, !more);
      pool.recycleAfter(buf, job);
      return { job, last: !more };
    });
    wipe(key);
  }

  /** See `openBackup`. */
  static async open(
    source: ByteSource,
    how: UnlockWith,
    options: OpenOptions = {},
  ): Promise<{ keyring: BackupKeyring; metadata: BackupMetadata; plaintext: ByteStream }> {
    const reader = new ByteReader(source);
    let keyring: BackupKeyring;
    let header: FileHeader;
    let section: SlotSection;
    try {
      ({ header, section } = await readPreamble(reader));
      keyring = await BackupKeyring.#unlock(header, section, how, options);
    } catch (err) {
      await reader.close();
      throw err;
    }
    const plaintext = readerStream(reader, () => keyring.#payload(reader, header));
    return { keyring, metadata: metadataOf(header, section), plaintext };
  }

  /** See `unlockBackup`. */
  static async unlockFile(
    source: ByteSource,
    how: UnlockWith,
    options: OpenOptions = {},
  ): Promise<BackupKeyring> {
    const reader = new ByteReader(source);
    try {
      const { header, section } = await readPreamble(reader);
      return await BackupKeyring.#unlock(header, section, how, options);
    } finally {
      await reader.close();
    }
  }

  /** See `changeBackupPassword`. */
  static async changePasswordOf(
    source: ByteSource,
    current: UnlockWith,
    newPassword: string,
    options: OpenOptions & Pick<KeyringOptions, 'minPasswordLength' | 'argon2'> = {},
  ): Promise<{ keyring: BackupKeyring; output: ByteStream }> {
    // Check the new password before spending a KDF run (or an attempt) on the current one.
    normalizePassword(newPassword, options.minPasswordLength ?? DEFAULT_MIN_PASSWORD_LENGTH);
    checkCreationParams(options.argon2 ?? DEFAULT_ARGON2_PARAMS);
    const reader = new ByteReader(source);
    let keyring: BackupKeyring;
    let header: FileHeader;
    try {
      let section: SlotSection;
      ({ header, section } = await readPreamble(reader));
      keyring = await BackupKeyring.#unlock(header, section, current, options);
      const change: Pick<KeyringOptions, 'minPasswordLength' | 'argon2'> = {};
      if (options.minPasswordLength !== undefined) change.minPasswordLength = options.minPasswordLength;
      if (options.argon2 !== undefined) change.argon2 = options.argon2;
      await keyring.changePassword(newPassword, change);
    } catch (err) {
      await reader.close();
      throw err;
    }
    const output = readerStream(reader, () => keyring.#copyWithSlots(reader, header));
    return { keyring, output };
  }

  async *#copyWithSlots(reader: ByteReader, header: FileHeader): AsyncGenerator<Uint8Array> {
    yield header.bytes.slice();
    yield await this.slotSection();
    for (;;) {
      const piece = await reader.read(1 << 16);
      if (piece.length === 0) break;
      yield piece;
    }
  }

  /** Wipes the data key; the keyring is unusable afterwards. */
  destroy(): void {
    if (this.#dek) wipe(this.#dek);
    this.#dek = undefined;
  }

  toString(): string {
    return '[BackupKeyring]';
  }

  /** Unlocks from a decoded header and slot section. */
  static async #unlock(
    header: FileHeader,
    section: SlotSection,
    how: UnlockWith,
    options: OpenOptions,
  ): Promise<BackupKeyring> {
    const p = resolveProvider(options.provider);
    const argon2 = options.argon2Provider ?? defaultArgon2Provider;
    const policy = options.attempts ?? defaultAttemptPolicy;
    if (how === null || typeof how !== 'object') throw new TypeError('unlock must be an object');

    let candidates: SlotBody[];
    let scope: string | undefined;
    let derive: (slot: SlotBody) => Promise<Uint8Array>;
    if ('password' in how) {
      // Refused before any KDF, and not counted: no backup has a shorter password. An unpaired
      // surrogate is let through (as U+FFFD): releases before its refusal made backups with one.
      const pw = passwordBytes(how.password, ABSOLUTE_MIN_PASSWORD_LENGTH, true);
      candidates = section.slots.filter((s) => s.type === 'password');
      const max = argon2MemoryCap(options.maxArgon2MemoryKiB);
      for (const s of candidates) {
        if (s.type === 'password' && s.params.memoryKiB > max) {
          throw new BackupFormatError(
            BackupErrorCode.ParameterOutOfRange,
            'backup asks for more Argon2 memory than allowed here (maxArgon2MemoryKiB)',
            'm_kib',
          );
        }
      }
      scope = 'password';
      derive = async (slot) => {
        if (slot.type !== 'password') throw new TypeError('unreachable');
        return passwordKek(p, argon2, copyBytes(pw), slot.salt, slot.params);
      };
    } else if ('recoveryKey' in how) {
      const key = typeof how.recoveryKey === 'string' ? parseRecoveryKey(how.recoveryKey) : how.recoveryKey;
      if (!RecoveryKey.isRecoveryKey(key))
        throw new TypeError('recoveryKey must be a RecoveryKey or a string');
      candidates = section.slots.filter((s) => s.type === 'recovery' && s.format === key.format);
      scope = key.format === 'hex64' ? 'hex' : 'recovery';
      derive = async (slot) => {
        const secret = recoveryKeySecret(key);
        const kek = await p.hkdfSha256(secret, slot.salt, L.kekRecovery, 32);
        wipe(secret);
        return kek;
      };
    } else if ('external' in how && typeof how.external === 'function') {
      candidates = section.slots.filter((s) => s.type === 'external');
      scope = undefined; // gated by whoever releases the secret
      derive = async (slot) => {
        if (slot.type !== 'external') throw new TypeError('unreachable');
        const secret = await how.external({ type: slot.typeByte, data: slot.data.slice() });
        if (secret === undefined) return new Uint8Array(0);
        if (!(secret instanceof Uint8Array))
          throw new TypeError('external resolver must return a Uint8Array');
        return p.hkdfSha256(secret, slot.salt, L.kekExternal, 32);
      };
    } else {
      throw new TypeError('unlock needs password, recoveryKey or external');
    }
    if (candidates.length === 0)
      throw new NoMatchingSlotError('this backup has no slot for that kind of secret');

    const ids = scope === undefined ? [] : await Promise.all(candidates.map((s) => slotId(p, s)));
    const attempt = async (): Promise<BackupKeyring> => {
      // A policy that reserves charges this guess before the KDF (see AttemptPolicy.reserve).
      let reservation: AttemptReservation | undefined;
      if (scope !== undefined && policy.reserve && policy.settle) {
        reservation = await policy.reserve(scope, ids);
        if (!reservation.allowed) throw new LockedOutError(lockedUntilOf(reservation.state));
      } else if (scope !== undefined) {
        const state = await policy.check(scope);
        if (state.lockedUntil !== undefined) throw new LockedOutError(state.lockedUntil);
      }
      let dek: Uint8Array | undefined;
      let opened = -1;
      let answered = false;
      try {
        for (let i = 0; i < candidates.length && !dek; i++) {
          const slot = candidates[i] as SlotBody;
          const kek = await derive(slot);
          answered = true;
          if (kek.length === 32) dek = await unwrapDek(p, kek, slot);
          wipe(kek);
          if (dek) opened = i;
        }
      } catch (err) {
        // The KDF failed before any slot was tried (no WebAssembly, a provider error): nothing was
        // learnt, so the reservation is given back. Once one slot was tried it stands, and a guess
        // cut short by the app being killed stays counted too.
        if (reservation && !answered) await policy.settle?.(scope as string, reservation, undefined);
        throw err;
      }
      if (!dek) {
        if (scope === undefined) throw new IncorrectSecretError();
        // Every slot tried is charged: a copy of someone's slot beside one of yours still counts.
        const state = reservation ? reservation.state : await policy.recordFailure(scope, ids);
        throw new IncorrectSecretError({
          remainingAttempts: state.remainingAttempts,
          lockedUntil: state.lockedUntil,
        });
      }
      const keyring = new BackupKeyring(header.backupId.slice(), dek, [...section.slots], p, argon2);
      try {
        await keyring.#verify(header, section);
      } catch (err) {
        keyring.destroy();
        // Tampering found after a correct secret is not an attempt: the reservation is given back
        // (if that write fails, the guess stays counted: the safe side; the tampering is the error).
        if (reservation) await policy.settle?.(scope as string, reservation, undefined).catch(() => {});
        throw err;
      }
      // Only now, with slots and header authenticated under the unwrapped key, is it a success —
      // and it clears only the failures charged to the slot that opened.
      if (scope !== undefined) {
        try {
          const slot = ids[opened] as string;
          if (reservation) await policy.settle?.(scope, reservation, slot);
          else await policy.recordSuccess(scope, slot);
        } catch (err) {
          keyring.destroy();
          throw err;
        }
      }
      return keyring;
    };
    return scope === undefined ? attempt() : unlockMutex.run(scope, attempt);
  }
}
// Holds the backup data key: never printed.
redact(BackupKeyring, '[BackupKeyring]');

/** A refused reservation's lockout end (a custom policy that refuses without one: locked now). */
function lockedUntilOf(state: AttemptState): Date {
  return state.lockedUntil instanceof Date ? state.lockedUntil : new Date();
}

async function passwordKek(
  p: CryptoProvider,
  argon2: Argon2Provider,
  pw: Uint8Array,
  salt: Uint8Array,
  params: Argon2Params,
): Promise<Uint8Array> {
  const a = await argon2.argon2id({ ...params, password: pw, salt, hashLength: 32 });
  const kek = await p.hkdfSha256(a, salt, L.kekPassword, 32);
  wipe(a);
  return kek;
}

function checkExternal(e: ExternalSlotInit): void {
  if (e === null || typeof e !== 'object') throw new TypeError('external slot must be an object');
  if (!Number.isInteger(e.type) || e.type < 0x80 || e.type > 0xff)
    throw new RangeError('external slot type must be 0x80…0xFF');
  if (!(e.secret instanceof Uint8Array) || e.secret.length < 16)
    throw new RangeError('external secret must be ≥ 16 bytes');
  if (e.data !== undefined && (!(e.data instanceof Uint8Array) || e.data.length > MAX_EXTERNAL_DATA)) {
    throw new RangeError(`external slot data must be a Uint8Array of at most ${MAX_EXTERNAL_DATA} bytes`);
  }
}

export interface CreateBackupOptions extends CreateKeyringOptions, EncryptOptions {}

/**
 * Creates a backup set and encrypts its first file from `source`, streaming. Returns the keyring
 * (for more files of the set), the generated recovery key if asked for (show it once), and the output.
 */
export async function createBackup(
  source: ByteSource,
  options: CreateBackupOptions,
): Promise<{ keyring: BackupKeyring; recoveryKey: RecoveryKey | undefined; output: ByteStream }> {
  const { keyring, recoveryKey } = await BackupKeyring.create(options);
  const enc: EncryptOptions = {};
  if (options.suite !== undefined) enc.suite = options.suite;
  if (options.chunkSize !== undefined) enc.chunkSize = options.chunkSize;
  return { keyring, recoveryKey, output: keyring.encrypt(source, enc) };
}

/**
 * Opens a backup file: reads header and slots, unlocks (with attempt limiting), verifies header
 * and slots, and returns the plaintext as a stream. A chunk is released only after it
 * authenticated; an error ends the stream (truncation and trailing data are reported at the end,
 * so treat the output as valid only once the stream completed).
 */
export function openBackup(
  source: ByteSource,
  how: UnlockWith,
  options: OpenOptions = {},
): Promise<{ keyring: BackupKeyring; metadata: BackupMetadata; plaintext: ByteStream }> {
  return BackupKeyring.open(source, how, options);
}

/** Unlocks a backup file without decrypting its payload (reads only header and slots). */
export async function unlockBackup(
  source: ByteSource,
  how: UnlockWith,
  options: OpenOptions = {},
): Promise<BackupKeyring> {
  return BackupKeyring.unlockFile(source, how, options);
}

/**
 * Changes the password of a backup file in one streaming pass: unlock with the current password
 * or recovery key, re-wrap the data key under the new password, and write the same header, the new
 * slot section and the payload bytes unchanged. (An old copy of the file still opens with the old
 * password: after a suspected leak, create a new backup instead.)
 */
export async function changeBackupPassword(
  source: ByteSource,
  current: UnlockWith,
  newPassword: string,
  options: OpenOptions & Pick<KeyringOptions, 'minPasswordLength' | 'argon2'> = {},
): Promise<{ keyring: BackupKeyring; output: ByteStream }> {
  return BackupKeyring.changePasswordOf(source, current, newPassword, options);
}
