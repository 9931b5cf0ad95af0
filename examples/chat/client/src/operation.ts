/**
 * One client operation over one or more store transactions. An operation normally commits once, when
 * it returns. But a ciphertext that left the device must never be followed by a rollback of the
 * ratchet step that made it: the next message would be encrypted again under the same message key
 * (two plaintexts under one AES-CBC key and IV), and the receiver would drop it as a duplicate. So
 * the relay API calls `checkpoint` right before it hands over any ciphertext (`RelayApi.beforeSend`):
 * everything the operation wrote so far commits, and the operation goes on in a new transaction.
 * A failure after that rolls back only what was written after the send; when the relay had taken
 * the ciphertext (`accepted`), the operation's error is marked (`failedAfterSend`) so callers repair
 * their bookkeeping instead of sending the message again as new.
 *
 * The operation's code keeps the same objects across a checkpoint: `live` is a transaction whose
 * views (and every nested `transaction` call on them) always reach the transaction running now, so
 * a cipher or fan-out built before the checkpoint writes into the new one, not a finished one.
 */
import type { KvStore, KvTransaction } from '@e2ee-kit/store-kv';

/** Errors of operations that failed after a ciphertext left the device (their sends stand). */
const afterSend = new WeakSet<object>();

/**
 * True when `err` is the failure of an operation that had already handed a ciphertext to the relay:
 * its ratchet steps are committed and the message may have arrived, so it must not be sent again
 * as new; only the app-side bookkeeping of it is missing.
 */
export function failedAfterSend(err: unknown): boolean {
  return typeof err === 'object' && err !== null && afterSend.has(err);
}

type Outcome<T> = { ok: true; value: T } | { ok: false; error: unknown };
type Waiter = { resolve: () => void; reject: (err: unknown) => void };

/** Thrown to roll a look-only operation back. */
const DISCARD = Symbol('discard');

export class Operation {
  readonly #store: KvStore;
  #tx: KvTransaction | undefined;
  /** Set while a transaction's callback waits for the operation: tells it to commit now. */
  #signal: (() => void) | undefined;
  /** The operation waiting in `checkpoint` for that commit. */
  #waiter: Waiter | undefined;
  #discard = false;
  /** Relay answers that took a ciphertext of the running operation (`accepted`). */
  #accepted = 0;
  /** The running operation's transaction, whichever it is right now. */
  readonly live: KvTransaction;

  constructor(store: KvStore) {
    this.#store = store;
    this.live = liveTransaction(() => this.current);
  }

  /** The transaction running now (throws outside an operation). */
  get current(): KvTransaction {
    if (!this.#tx) throw new Error('store used outside a client operation');
    return this.#tx;
  }
  get running(): boolean {
    return this.#tx !== undefined;
  }
  /**
   * The relay took a ciphertext of the running operation (called after its answer): a failure from
   * now on is marked `failedAfterSend`. A send that failed is not counted: the message may not have
   * arrived, so sending it again (under the next, committed ratchet step) is right.
   */
  accepted(): void {
    if (this.#tx) this.#accepted++;
  }

  /**
   * Commits what the running operation wrote so far and continues it in a new transaction (nothing
   * outside an operation). A look-only operation never sends: refused. Rejects, before anything is
   * sent, when the commit fails.
   */
  checkpoint(): Promise<void> {
    const signal = this.#signal;
    if (!this.#tx || !signal) return Promise.resolve();
    if (this.#discard) return Promise.reject(new Error('a look-only operation sends nothing'));
    return new Promise<void>((resolve, reject) => {
      this.#waiter = { resolve, reject };
      signal();
    });
  }

  /**
   * Runs `fn` in a transaction, committing at every checkpoint and when it returns (rolled back when
   * `discard`). `beforeCommit` runs inside each transaction just before it commits. `onCommit` hears
   * of each commit (checkpoints included), after it.
   */
  async run<T>(
    fn: () => Promise<T>,
    options: { discard: boolean; beforeCommit: () => Promise<void>; onCommit: () => void },
  ): Promise<T> {
    this.#discard = options.discard;
    this.#accepted = 0;
    let done: Promise<Outcome<T>> | undefined;
    try {
      for (;;) {
        let finished: Outcome<T> | undefined;
        try {
          await this.#store.transaction(async (tx) => {
            this.#tx = tx;
            const asked = new Promise<'checkpoint'>((resolve) => {
              this.#signal = () => resolve('checkpoint');
            });
            if (done === undefined) done = fn().then(ok<T>, failed<T>);
            else this.#take()?.resolve();
            const next: Outcome<T> | 'checkpoint' = await Promise.race([done, asked]);
            this.#signal = undefined;
            if (next !== 'checkpoint' && !next.ok) throw next.error;
            await options.beforeCommit();
            if (next !== 'checkpoint') {
              finished = next;
              if (options.discard) throw DISCARD;
            }
          });
        } catch (err) {
          if (err === DISCARD && finished?.ok) return finished.value;
          // A checkpoint's commit failed: the operation hears it before it sends, and stops.
          const waiting = this.#take();
          if (waiting) {
            this.#tx = undefined;
            waiting.reject(err);
            await done;
          }
          if (this.#accepted > 0 && typeof err === 'object' && err !== null) afterSend.add(err);
          throw err;
        }
        options.onCommit();
        if (finished?.ok) return finished.value;
      }
    } finally {
      this.#tx = undefined;
      this.#signal = undefined;
      this.#waiter = undefined;
    }
  }

  #take(): Waiter | undefined {
    const w = this.#waiter;
    this.#waiter = undefined;
    return w;
  }
}

const ok = <T>(value: T): Outcome<T> => ({ ok: true, value });
const failed = <T>(error: unknown): Outcome<T> => ({ ok: false, error });

/** The views of a `KvTransaction` (its other members, `identityChanges`, are read as they are). */
const VIEWS = new Set<PropertyKey>(['protocol', 'senderKeys', 'backupAttempts', 'resend', 'app']);

/**
 * A transaction whose views forward every call to the transaction `current()` names at the time of
 * the call. Nested `transaction` calls join the running one (as the store's own do) with these
 * same forwarding views.
 */
function liveTransaction(current: () => KvTransaction): KvTransaction {
  const views = new Map<PropertyKey, object>();
  const join = <R>(fn: (tx: KvTransaction) => Promise<R>) => fn(live);
  const view = (name: PropertyKey): object => {
    let v = views.get(name);
    if (!v) {
      v = new Proxy(
        {},
        {
          get(_, p) {
            if (p === 'transaction') return join;
            const target = (current() as unknown as Record<PropertyKey, Record<PropertyKey, unknown>>)[
              name
            ] as Record<PropertyKey, unknown>;
            const value = target[p];
            return typeof value === 'function' ? value.bind(target) : value;
          },
          has: (_, p) => p in (current() as unknown as Record<PropertyKey, object>)[name]!,
        },
      );
      views.set(name, v);
    }
    return v;
  };
  const live: KvTransaction = new Proxy({} as KvTransaction, {
    get(_, p) {
      if (p === 'transaction') return join;
      if (VIEWS.has(p)) return view(p);
      return (current() as unknown as Record<PropertyKey, unknown>)[p];
    },
  });
  return live;
}
