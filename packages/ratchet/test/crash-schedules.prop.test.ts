// fast-check: random two-party schedules (PQXDH with SPQR, and X3DH) whose store operations fail.
//
// Each encrypt, decrypt and initiate may get one fault, chosen by fast-check:
// - `throw` at write k: the k-th store write of the operation throws. The operation must reject, leave
//   every record of that party byte-identical, fire no identity callback and (encrypt) return nothing;
//   the message stays undelivered and is delivered again later.
// - `down` from write k (transactional stores only): write k and every later one fail, undo writes too.
// - `crash` after write k: the process dies just before write k; the app re-opens a snapshot of the
//   store as it was after exactly k writes (with a transaction: as it was before it), with a fresh
//   SessionCipher.
// Without a store transaction a decrypt commits when its session record is written (that write
// consumes the message key): a crash before it must leave the message decryptable again, a crash after
// it makes a repeat DUPLICATE_MESSAGE. Throughout: no message decrypts twice, no returned ciphertext
// reuses a (ratchet key, counter) pair, and both directions still work at the end.
import {
  type CryptoProvider,
  DuplicateMessageError,
  E2eeError,
  platformProvider,
  StoreError,
  toHex,
} from '@e2ee-kit/core';
import {
  type EncryptedMessage,
  MAX_RECEIVER_CHAINS,
  PreKeySignalMessage,
  type ProtocolTransaction,
  RatchetErrorCode,
  SignalMessage,
} from '@e2ee-kit/ratchet';
import { createTestParty, type InMemoryProtocolStore, type TestParty } from '@e2ee-kit/ratchet/testing';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { fromUtf8, snap, utf8 } from './helpers.js';

const WRITES = new Set([
  'saveSession',
  'removeSession',
  'savePreKey',
  'removePreKey',
  'saveSignedPreKey',
  'removeSignedPreKey',
  'saveKyberPreKey',
  'removeKyberPreKey',
  'markKyberPreKeyUsed',
  'savePreKeyState',
  'saveIdentity',
  'removeIdentity',
  'restoreIdentityEntry',
]);

export type Dir = 0 | 1; // 0: Alice → Bob, 1: Bob → Alice
export interface Fault {
  kind: 'throw' | 'down' | 'crash';
  k: number;
}
export interface Step {
  kind: 'send' | 'deliver' | 'duplicate' | 'drop';
  dir: Dir;
  pick: number;
  fault: Fault | null;
}
export type Protocol = 'pqxdh' | 'x3dh';

class Crash extends Error {}

/** One party's store faults: counts the writes of the armed operation and fails or crashes at k. */
class FaultPlan {
  fault: Fault | undefined;
  writes: string[] = [];
  /** The armed fault was reached (the operation made at least k + 1 writes). */
  fired = false;
  /** Set by a crash: the store as it was after exactly `fault.k` writes. */
  crashed: Map<string, Uint8Array> | undefined;
  snapshot: (() => Map<string, Uint8Array>) | undefined;
  /** Inside a store transaction: the records when it began (a crash there commits nothing). */
  txStart: Map<string, Uint8Array> | undefined;
  readonly onCall = (method: string) => {
    if (this.fault === undefined || !WRITES.has(method)) return;
    const n = this.writes.length;
    this.writes.push(method);
    if (this.fault.kind === 'down' && n > this.fault.k)
      throw new Error(`injected failure: store down (${method})`);
    if (n !== this.fault.k) return;
    this.fired = true;
    if (this.fault.kind !== 'crash') throw new Error(`injected failure at write ${n} (${method})`);
    this.crashed = this.txStart ?? (this.snapshot as () => Map<string, Uint8Array>)();
    this.fault = undefined; // the dead process's undo writes are never seen: the snapshot is restored
    throw new Crash('crash');
  };
  transactional = false;
  arm(fault: Fault | null): void {
    this.fault = fault ?? undefined;
    this.writes = [];
    this.fired = false;
    this.crashed = undefined;
  }
}

interface Sent {
  id: number;
  text: string;
  message: EncryptedMessage;
  keyOrdinal: number;
  delivered: boolean;
}

function inner(m: EncryptedMessage): SignalMessage {
  return m.type === 'prekey'
    ? PreKeySignalMessage.deserialize(m.body).message
    : SignalMessage.deserialize(m.body);
}

/** Runs `op` under `fault`; what happened, with the invariants of a failed operation checked. */
async function faulted<T>(
  party: TestParty,
  plan: FaultPlan,
  events: unknown[],
  fault: Fault | null,
  op: () => Promise<T>,
): Promise<{ ok: true; value: T } | { ok: false; error: unknown; crashedAfter?: string[] }> {
  const before = snap(party.store);
  const eventsBefore = events.length;
  plan.arm(fault);
  let out: { ok: true; value: T } | { ok: false; error: unknown };
  try {
    out = { ok: true, value: await op() };
  } catch (error) {
    out = { ok: false, error };
  }
  const crashed = plan.crashed;
  const fired = plan.fired;
  const writes = plan.writes;
  plan.arm(null);
  if (fired) expect(out.ok, 'an operation whose write failed returned a result').toBe(false);
  if (crashed !== undefined) {
    expect(out.ok, 'an operation that crashed returned a result').toBe(false);
    party.store.restore(crashed);
    // With a transaction every operation is atomic: the crash (before the commit) kept nothing.
    if (plan.transactional) expect(snap(party.store), 'a crash kept part of an operation').toBe(before);
    expect(events.length, 'an identity callback fired for a crashed operation').toBe(eventsBefore);
    // What reached the disk: with a transaction, nothing (it never committed).
    const landed = plan.transactional ? [] : writes.slice(0, -1);
    return { ok: false, error: (out as { error: unknown }).error, crashedAfter: landed };
  }
  if (fired) {
    const error = out.ok ? undefined : out.error;
    expect(error).toBeInstanceOf(StoreError);
    expect(String((error as StoreError).cause)).toContain('injected failure');
    expect(snap(party.store), 'a failed operation changed the stored records').toBe(before);
    expect(events.length, 'an identity callback fired for a failed operation').toBe(eventsBefore);
  }
  return out;
}

/** A store `transaction` that keeps every write of `fn` or, when it throws, none. */
function makeTransactional(store: InMemoryProtocolStore, plan: FaultPlan): void {
  plan.transactional = true;
  Object.assign(store, {
    async transaction<T>(fn: (tx: ProtocolTransaction) => Promise<T>): Promise<T> {
      const start = store.snapshot();
      plan.txStart = start;
      try {
        return await fn({ protocol: store });
      } catch (err) {
        store.restore(start);
        throw err;
      } finally {
        plan.txStart = undefined;
      }
    },
  });
}

export async function runCrashSchedule(
  provider: CryptoProvider,
  protocol: Protocol,
  transactional: boolean,
  initiateFault: Fault | null,
  steps: readonly Step[],
): Promise<void> {
  const plans = [new FaultPlan(), new FaultPlan()] as const;
  const events: [unknown[], unknown[]] = [[], []];
  const make = async (name: string, i: 0 | 1) => {
    const party = await createTestParty(name, i + 1, {
      provider,
      store: { onCall: plans[i].onCall, onIdentityChange: (e) => events[i].push(e) },
    });
    plans[i].snapshot = () => party.store.snapshot();
    if (transactional) makeTransactional(party.store, plans[i]);
    return party;
  };
  const parties = [await make('alice', 0), await make('bob', 1)] as const;
  const options = protocol === 'x3dh' ? { acceptX3dh: true } : {};
  // A fresh cipher after every crash: the re-opened app keeps nothing from the dead one.
  const ciphers = [parties[0].cipher(parties[1], options), parties[1].cipher(parties[0], options)];
  const reopen = (i: 0 | 1) => {
    ciphers[i] = parties[i].cipher(parties[1 - i] as TestParty, options);
  };

  const bundle = await parties[1].bundle(protocol === 'x3dh' ? { kyberPreKey: false } : {});
  const initiate = () => (ciphers[0] as (typeof ciphers)[0]).initiate(bundle, { protocol });
  const first = await faulted(parties[0], plans[0], events[0], initiateFault, initiate);
  if (!first.ok) {
    if (first.crashedAfter) reopen(0);
    if (!(await (ciphers[0] as (typeof ciphers)[0]).hasSession())) await initiate();
  }

  const sent: [Sent[], Sent[]] = [[], []];
  const pending: [Sent[], Sent[]] = [[], []];
  const ordinals: [Map<string, number>, Map<string, number>] = [new Map(), new Map()];
  // Keys seen by each direction's receiver, oldest first; Alice starts with Bob's signed pre-key chain.
  const seen: [number[], number[]] = [[], [-1]];
  const used: [Set<string>, Set<string>] = [new Set(), new Set()];
  let bobHasSession = false;
  let nextId = 0;

  const accept = (dir: Dir, item: Sent) => {
    item.delivered = true;
    if (!seen[dir].includes(item.keyOrdinal)) seen[dir].push(item.keyOrdinal);
    if (dir === 0) bobHasSession = true;
  };

  const send = async (dir: Dir, fault: Fault | null): Promise<void> => {
    const text = `m${nextId}`;
    const out = await faulted(parties[dir], plans[dir], events[dir], fault, () =>
      (ciphers[dir] as (typeof ciphers)[0]).encrypt(utf8(text)),
    );
    if (!out.ok) {
      expect(out.error).toBeInstanceOf(StoreError);
      if (out.crashedAfter) reopen(dir);
      return;
    }
    const message = out.value;
    const signal = inner(message);
    // The session really is the one under test: version 3 for X3DH, 4 with an SPQR message for PQXDH.
    expect(signal.messageVersion).toBe(protocol === 'x3dh' ? 3 : 4);
    expect(signal.pqRatchet.length > 0).toBe(protocol === 'pqxdh');
    const key = toHex(signal.ratchetKey.serialize());
    const pair = `${key}:${signal.counter}`;
    expect(used[dir].has(pair), `ciphertext reuses chain ${key.slice(0, 8)} counter ${signal.counter}`).toBe(
      false,
    );
    used[dir].add(pair);
    const ord = ordinals[dir];
    if (!ord.has(key)) ord.set(key, ord.size);
    const item: Sent = { id: nextId++, text, message, keyOrdinal: ord.get(key) as number, delivered: false };
    sent[dir].push(item);
    pending[dir].push(item);
  };

  /** Delivers `item`; true when it should be offered again (a fault left it unread). */
  const deliver = async (dir: Dir, item: Sent, fault: Fault | null): Promise<boolean> => {
    const to: 0 | 1 = dir === 0 ? 1 : 0;
    const list = seen[dir];
    const retained = list.slice(-MAX_RECEIVER_CHAINS).includes(item.keyOrdinal);
    const decryptable =
      retained || (!list.includes(item.keyOrdinal) && item.keyOrdinal > Math.max(-1, ...list));
    const before = snap(parties[to].store);
    const out = await faulted(parties[to], plans[to], events[to], fault, () =>
      (ciphers[to] as (typeof ciphers)[0]).decrypt(item.message),
    );
    if (out.ok) {
      expect(decryptable && !item.delivered, `message ${item.id} must not decrypt (again)`).toBe(true);
      expect(fromUtf8(out.value.plaintext)).toBe(item.text);
      accept(dir, item);
      return false;
    }
    if (out.crashedAfter !== undefined) {
      reopen(to);
      // The session record is the commit point of a decrypt without a store transaction.
      if (decryptable && !item.delivered && out.crashedAfter.includes('saveSession')) accept(dir, item);
      return decryptable && !item.delivered;
    }
    if (E2eeError.is(out.error, 'STORE')) return decryptable && !item.delivered;
    if (decryptable && !item.delivered) throw out.error; // it should have decrypted
    if (decryptable) expect(out.error).toBeInstanceOf(DuplicateMessageError);
    else expect(E2eeError.is(out.error, RatchetErrorCode.InvalidMessage), String(out.error)).toBe(true);
    expect(snap(parties[to].store)).toBe(before);
    return false;
  };

  for (const step of steps) {
    const { dir, fault } = step;
    if (step.kind === 'send') {
      if (dir === 1 && !bobHasSession) continue;
      await send(dir, fault);
    } else if (step.kind === 'deliver') {
      const q = pending[dir];
      if (q.length === 0) continue;
      const i = step.pick % Math.min(4, q.length); // reorder within a window of 4
      const item = q[i] as Sent;
      q.splice(i, 1);
      if (await deliver(dir, item, fault)) q.splice(i, 0, item);
    } else if (step.kind === 'duplicate') {
      const done = sent[dir].filter((s) => s.delivered);
      if (done.length > 0) await deliver(dir, done[step.pick % done.length] as Sent, fault);
    } else {
      const q = pending[dir];
      if (q.length > 0) q.splice(step.pick % q.length, 1);
    }
  }
  // Drain in order without faults: every message still decryptable (a fault never loses one) reads.
  for (const dir of [0, 1] as const) {
    for (const item of pending[dir].splice(0)) {
      const list = seen[dir];
      const decryptable =
        list.slice(-MAX_RECEIVER_CHAINS).includes(item.keyOrdinal) ||
        (!list.includes(item.keyOrdinal) && item.keyOrdinal > Math.max(-1, ...list));
      await deliver(dir, item, null);
      if (decryptable) expect(item.delivered, `message ${item.id} was lost`).toBe(true);
    }
  }
  // Both directions keep working.
  for (const dir of [0, 1, 0, 1] as const) {
    if (dir === 1 && !bobHasSession) continue;
    await send(dir, null);
    const item = pending[dir].pop() as Sent;
    await deliver(dir, item, null);
    expect(item.delivered, `the session no longer works from ${dir === 0 ? 'Alice' : 'Bob'}`).toBe(true);
  }
  for (const e of events) expect(e, 'no identity ever changes in these schedules').toHaveLength(0);
}

/**
 * `down` (the store fails from write k on, the undo writes too) only with a transaction: without one,
 * a failed undo is documented best effort (see `DecryptOptions.deliver`).
 */
const faultFor = (transactional: boolean): fc.Arbitrary<Fault | null> =>
  fc.option(
    // An operation makes at most four writes (a PreKey decrypt: session, pre-key, identity, Kyber mark).
    fc.record({
      kind: fc.constantFrom<Fault['kind']>(
        ...(transactional ? (['throw', 'down', 'crash'] as const) : (['throw', 'crash'] as const)),
      ),
      k: fc.nat(3),
    }),
    { freq: 2 }, // half of the operations get a fault
  );
const stepFor = (transactional: boolean): fc.Arbitrary<Step> =>
  fc.record({
    kind: fc.constantFrom<Step['kind']>('send', 'send', 'deliver', 'deliver', 'deliver', 'duplicate', 'drop'),
    dir: fc.constantFrom<Dir>(0, 1),
    pick: fc.nat(1000),
    fault: faultFor(transactional),
  });

describe('crash and fault schedules (fast-check)', () => {
  for (const protocol of ['pqxdh', 'x3dh'] as const) {
    for (const transactional of [false, true]) {
      const store = transactional ? 'transactional store' : 'store without transaction';
      it(`faults lose nothing, repeat nothing, reuse no key (${protocol}, ${store})`, async () => {
        await fc.assert(
          fc.asyncProperty(
            faultFor(transactional),
            fc.array(stepFor(transactional), { minLength: 4, maxLength: 40 }),
            (f, steps) => runCrashSchedule(platformProvider, protocol, transactional, f, steps),
          ),
          { numRuns: 60 },
        );
      });
    }
  }
});
