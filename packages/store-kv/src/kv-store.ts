/**
 * `KvStore`: every e2ee-kit store over one `KvBackend`, with transactions and optional at-rest
 * encryption. The database-specific packages (`@e2ee-kit/store-sqlite`, `@e2ee-kit/store-indexeddb`)
 * are a backend plus an `open` that calls this.
 */
import {
  type CryptoProvider,
  constantTimeEqual,
  E2eeError,
  generateRegistrationId,
  type IdentityChangeEvent,
  IdentityKeyPair,
  InProcessLockManager,
  resolveProvider,
  StoreError,
  type TrustPolicy,
  utf8,
  VerificationError,
  validateRegistrationId,
} from '@e2ee-kit/core';
import type { KvBackend } from './backend.js';
import {
  checkRatchetCodecs,
  checkSenderKeyCodecs,
  type RatchetCodecs,
  type SenderKeyCodecs,
} from './codecs.js';
import { StoreErrorCode } from './errors.js';
import { MAX_VALUE_BYTES, valueTooLong } from './limits.js';
import { type IdentityOptions, ProtocolView } from './protocol-view.js';
import { plainCodec, type RowCodec, sealingCodec } from './sealing.js';
import { CodecIo, inTransaction, type Scope, type TxBuffer } from './transaction.js';
import { AppView, AttemptView, ResendView, SenderKeyView } from './views.js';

/** Version of the stored layout (row keys, value encodings). Older versions stay readable. */
export const STORE_FORMAT_VERSION = 1;
/** The one row that is never sealed nor HMAC'ed: what a reader needs before it has a key. */
const FORMAT_ROW = 'format';
const KEY_CHECK = utf8('e2ee-kit store key check v1');

export interface KvStoreOptions {
  /** The ratchet record classes (`import * as ratchet from '@e2ee-kit/ratchet'`); needed for `protocol`. */
  readonly ratchet?: RatchetCodecs;
  /** The sender-key record classes (`import * as senderKeys from '@e2ee-kit/sender-keys'`); needed for `senderKeys`. */
  readonly senderKeys?: SenderKeyCodecs;
  /**
   * 32 bytes from the platform keystore: seal every value (AES-256-GCM) and HMAC every row key.
   * Decided when the database is created; opening it later needs the same key.
   */
  readonly encryptionKey?: Uint8Array;
  readonly provider?: CryptoProvider;
  /** Identity to store when the database is new (default: generated). Ignored for an existing one. */
  readonly identity?: { readonly identityKeyPair: IdentityKeyPair; readonly registrationId: number };
  readonly policy?: TrustPolicy;
  /**
   * Hears of every replaced identity key once, after the transaction that replaced it committed
   * (never for one rolled back). To write rows of your own with the change, in the same
   * transaction, read `tx.identityChanges` before your transaction's callback returns.
   */
  readonly onIdentityChange?: (event: IdentityChangeEvent) => void;
}

/** What a transaction's callback gets: the same views, whose writes all commit together. */
export interface KvTransaction {
  readonly protocol: ProtocolView;
  readonly senderKeys: SenderKeyView;
  readonly backupAttempts: AttemptView;
  readonly resend: ResendView;
  readonly app: AppView;
  /**
   * The identity keys replaced in this transaction so far — by `protocol.saveIdentity` or by a
   * cipher working on it — which `onIdentityChange` hears of once it commits. Read it at the end of
   * your callback to write your own rows for them (a "safety number changed" note): they commit (or
   * roll back) with the change.
   */
  readonly identityChanges: readonly IdentityChangeEvent[];
  /** Joins this transaction (nested calls commit with the outermost). */
  transaction<T>(fn: (tx: KvTransaction) => Promise<T>): Promise<T>;
}

interface FormatRow {
  readonly version: number;
  readonly sealed: boolean;
}

function encodeFormat(f: FormatRow): Uint8Array {
  return utf8(JSON.stringify({ version: f.version, sealed: f.sealed }));
}

function decodeFormat(bytes: Uint8Array): FormatRow {
  let v: unknown;
  try {
    v = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes));
  } catch (cause) {
    throw new E2eeError(StoreErrorCode.StoreFormat, 'store format row is malformed', { cause });
  }
  const o = v as { version?: unknown; sealed?: unknown };
  if (!Number.isInteger(o?.version) || typeof o.sealed !== 'boolean')
    throw new E2eeError(StoreErrorCode.StoreFormat, 'store format row is malformed');
  return { version: o.version as number, sealed: o.sealed };
}

function checkOptions(options: KvStoreOptions): void {
  if (options === null || typeof options !== 'object') throw new TypeError('options must be an object');
  if (options.ratchet !== undefined) checkRatchetCodecs(options.ratchet);
  if (options.senderKeys !== undefined) checkSenderKeyCodecs(options.senderKeys);
}

/** The format row (never sealed), bounded like every other read. */
async function formatRow(backend: KvBackend): Promise<Uint8Array | undefined> {
  const bytes = await backend.get('meta', FORMAT_ROW, MAX_VALUE_BYTES.meta);
  if (bytes instanceof Uint8Array && bytes.length > MAX_VALUE_BYTES.meta)
    throw valueTooLong('meta', MAX_VALUE_BYTES.meta);
  return bytes;
}

interface LoadedIdentity {
  readonly pair: IdentityKeyPair;
  readonly registrationId: number;
}

/**
 * First open: writes the identity and the format row in one batch, the format row create-only. Two
 * processes or tabs opening a new database at once both get here; the loser's batch is refused and
 * it loads the winner's identity (an overwrite would leave the winner running with an identity the
 * database no longer holds).
 */
async function create(
  backend: KvBackend,
  io: CodecIo,
  codec: RowCodec,
  provider: CryptoProvider,
  options: KvStoreOptions,
): Promise<LoadedIdentity> {
  // Identity rows but no format row: the format row was lost (edited, partially restored). Creating
  // a new identity here would silently replace the stored one. Point reads, not a listing: open
  // stays O(1) and needs nothing a backend's `list` may need (IndexedDB's global IDBKeyRange).
  for (const key of ['identity_key_pair', 'key_check', 'registration_id'])
    if (
      (await backend.get('meta', await codec.rowKey('meta', key), MAX_VALUE_BYTES.meta + codec.overhead)) !==
      undefined
    ) {
      // Or another tab or process created the store after our first look (its batch has both):
      // then the format row is there now.
      const winner = await formatRow(backend);
      if (winner !== undefined) return load(io, codec, winner);
      throw new E2eeError(StoreErrorCode.StoreFormat, 'store has rows but no format row');
    }
  const given = options.identity;
  const supplied = given?.identityKeyPair ?? (await IdentityKeyPair.generate(provider));
  const registrationId = given?.registrationId ?? generateRegistrationId((n) => provider.randomBytes(n));
  // Another copy's pair (an app that loads two copies of core) is read as this copy's, which the
  // store keeps; on every way out that does not keep it, our copy is wiped.
  const pair = IdentityKeyPair.from(supplied, 'identity.identityKeyPair');
  let kept = false;
  try {
    validateRegistrationId(registrationId);
    const reg = new Uint8Array(4);
    new DataView(reg.buffer).setUint32(0, registrationId);
    const rows = await io.encode([
      { table: 'meta', key: 'key_check', value: KEY_CHECK },
      { table: 'meta', key: 'identity_key_pair', value: pair.serialize() },
      { table: 'meta', key: 'registration_id', value: reg },
    ]);
    const format = encodeFormat({ version: STORE_FORMAT_VERSION, sealed: codec.sealed });
    try {
      await backend.commit([...rows, { table: 'meta', key: FORMAT_ROW, value: format, ifAbsent: true }]);
    } catch (cause) {
      const winner = await formatRow(backend);
      if (winner === undefined)
        throw cause instanceof StoreError ? cause : new StoreError('could not create the store', { cause });
      return load(io, codec, winner);
    }
    kept = true;
    return { pair, registrationId };
  } finally {
    if (!kept && pair !== supplied) pair.privateKey.wipe();
  }
}

/** Opens an existing database: its format, its key check, then its identity. */
async function load(io: CodecIo, codec: RowCodec, formatBytes: Uint8Array): Promise<LoadedIdentity> {
  const format = decodeFormat(formatBytes);
  if (format.version < 1 || format.version > STORE_FORMAT_VERSION)
    throw new E2eeError(
      StoreErrorCode.StoreFormat,
      `store format ${format.version} is not supported by this version`,
    );
  if (format.sealed !== codec.sealed)
    throw new E2eeError(
      StoreErrorCode.StoreKeyMismatch,
      format.sealed ? 'this store is encrypted: pass its encryptionKey' : 'this store is not encrypted',
    );
  // Under another key the HMAC'ed row key names no row (or the seal does not open).
  let check: Uint8Array | undefined;
  try {
    check = await io.get('meta', 'key_check');
  } catch (cause) {
    if (cause instanceof VerificationError)
      throw new E2eeError(StoreErrorCode.StoreKeyMismatch, 'wrong encryptionKey for this store', {
        cause,
      });
    throw cause;
  }
  if (check === undefined || !constantTimeEqual(check, KEY_CHECK))
    throw new E2eeError(StoreErrorCode.StoreKeyMismatch, 'wrong encryptionKey for this store');
  const pairBytes = await io.get('meta', 'identity_key_pair');
  const reg = await io.get('meta', 'registration_id');
  if (pairBytes === undefined || reg === undefined || reg.length !== 4)
    throw new E2eeError(StoreErrorCode.StoreFormat, 'store has no identity');
  const pair = IdentityKeyPair.deserialize(pairBytes);
  const registrationId = new DataView(reg.buffer, reg.byteOffset, 4).getUint32(0);
  try {
    validateRegistrationId(registrationId);
  } catch (cause) {
    // Only an edited or damaged row gets here (creation validated it): a typed error, not RangeError.
    throw new E2eeError(StoreErrorCode.StoreFormat, 'stored registration id is out of range', { cause });
  }
  return { pair, registrationId };
}

export class KvStore {
  readonly #ratchet: RatchetCodecs | undefined;
  readonly #senderKeys: SenderKeyCodecs | undefined;
  readonly #identity: IdentityOptions;
  readonly #views: KvTransaction;
  readonly #top: Scope;
  readonly #identityLocks = new InProcessLockManager();
  /** True when values are sealed under an app key. */
  readonly sealed: boolean;

  private constructor(io: CodecIo, sealed: boolean, options: KvStoreOptions, identity: IdentityOptions) {
    this.sealed = sealed;
    this.#ratchet = options.ratchet;
    this.#senderKeys = options.senderKeys;
    this.#identity = identity;
    const report = options.onIdentityChange;
    this.#top = {
      run: (fn) => inTransaction(io, fn, report),
      transaction: (fn) => inTransaction(io, (buf) => fn(this.#txFor(buf)), report),
      // A call on a top-level view: its caller (a cipher, after its own transaction) committed.
      identityChanged: (event) => report?.(event),
      identityChanges: () => [],
    };
    this.#views = this.#viewsOver(this.#top);
  }

  /** Opens (creating on first use) the stores kept in `backend`. */
  static async open(backend: KvBackend, options: KvStoreOptions = {}): Promise<KvStore> {
    checkOptions(options);
    const provider = resolveProvider(options.provider);
    const codec: RowCodec =
      options.encryptionKey === undefined ? plainCodec : await sealingCodec(options.encryptionKey, provider);
    const io = new CodecIo(backend, codec);
    const formatBytes = await formatRow(backend);
    const loaded =
      formatBytes === undefined
        ? await create(backend, io, codec, provider, options)
        : await load(io, codec, formatBytes);
    const { pair, registrationId } = loaded;
    const identity: IdentityOptions = {
      identityKeyPair: pair,
      registrationId,
      ...(options.policy !== undefined ? { policy: options.policy } : {}),
    };
    return new KvStore(io, codec.sealed, options, identity);
  }

  #viewsOver(scope: Scope): KvTransaction {
    let protocol: ProtocolView | undefined;
    let senderKeys: SenderKeyView | undefined;
    const ratchet = this.#ratchet;
    const sk = this.#senderKeys;
    const identity = this.#identity;
    const locks = this.#identityLocks;
    return {
      get protocol(): ProtocolView {
        if (!ratchet) throw new TypeError('open the store with { ratchet } to use protocol');
        protocol ??= new ProtocolView(scope, ratchet, identity, locks);
        return protocol;
      },
      get senderKeys(): SenderKeyView {
        if (!sk) throw new TypeError('open the store with { senderKeys } to use senderKeys');
        senderKeys ??= new SenderKeyView(scope, sk);
        return senderKeys;
      },
      backupAttempts: new AttemptView(scope),
      resend: new ResendView(scope),
      app: new AppView(scope),
      get identityChanges(): readonly IdentityChangeEvent[] {
        return scope.identityChanges();
      },
      transaction: <T>(fn: (tx: KvTransaction) => Promise<T>) => scope.transaction(fn),
    };
  }

  /** The views of a running transaction: calls join it, and so does every nested `transaction`. */
  #txFor(buf: TxBuffer): KvTransaction {
    const scope: Scope = {
      run: (fn) => fn(buf),
      transaction: (fn) => fn(tx),
      identityChanged: (event) => buf.identityChanged(event),
      identityChanges: () => buf.identityChanges,
    };
    const tx = this.#viewsOver(scope);
    return tx;
  }

  /** A full `ProtocolStore` (identity and trust, sessions, pre-keys, pre-key state). */
  get protocol(): ProtocolView {
    return this.#views.protocol;
  }
  /** A `SenderKeyStore` with the key-holder methods. */
  get senderKeys(): SenderKeyView {
    return this.#views.senderKeys;
  }
  /** Backup-kdf's `AttemptStore`. */
  get backupAttempts(): AttemptView {
    return this.#views.backupAttempts;
  }
  /** Ratchet's `ResendStore` (retry-receipt resend cache). */
  get resend(): ResendView {
    return this.#views.resend;
  }
  /** The app's own key-value rows. */
  get app(): AppView {
    return this.#views.app;
  }

  /**
   * Runs `fn` with views whose reads see its own writes; when `fn` resolves every write commits in one
   * database transaction, when it throws none does. Not isolated from concurrent transactions: run
   * read-modify-writes of one key under a `LockManager` (the ciphers do this per address).
   */
  transaction<T>(fn: (tx: KvTransaction) => Promise<T>): Promise<T> {
    if (typeof fn !== 'function') throw new TypeError('fn must be a function');
    return this.#top.transaction(fn);
  }

  toString(): string {
    return `KvStore(${this.sealed ? 'sealed' : 'plain'})`;
  }
  [Symbol.for('nodejs.util.inspect.custom')](): string {
    return this.toString();
  }
}
