/**
 * A backup set's keyring and the operations on files: create, open, unlock, change password,
 * add/remove a recovery key or external slots, rewrite slots. The keys are in key-hierarchy.ts, the
 * chunked payload in payload.ts, unlocking and attempt limiting in unlock.ts.
 */
import { type CryptoProvider, concatBytes, copyBytes, redact, resolveProvider, wipe } from '@e2ee-kit/core';
import { type Argon2Params, type Argon2Provider, defaultArgon2Provider } from './argon2.js';
import { checkCreateOptions } from './create-options.js';
import {
  BACKUP_ID_LENGTH,
  checkRoomForPassword,
  encodeHeaderPrefix,
  encodeSlots,
  FILE_NONCE_LENGTH,
  type FileHeader,
  SALT_LENGTH,
  type SlotBody,
  type SlotKind,
  type SlotSection,
  SUITES,
  type Suite,
  WRAPPED_LENGTH,
} from './format.js';
import {
  externalKek,
  headerMac,
  passwordKek,
  payloadKey,
  recoveryKek,
  slotInfo,
  slotsMac,
  verifyHeader,
  verifySlotsAndHeader,
  wrapDek,
} from './key-hierarchy.js';
import {
  type BackupMetadata,
  type CreateKeyringOptions,
  copyExternal,
  type EncryptOptions,
  type ExternalSlotInit,
  type NewPasswordOptions,
  newSlotParams,
  type OpenOptions,
  type SlotInfo,
  type UnlockWith,
} from './options.js';
import { DEFAULT_MIN_PASSWORD_LENGTH, normalizePassword } from './password.js';
import { chunkLog2Of, copyPayload, openPayload, sealPayload } from './payload.js';
import { metadataOf, readerStream, readPreamble } from './preamble.js';
import { RecoveryKey } from './recovery-key.js';
import { SlotList } from './slot-list.js';
import { ByteReader, type ByteSource, type ByteStream } from './stream.js';
import { unlockDataKey } from './unlock.js';

/**
 * The unlocked key of one backup set. Encrypts and decrypts its files and rewrites its slots.
 * Holds the data key in a private field; `destroy()` wipes it.
 */
export class BackupKeyring {
  readonly #backupId: Uint8Array;
  #dek: Uint8Array | undefined;
  readonly #slots: SlotList;
  readonly #p: CryptoProvider;
  readonly #argon2: Argon2Provider;

  private constructor(
    backupId: Uint8Array,
    dek: Uint8Array,
    slots: readonly SlotBody[],
    p: CryptoProvider,
    argon2: Argon2Provider,
  ) {
    this.#backupId = backupId;
    this.#dek = dek;
    this.#slots = new SlotList(slots);
    this.#p = p;
    this.#argon2 = argon2;
  }

  /** A new backup set with a fresh data key and one slot per unlock method given. */
  static async create(
    options: CreateKeyringOptions,
  ): Promise<{ keyring: BackupKeyring; recoveryKey: RecoveryKey | undefined }> {
    const p = resolveProvider(options.provider);
    const argon2 = options.argon2Provider ?? defaultArgon2Provider;
    // Everything is checked before any KDF runs.
    const { pw, params, recoveryKey, external } = checkCreateOptions(options, p.randomBytes);
    try {
      const keyring = new BackupKeyring(p.randomBytes(BACKUP_ID_LENGTH), p.randomBytes(32), [], p, argon2);
      if (pw) keyring.#slots.add(await keyring.#passwordSlot(pw, params));
      if (recoveryKey) keyring.#slots.add(await keyring.#recoverySlot(recoveryKey));
      for (const e of external) keyring.#slots.add(await keyring.#externalSlot(e));
      return { keyring, recoveryKey };
    } finally {
      // Our copies, also those a failed earlier slot left unused.
      if (pw) wipe(pw);
      for (const e of external) wipe(e.secret);
    }
  }

  /** The id every file of this set carries (a copy: the keyring writes new files with its own). */
  get backupId(): Uint8Array {
    return this.#backupId.slice();
  }

  #key(): Uint8Array {
    if (!this.#dek) throw new TypeError('this keyring was destroyed');
    return this.#dek;
  }

  /**
   * A slot of `kind` (its fields but the salt and the wrapped key): a fresh salt, the KEK `derive`
   * makes from it, and the data key wrapped under that KEK (wiped after).
   */
  async #slot(kind: SlotKind, derive: (salt: Uint8Array) => Promise<Uint8Array>): Promise<SlotBody> {
    const salt = this.#p.randomBytes(SALT_LENGTH);
    const kek = await derive(salt);
    const draft = { ...kind, salt, wrapped: new Uint8Array(WRAPPED_LENGTH) } as SlotBody;
    const wrapped = await wrapDek(this.#p, kek, this.#key(), draft);
    wipe(kek);
    return { ...draft, wrapped };
  }

  async #passwordSlot(pw: Uint8Array, params: Argon2Params): Promise<SlotBody> {
    try {
      return await this.#slot({ type: 'password', params }, (salt) =>
        passwordKek(this.#p, this.#argon2, pw, salt, params),
      );
    } finally {
      wipe(pw);
    }
  }

  #recoverySlot(key: RecoveryKey): Promise<SlotBody> {
    return this.#slot({ type: 'recovery', format: key.format }, (salt) => recoveryKek(this.#p, key, salt));
  }

  /** An external slot from a copy made by `copyExternal` (its secret is wiped here). */
  async #externalSlot(e: Required<ExternalSlotInit>): Promise<SlotBody> {
    try {
      return await this.#slot({ type: 'external', typeByte: e.type, data: e.data }, (salt) =>
        externalKek(this.#p, e.secret, salt),
      );
    } finally {
      wipe(e.secret);
    }
  }

  /** The slots, as `readBackupMetadata` would show them. */
  get slots(): readonly SlotInfo[] {
    return this.#slots.current.map(slotInfo);
  }

  /** The slot section (with its MAC) as written into files. */
  slotSection(): Promise<Uint8Array> {
    return this.#slotSectionUnder(this.#key());
  }

  async #slotSectionUnder(dek: Uint8Array): Promise<Uint8Array> {
    const body = encodeSlots(this.#slots.current);
    return concatBytes(body, await slotsMac(this.#p, dek, this.#backupId, body));
  }

  /**
   * Replaces the password slot (or adds one). Runs Argon2 once. Existing files need `rewriteSlots`.
   * `SlotsChangedError` (nothing changed) if the slots changed while Argon2 ran.
   */
  async changePassword(newPassword: string, options: NewPasswordOptions = {}): Promise<void> {
    const pw = normalizePassword(newPassword, options.minPasswordLength ?? DEFAULT_MIN_PASSWORD_LENGTH);
    let slot: SlotBody;
    const read = this.#slots.current;
    try {
      const params = newSlotParams(options);
      checkRoomForPassword(read); // before the KDF runs
      slot = await this.#passwordSlot(pw, params);
    } finally {
      wipe(pw); // also when refused before the KDF
    }
    this.#slots.replacePassword(read, slot);
  }

  /** Adds a recovery-key slot; generates a 64-digit key unless one is given. Returns the key: show it once. */
  async addRecoveryKey(key?: RecoveryKey): Promise<RecoveryKey> {
    if (key !== undefined && !RecoveryKey.isRecoveryKey(key))
      throw new TypeError('key must be a RecoveryKey');
    const k = key ?? RecoveryKey.generate(this.#p.randomBytes);
    this.#slots.add(await this.#recoverySlot(k));
    return k;
  }

  /** Removes every recovery-key slot. Refused if no slot would remain. Returns how many were removed. */
  removeRecoveryKey(): number {
    return this.#slots.remove((s) => s.type === 'recovery');
  }

  async addExternalSlot(init: ExternalSlotInit): Promise<void> {
    this.#slots.add(await this.#externalSlot(copyExternal(init)));
  }

  /** Removes the external slots of one type byte. */
  removeExternalSlot(type: number): number {
    return this.#slots.remove((s) => s.type === 'external' && s.typeByte === type);
  }

  /** Encrypts one file of this set: header ‖ slot section ‖ chunks, streamed. */
  encrypt(source: ByteSource, options: EncryptOptions = {}): ByteStream {
    const suite = options.suite ?? 'aes-256-gcm';
    if (!(suite in SUITES)) throw new RangeError('unknown suite');
    const chunkLog2 = chunkLog2Of(options.chunkSize);
    const reader = new ByteReader(source);
    const self = this;
    return readerStream(reader, async function* () {
      const { header, slots, key } = await self.#newFile(suite, chunkLog2);
      try {
        yield header;
        yield slots;
        yield* sealPayload(self.#p, key, reader, header, suite, chunkLog2);
      } finally {
        wipe(key); // also when the consumer stops before the payload
      }
    });
  }

  /** A new file's header, slot section and payload key, from a copy of the data key before its first
   * byte goes out (an upload may have started when `destroy()` wipes the key in place). */
  async #newFile(
    suite: Suite,
    chunkLog2: number,
  ): Promise<{ header: Uint8Array; slots: Uint8Array; key: Uint8Array }> {
    const p = this.#p;
    const dek = copyBytes(this.#key());
    try {
      const fileNonce = p.randomBytes(FILE_NONCE_LENGTH);
      const prefix = encodeHeaderPrefix({ suite, chunkLog2, backupId: this.#backupId, fileNonce });
      const header = concatBytes(prefix, await headerMac(p, dek, prefix));
      const slots = await this.#slotSectionUnder(dek);
      return { header, slots, key: await payloadKey(p, dek, fileNonce) };
    } finally {
      wipe(dek);
    }
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
      yield* self.#payload(reader, header, section);
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
      yield* self.#copyWithSlots(reader, header, true);
    });
  }

  /**
   * A copy of the data key for one stream's checks and derivations: `destroy()` wipes the keyring's
   * in place, and coming between two of their awaits it made a MAC fail — a file of the set
   * reported as tampered. Once a stream has its copy it completes, as `encrypt` does.
   */
  async #withKey<T>(use: (dek: Uint8Array) => Promise<T>): Promise<T> {
    const dek = copyBytes(this.#key());
    try {
      return await use(dek);
    } finally {
      wipe(dek);
    }
  }

  /** The payload, once the slots (when given) and the header authenticate under the data key. */
  async *#payload(reader: ByteReader, header: FileHeader, section?: SlotSection): AsyncGenerator<Uint8Array> {
    const p = this.#p;
    const key = await this.#withKey(async (dek) => {
      if (section) await verifySlotsAndHeader(p, dek, header, section);
      return payloadKey(p, dek, header.fileNonce);
    });
    try {
      yield* openPayload(p, key, reader, header);
    } finally {
      wipe(key); // also if the payload fails before its own try (openPayload wipes it too)
    }
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
    options: OpenOptions & NewPasswordOptions = {},
  ): Promise<{ keyring: BackupKeyring; output: ByteStream }> {
    // Check the new password before spending a KDF run (or an attempt) on the current one.
    wipe(normalizePassword(newPassword, options.minPasswordLength ?? DEFAULT_MIN_PASSWORD_LENGTH));
    newSlotParams(options);
    const reader = new ByteReader(source);
    let keyring: BackupKeyring;
    let header: FileHeader;
    try {
      let section: SlotSection;
      ({ header, section } = await readPreamble(reader));
      checkRoomForPassword(section.slots); // before unlocking: no KDF run or attempt for a refused change
      keyring = await BackupKeyring.#unlock(header, section, current, options);
      await keyring.changePassword(newPassword, options);
    } catch (err) {
      await reader.close();
      throw err;
    }
    const output = readerStream(reader, () => keyring.#copyWithSlots(reader, header));
    return { keyring, output };
  }

  async *#copyWithSlots(reader: ByteReader, header: FileHeader, verify = false): AsyncGenerator<Uint8Array> {
    // Before the first byte out, as in `encrypt`.
    const { slots, key } = await this.#withKey(async (dek) => {
      if (verify) await verifyHeader(this.#p, dek, header);
      return {
        slots: await this.#slotSectionUnder(dek),
        key: await payloadKey(this.#p, dek, header.fileNonce),
      };
    });
    try {
      yield header.bytes.slice();
      yield slots;
      yield* copyPayload(this.#p, key, reader, header);
    } finally {
      wipe(key); // also when the consumer stops before the payload
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

  /** Unlocks from a decoded header and slot section (see unlock.ts). */
  static async #unlock(
    header: FileHeader,
    section: SlotSection,
    how: UnlockWith,
    options: OpenOptions,
  ): Promise<BackupKeyring> {
    const p = resolveProvider(options.provider);
    const argon2 = options.argon2Provider ?? defaultArgon2Provider;
    const dek = await unlockDataKey(header, section, how, options, p, argon2);
    return new BackupKeyring(header.backupId.slice(), dek, [...section.slots], p, argon2);
  }
}
// Holds the backup data key: never printed.
redact(BackupKeyring, '[BackupKeyring]');
