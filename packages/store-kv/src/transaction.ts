/**
 * The write buffer of one transaction. Reads look in the buffer first and then in the database;
 * writes stay in memory until `commit`, which hands all of them to the backend as one atomic batch.
 * Buffering (rather than holding a database transaction open) is what lets one transaction span
 * `await`s on crypto and on the app: IndexedDB would auto-commit across them, SQLite would hold its
 * write lock while JavaScript runs.
 */
import {
  copyBytes,
  DecodeError,
  type IdentityChangeEvent,
  StoreError,
  VerificationError,
} from '@e2ee-kit/core';
import type { KvBackend, KvWrite, Table } from './backend.js';
import type { KvTransaction } from './kv-store.js';
import { MAX_VALUE_BYTES, valueTooLong } from './limits.js';
import type { RowCodec } from './sealing.js';

/**
 * A backend's answer as bytes of our own. The contract asks backends for copies, but drivers with
 * zero-copy reads hand out views of memory their next read rewrites: kept as is, what a caller got
 * would change under it, and the bytes kept for a compare-and-set would name another row (every
 * read-modify-write refused). A row that is not bytes (an edited database) is a StoreError.
 */
function owned(stored: unknown, table: Table): Uint8Array {
  if (!(stored instanceof Uint8Array))
    throw new StoreError(`backend returned a ${table} row that is not bytes`);
  return copyBytes(stored);
}

/** A stored value that does not decode, or (sealed) does not open: the row's fault, not the database's. */
const isDamage = (err: unknown) => err instanceof DecodeError || err instanceof VerificationError;

/** The database seen through the row codec (sealed or not). */
export class CodecIo {
  readonly #backend: KvBackend;
  readonly #codec: RowCodec;

  constructor(backend: KvBackend, codec: RowCodec) {
    this.#backend = backend;
    this.#codec = codec;
  }

  async get(table: Table, key: string): Promise<Uint8Array | undefined> {
    return (await this.read(table, key)).value;
  }

  /** The longest value the database may hold for `table` (its cap, plus the seal). */
  #limit(table: Table): number {
    return MAX_VALUE_BYTES[table] + this.#codec.overhead;
  }

  /** The row's value and its bytes as stored (sealed or not), for a compare-and-set at commit. */
  async read(
    table: Table,
    key: string,
  ): Promise<{ value: Uint8Array | undefined; stored: Uint8Array | null }> {
    const rowKey = await this.#codec.rowKey(table, key);
    const limit = this.#limit(table);
    const answer = await this.#backend.get(table, rowKey, limit);
    if (answer === undefined) return { value: undefined, stored: null };
    // Again here, for a backend that ignores `maxBytes`: the row never reaches a decoder.
    if (answer instanceof Uint8Array && answer.length > limit) throw valueTooLong(table, limit);
    const stored = owned(answer, table);
    return { value: await this.#codec.open(table, rowKey, stored), stored };
  }

  /**
   * Every row of `table` by the logical key its value names (`keyOf`; sealed row keys are one-way).
   * A row whose value does not open or decode is left out: listings serve upkeep (pruning the resend
   * cache, forgetting replay triples), which one damaged row must not stop for good — nothing names
   * it to delete it. So is a row whose value names another row's key (a plain row copied under
   * another key: listed, it shadowed the real row, and deleting by the name listed never removed it).
   */
  async values(table: Table, keyOf: (value: Uint8Array) => string): Promise<Map<string, Uint8Array>> {
    const limit = this.#limit(table);
    const rows = await this.#backend.list(table, limit);
    const out = new Map<string, Uint8Array>();
    // Copied before the first await: a reusing backend may rewrite the others meanwhile. A value
    // that is not bytes at all is left out too (read by its key it is a StoreError), and so is one
    // over the cap (a backend that ignores `maxBytes`; read by its key it is a DecodeError).
    const owns = rows.flatMap(([rowKey, stored]) =>
      stored instanceof Uint8Array && stored.length <= limit ? [[rowKey, copyBytes(stored)] as const] : [],
    );
    for (const [rowKey, stored] of owns) {
      let value: Uint8Array;
      let key: string;
      try {
        value = await this.#codec.open(table, rowKey, stored);
        key = keyOf(value);
      } catch (err) {
        if (isDamage(err)) continue;
        throw err;
      }
      if ((await this.#codec.rowKey(table, key)) === rowKey) out.set(key, value);
    }
    return out;
  }

  /** The writes as the database will see them (row keys mapped, values sealed). */
  async encode(writes: readonly KvWrite[]): Promise<KvWrite[]> {
    const out: KvWrite[] = [];
    for (const w of writes) {
      const rowKey = await this.#codec.rowKey(w.table, w.key);
      const value = w.value === null ? null : await this.#codec.seal(w.table, rowKey, w.value);
      out.push({
        table: w.table,
        key: rowKey,
        value,
        ...(w.ifAbsent ? { ifAbsent: true } : {}),
        ...(w.ifPresent ? { ifPresent: true } : {}),
        // Already the stored form: compared with the row as the database holds it.
        ...(w.ifValue !== undefined ? { ifValue: w.ifValue } : {}),
      });
    }
    return out;
  }

  async commit(writes: readonly KvWrite[]): Promise<void> {
    await this.#backend.commit(await this.encode(writes));
  }
}

const slot = (table: Table, key: string) => `${table}\u0000${key}`;

/** A value the store would refuse to read back is refused now, before anything is written. */
function checkSize(table: Table, value: Uint8Array): void {
  if (value.length > MAX_VALUE_BYTES[table])
    throw new RangeError(`${table} value is over ${MAX_VALUE_BYTES[table]} bytes`);
}

/**
 * Records a transaction writes back after reading them: a session or sender-key record holds chain
 * keys, and two processes or tabs committing the next state of one record would both have used the
 * same message keys; two committing the next pre-key state would have handed out the same pre-key
 * ids (the later keys overwriting the earlier); two saving one peer's identity key would both report
 * it `new` (or both `replaced`, the last writer's key kept); two updating one backup-attempt record
 * would lose one failure; two adding devices to one chain's key-holder list would drop one of them
 * (handed the chain, yet its removal would no longer rotate it); two counting uses of one last-resort
 * Kyber key would count two replay rows as one (the cap passed). Their writes carry `ifValue` (the
 * bytes read), so only the first one commits.
 */
const COMPARE_AND_SET: ReadonlySet<Table> = new Set<Table>([
  'session',
  'sender_key',
  'key_holders',
  'prekey_state',
  'attempt',
  'identity',
  'kyber_used',
]);

/** The app's `onIdentityChange`: hears of a replaced identity key once the change has committed. */
export type IdentityReport = (event: IdentityChangeEvent) => void;

type TxState = 'open' | 'committing' | 'committed' | 'discarded';

export class TxBuffer {
  readonly #io: CodecIo;
  readonly #report: IdentityReport | undefined;
  readonly #writes = new Map<string, KvWrite>();
  /** Stored bytes (or `null`: no row) of compare-and-set rows as this transaction first read them. */
  readonly #read = new Map<string, Uint8Array | null>();
  /** Identity replacements made in this transaction, reported to the app once it has committed. */
  readonly #identityChanges: IdentityChangeEvent[] = [];
  #state: TxState = 'open';

  constructor(io: CodecIo, report?: IdentityReport) {
    this.#io = io;
    this.#report = report;
  }

  #assertOpen(): void {
    if (this.#state !== 'open')
      throw new StoreError('transaction already finished: use the tx only inside its callback');
  }

  /**
   * The identity replacements made in this transaction so far (a copy). The app writes its own rows
   * for them ("your safety number changed") before its callback returns: they commit together.
   */
  get identityChanges(): readonly IdentityChangeEvent[] {
    this.#assertOpen();
    return Object.freeze([...this.#identityChanges]);
  }

  /**
   * Records an identity replacement made in this transaction; the app hears of it only once the
   * transaction committed (never for one discarded or whose commit failed, so a re-run reports once).
   * A cipher reports its own save after its part of the work, through a view of this transaction:
   * still open, it waits for the commit like any other; already committed (the cipher's transaction
   * was its own), it is reported now; discarded, never.
   */
  identityChanged(event: IdentityChangeEvent): void {
    if (this.#state === 'open' || this.#state === 'committing') this.#identityChanges.push(event);
    else if (this.#state === 'committed') this.#reportAll([event]);
  }

  #reportAll(events: readonly IdentityChangeEvent[]): void {
    for (const event of events) {
      try {
        this.#report?.(event);
      } catch {
        // Committed: an app callback's failure must not turn the operation into an error (nor stop
        // the other reports), as for the ciphers' after-commit effects.
      }
    }
  }

  async get(table: Table, key: string): Promise<Uint8Array | undefined> {
    this.#assertOpen();
    const w = this.#writes.get(slot(table, key));
    if (w !== undefined) return w.value === null ? undefined : copyBytes(w.value);
    if (!COMPARE_AND_SET.has(table)) return this.#io.get(table, key);
    const { value, stored } = await this.#io.read(table, key);
    if (!this.#read.has(slot(table, key))) this.#read.set(slot(table, key), stored);
    return value;
  }

  /**
   * Values of every row of `table` as this transaction sees it; `keyOf` names a value's logical key
   * (a stored value it cannot decode is left out, as one that does not open or names another row).
   */
  async values(table: Table, keyOf: (value: Uint8Array) => string): Promise<Uint8Array[]> {
    this.#assertOpen();
    const merged = await this.#io.values(table, keyOf);
    for (const w of this.#writes.values()) {
      if (w.table !== table) continue;
      if (w.value === null) merged.delete(w.key);
      else merged.set(w.key, copyBytes(w.value));
    }
    return [...merged.values()];
  }

  put(table: Table, key: string, value: Uint8Array): void {
    this.#assertOpen();
    if (!(value instanceof Uint8Array)) throw new TypeError('value must be a Uint8Array');
    checkSize(table, value);
    // copyBytes, not slice(): a Node Buffer's slice() is a view of the caller's (or the pool's) memory.
    this.#writes.set(slot(table, key), { table, key, value: copyBytes(value) });
  }

  delete(table: Table, key: string): void {
    this.#assertOpen();
    this.#writes.set(slot(table, key), { table, key, value: null });
  }

  /**
   * Deletes a row this transaction read as present, and fails the commit if another process or tab
   * deleted it meanwhile (the buffer is not isolated: a read here says nothing at commit time).
   */
  consume(table: Table, key: string): void {
    this.#assertOpen();
    const s = slot(table, key);
    // A row this transaction wrote itself may not be in the database yet: a plain delete.
    const own = this.#writes.get(s)?.value != null;
    this.#writes.set(s, { table, key, value: null, ...(own ? {} : { ifPresent: true }) });
  }

  /** Writes a row that must not exist at commit (a replay marker another process may be writing). */
  create(table: Table, key: string, value: Uint8Array): void {
    this.#assertOpen();
    if (!(value instanceof Uint8Array)) throw new TypeError('value must be a Uint8Array');
    checkSize(table, value);
    this.#writes.set(slot(table, key), { table, key, value: copyBytes(value), ifAbsent: true });
  }

  get size(): number {
    return this.#writes.size;
  }

  /** Writes everything in one backend batch; the buffer is finished either way. */
  async commit(): Promise<void> {
    this.#assertOpen();
    this.#state = 'committing';
    const writes = [...this.#writes].map(([s, w]) => {
      const read = this.#read.get(s);
      return read === undefined ? w : { ...w, ifValue: read };
    });
    this.#writes.clear();
    this.#read.clear();
    try {
      if (writes.length > 0) await this.#io.commit(writes);
    } catch (cause) {
      this.discard();
      throw cause instanceof StoreError ? cause : new StoreError('store commit failed', { cause });
    }
    this.#state = 'committed';
    this.#reportAll(this.#identityChanges.splice(0));
  }

  discard(): void {
    this.#state = 'discarded';
    this.#writes.clear();
    this.#read.clear();
    this.#identityChanges.length = 0;
  }
}

/** Where a view's method runs: inside a caller's transaction, or in a transaction of its own. */
export interface Scope {
  run<T>(fn: (buf: TxBuffer) => Promise<T>): Promise<T>;
  /** `transaction` as every view exposes it: a new one at top level, the running one inside a tx. */
  transaction<T>(fn: (tx: KvTransaction) => Promise<T>): Promise<T>;
  /** An identity replacement made here: reported to the app once it has committed. */
  identityChanged(event: IdentityChangeEvent): void;
  /** The replacements made in the running transaction so far (none outside one). */
  identityChanges(): readonly IdentityChangeEvent[];
}

/**
 * Runs `fn` over a fresh buffer and commits its writes when `fn` resolves; none when it throws. The
 * identity replacements made in it go to `report` after the commit.
 */
export async function inTransaction<T>(
  io: CodecIo,
  fn: (buf: TxBuffer) => Promise<T>,
  report?: IdentityReport,
): Promise<T> {
  const buf = new TxBuffer(io, report);
  let result: T;
  try {
    result = await fn(buf);
  } catch (err) {
    buf.discard();
    throw err;
  }
  await buf.commit();
  return result;
}
