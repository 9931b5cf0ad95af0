/**
 * The checklist for a `KvBackend` (or a `KvStore`-shaped store over another database): every
 * conformance suite of the feature packages against the store's views, plus transaction semantics,
 * trust policy, attempt limiting and the resend cache. Needs `@e2ee-kit/ratchet`, `sender-keys` and
 * `backup-kdf` installed (their testing entries are imported).
 */

import { LocalBackoffPolicy } from '@e2ee-kit/backup-kdf';
import { createAddress, defaultProvider, E2eeError, KeyPair, toHex, utf8 } from '@e2ee-kit/core';
import { ResendCache } from '@e2ee-kit/ratchet';
import { type ConformanceTestApi, runProtocolStoreConformance } from '@e2ee-kit/ratchet/testing';
import { senderKeyStoreConformance } from '@e2ee-kit/sender-keys/testing';
import type { KvStore, KvStoreOptions } from '@e2ee-kit/store-kv';

/** Vitest's, jest's or any `describe` / `it` / `expect` with these matchers. */
export interface KvConformanceApi extends ConformanceTestApi {
  expect: (value: unknown) => ReturnType<ConformanceTestApi['expect']> & { toBeUndefined(): void };
}

/**
 * `open(options)` must return a store over a fresh, empty database each call, opened with `options`
 * (which always include the `ratchet` and `senderKeys` codecs).
 */
export type OpenKvStore = (options: KvStoreOptions) => Promise<KvStore>;

/** The rejection reason of `p`, or `undefined` when it fulfils. */
const rejection = (p: Promise<unknown>): Promise<unknown> =>
  p.then(
    () => undefined,
    (err: unknown) => err,
  );

export function runKvStoreConformance(
  t: KvConformanceApi,
  open: OpenKvStore,
  codecs: Required<Pick<KvStoreOptions, 'ratchet' | 'senderKeys'>>,
): void {
  const { describe, it, expect } = t;
  const fresh = (o: Partial<KvStoreOptions> = {}) => open({ ...codecs, ...o });
  const text = (b: Uint8Array | undefined) => (b === undefined ? undefined : new TextDecoder().decode(b));
  const bob = createAddress('bob', 1);

  runProtocolStoreConformance(async () => (await fresh()).protocol, t, { replayDetection: true });
  senderKeyStoreConformance(t, async () => (await fresh()).senderKeys);

  describe('KvStore conformance', () => {
    it('trust: blockOnChange refuses a changed key until it is approved', async () => {
      const s = (await fresh({ policy: 'blockOnChange' })).protocol;
      const k1 = (await KeyPair.generate(defaultProvider)).publicKey;
      const k2 = (await KeyPair.generate(defaultProvider)).publicKey;
      await s.saveIdentity(bob, k1);
      expect(await s.isTrustedIdentity(bob, k1, 'sending')).toBe(true);
      expect(await s.isTrustedIdentity(bob, k2, 'sending')).toBe(false);
      await s.approve(bob, k2);
      expect(await s.isTrustedIdentity(bob, k2, 'sending')).toBe(true);
    });

    it('trust: concurrent saves of a new identity report "new" exactly once', async () => {
      const s = (await fresh()).protocol;
      const k = (await KeyPair.generate(defaultProvider)).publicKey;
      const kinds = await Promise.all([1, 2, 3, 4].map(() => s.saveIdentity(bob, k)));
      expect(kinds.filter((c) => c.kind === 'new').length).toBe(1);
    });

    it('backup attempts: LocalBackoffPolicy locks out after 5 failures and resets on success', async () => {
      const store = await fresh();
      let now = 1_700_000_000_000;
      const policy = new LocalBackoffPolicy({ store: store.backupAttempts, now: () => now });
      const slot = 'a'.repeat(32);
      for (let i = 0; i < 5; i++) await policy.recordFailure('password', [slot]);
      expect((await policy.check('password')).lockedUntil instanceof Date).toBe(true);
      expect((await policy.check('recovery')).failures).toBe(0);
      now += 31_000;
      await policy.recordSuccess('password', slot);
      expect((await policy.check('password')).failures).toBe(0);
    });

    it('backup attempts: compare-and-set lands only on the bytes expected, one of racing writers wins', async () => {
      const store = await fresh();
      const view = store.backupAttempts;
      expect(await view.compareAndSet('password', utf8('x'), utf8('a'))).toBe(false);
      expect(await view.get('password')).toBeUndefined();
      expect(await view.compareAndSet('password', undefined, utf8('a'))).toBe(true);
      expect(await view.compareAndSet('password', undefined, utf8('b'))).toBe(false);
      expect(await view.compareAndSet('password', utf8('a'), utf8('c'))).toBe(true);
      expect(text(await view.get('password'))).toBe('c');
      // Ten writers that all read 'c': the database's check at commit lets exactly one through.
      const won = await Promise.all(
        Array.from({ length: 10 }, (_, i) => view.compareAndSet('password', utf8('c'), utf8(`w${i}`))),
      );
      expect(won.filter(Boolean).length).toBe(1);
      expect(text(await view.get('password'))).toBe(`w${won.indexOf(true)}`);
      // So ten policies (ten tabs' worth) recording failures at once lose none of them.
      const policies = Array.from(
        { length: 10 },
        () => new LocalBackoffPolicy({ store: store.backupAttempts, maxFailures: 100 }),
      );
      await Promise.all(policies.map((p) => p.recordFailure('recovery', ['b'.repeat(32)])));
      expect((await policies[0]!.check('recovery')).failures).toBe(10);
    });

    it('resend cache: put, get, list, prune over the store', async () => {
      const store = await fresh();
      let now = 1_700_000_000_000;
      const cache = await ResendCache.create({
        key: new Uint8Array(32).fill(7),
        store: store.resend,
        now: () => now,
      });
      await cache.put(bob, 111, utf8('first'));
      await cache.put(bob, 222, utf8('second'));
      expect(text((await cache.get(bob, 111))?.plaintext)).toBe('first');
      expect((await store.resend.list()).length).toBe(2);
      now += 25 * 3600 * 1000;
      expect(await cache.prune()).toBe(2);
      expect((await store.resend.list()).length).toBe(0);
      await store.resend.apply({ put: { id: 'x', savedAt: 5, record: utf8('r') }, remove: ['absent'] });
      expect(await store.resend.list()).toEqual([{ id: 'x', savedAt: 5 }]);
      expect(text(await store.resend.get('x'))).toBe('r');
    });

    it('transaction: reads see own writes; all writes commit together when fn resolves', async () => {
      const store = await fresh();
      const record = new (codecs.ratchet.SessionRecord as unknown as new () => { serialize(): Uint8Array })();
      const out = await store.transaction(async (tx) => {
        await tx.app.put('msg:1', utf8('hello'));
        await tx.protocol.saveSession(bob, record as never);
        await tx.resend.apply({ put: { id: 'r', savedAt: 1, record: utf8('x') }, remove: [] });
        expect(text(await tx.app.get('msg:1'))).toBe('hello');
        expect((await tx.resend.list()).length).toBe(1);
        // Not visible outside before the commit.
        expect(await store.app.get('msg:1')).toBeUndefined();
        expect(await store.protocol.getSession(bob)).toBeNull();
        return 42;
      });
      expect(out).toBe(42);
      expect(text(await store.app.get('msg:1'))).toBe('hello');
      expect((await store.protocol.getSession(bob)) !== null).toBe(true);
      expect((await store.resend.list()).length).toBe(1);
    });

    it('transaction: nothing is written when fn throws; the error comes through as is', async () => {
      const store = await fresh();
      await store.app.put('k', utf8('before'));
      const boom = new Error('app failed');
      const err = await rejection(
        store.transaction(async (tx) => {
          await tx.app.put('k', utf8('after'));
          await tx.app.put('other', utf8('x'));
          await tx.backupAttempts.set('s', utf8('y'));
          throw boom;
        }),
      );
      expect(err).toBe(boom);
      expect(text(await store.app.get('k'))).toBe('before');
      expect(await store.app.get('other')).toBeUndefined();
      expect(await store.backupAttempts.get('s')).toBeUndefined();
    });

    it('transaction: nested calls and view transactions join the outer one', async () => {
      const store = await fresh();
      const err = await rejection(
        store.transaction(async (tx) => {
          await tx.transaction(async (inner) => inner.app.put('a', utf8('1')));
          await tx.protocol.transaction(async (same) => {
            expect(same).toBe(tx);
            await same.protocol.removeSession(bob);
          });
          await tx.app.transaction(async (same) => expect(same).toBe(tx));
          expect(text(await tx.app.get('a'))).toBe('1');
          expect(await store.app.get('a')).toBeUndefined();
          throw new Error('outer fails');
        }),
      );
      expect(err instanceof Error).toBe(true);
      expect(await store.app.get('a')).toBeUndefined();
    });

    // Two transactions that both read one compare-and-set row: the later commit is refused by that
    // write, the last of its batch. A backend that checks each condition only when it reaches it has
    // applied the loser's earlier writes by then.
    it('transaction: a batch refused by one of its writes writes none of them', async () => {
      const store = await fresh();
      let read = 0;
      let release = () => {};
      const both = new Promise<void>((r) => {
        release = r;
      });
      const writer = (who: string) =>
        store.transaction(async (tx) => {
          await tx.app.put('note', utf8(who));
          await tx.app.put(`only:${who}`, utf8(who));
          await tx.backupAttempts.compareAndSet('slot', undefined, utf8(who));
          if (++read === 2) release();
          await both; // both have read the slot before either commits
        });
      const runs = await Promise.allSettled([writer('a'), writer('b')]);
      const won = runs.flatMap((r, i) => (r.status === 'fulfilled' ? [i === 0 ? 'a' : 'b'] : []));
      expect(won.length).toBe(1);
      for (const r of runs) if (r.status === 'rejected') expect(E2eeError.is(r.reason, 'STORE')).toBe(true);
      const lost = won[0] === 'a' ? 'b' : 'a';
      expect(text(await store.app.get('note'))).toBe(won[0]);
      expect(await store.app.get(`only:${lost}`)).toBeUndefined();
      expect(text(await store.backupAttempts.get('slot'))).toBe(won[0]);
    });

    it('transaction: deletes inside hide rows; a tx used after it ended throws StoreError', async () => {
      const store = await fresh();
      await store.app.put('gone', utf8('x'));
      let kept: { app: { get(k: string): Promise<unknown> } } | undefined;
      await store.transaction(async (tx) => {
        await tx.app.delete('gone');
        expect(await tx.app.get('gone')).toBeUndefined();
        kept = tx;
      });
      expect(await store.app.get('gone')).toBeUndefined();
      expect(E2eeError.is(await rejection(kept?.app.get('gone') ?? Promise.resolve()), 'STORE')).toBe(true);
    });

    it('stores and returns bytes as given, never aliasing the caller', async () => {
      const store = await fresh();
      const mine = Uint8Array.of(1, 2, 3);
      await store.app.put('b', mine);
      mine[0] = 9;
      const got = (await store.app.get('b')) as Uint8Array;
      expect(toHex(got)).toBe('010203');
      got[1] = 9;
      expect(toHex((await store.app.get('b')) as Uint8Array)).toBe('010203');
    });

    it('a last-resort Kyber pre-key used twice with one base key is refused', async () => {
      const { generateKyberPreKey } = await import('@e2ee-kit/ratchet');
      const s = (await fresh()).protocol;
      await s.saveKyberPreKey(
        3,
        await generateKyberPreKey(await s.getIdentityKeyPair(), 3, { lastResort: true }),
      );
      const base = (await KeyPair.generate(defaultProvider)).publicKey;
      await s.markKyberPreKeyUsed(3, 1, base);
      expect(E2eeError.is(await rejection(s.markKyberPreKeyUsed(3, 1, base)), 'STORE')).toBe(true);
      await s.markKyberPreKeyUsed(3, 2, base);
    });

    // Transactions are not isolated, so two at once stand in for two processes: the backend must
    // check `ifPresent` / `ifAbsent` inside its commit, or both consume the key.
    it('a one-time pre-key or last-resort triple consumed by two racing transactions: one commits', async () => {
      const { generateKyberPreKey, generatePreKeys } = await import('@e2ee-kit/ratchet');
      const store = await fresh();
      const id = await store.protocol.getIdentityKeyPair();
      const [pk] = await generatePreKeys(1, 1);
      if (pk === undefined) throw new Error('generatePreKeys returned nothing');
      await store.protocol.savePreKey(1, pk);
      await store.protocol.saveKyberPreKey(2, await generateKyberPreKey(id, 2));
      await store.protocol.saveKyberPreKey(3, await generateKyberPreKey(id, 3, { lastResort: true }));
      const base = (await KeyPair.generate(defaultProvider)).publicKey;
      const steps: ((p: typeof store.protocol) => Promise<void>)[] = [
        (p) => p.removePreKey(1),
        (p) => p.markKyberPreKeyUsed(2, 1, base),
        (p) => p.markKyberPreKeyUsed(3, 1, base),
      ];
      for (const step of steps) {
        let stepped = 0;
        let release = () => {};
        const both = new Promise<void>((r) => {
          release = r;
        });
        const once = () =>
          store.transaction(async (tx) => {
            await step(tx.protocol);
            if (++stepped === 2) release();
            await both; // both have read and buffered their writes before either commits
          });
        const failed = (await Promise.allSettled([once(), once()])).filter((r) => r.status === 'rejected');
        expect(failed.length).toBe(1);
      }
      expect(await store.protocol.getPreKey(1)).toBe(null);
      expect(await store.protocol.getKyberPreKey(2)).toBe(null);
    });

    // Two tabs or processes, each with its own locks (here: two ciphers with a lock manager each),
    // sending from one session or sender-key chain. Each reads the state at counter n; without the
    // compare-and-set at commit both commit n + 1 and two messages share one message key.
    it('two senders racing on one session or sender-key chain never reuse a message key', async () => {
      const { createPreKeyBundle, SessionCipher, SignalMessage } = await import('@e2ee-kit/ratchet');
      const { InMemoryProtocolStore } = await import('@e2ee-kit/ratchet/testing');
      const { GroupCipher, SenderKeyMessage } = await import('@e2ee-kit/sender-keys');
      const { InProcessLockManager } = await import('@e2ee-kit/core');
      const store = await fresh();
      const alice = createAddress('alice', 1);
      const peer = await InMemoryProtocolStore.create();
      const toBob = new SessionCipher(store.protocol, bob);
      await toBob.initiate(await createPreKeyBundle(peer, { deviceId: 1 }));
      const fromAlice = new SessionCipher(peer, alice);
      await fromAlice.decrypt(await toBob.encrypt(utf8('hello'))); // now whisper messages
      await toBob.decrypt(await fromAlice.encrypt(utf8('hi')));
      const tabs = [1, 2].map(
        () => new SessionCipher(store.protocol, bob, { lockManager: new InProcessLockManager() }),
      );
      const sent = await Promise.allSettled(
        Array.from({ length: 12 }, (_, i) => (tabs[i % 2] as (typeof tabs)[0]).encrypt(utf8(`m${i}`))),
      );
      const ok = sent.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
      const counters = ok.map((m) => SignalMessage.deserialize(m.body).counter);
      expect(new Set(counters).size).toBe(counters.length);
      expect(ok.length > 0 && ok.length < sent.length).toBe(true); // the race did happen
      for (const r of sent) if (r.status === 'rejected') expect(E2eeError.is(r.reason, 'STORE')).toBe(true);
      for (const m of ok) await fromAlice.decrypt(m); // every sent message is one the peer reads

      const dist = '6a1b2c3d-0000-4000-8000-0000000000bb';
      await new GroupCipher(store.senderKeys).createDistributionMessage(alice, dist);
      const groups = [1, 2].map(
        () => new GroupCipher(store.senderKeys, { lockManager: new InProcessLockManager() }),
      );
      const posted = await Promise.allSettled(
        Array.from({ length: 12 }, (_, i) =>
          (groups[i % 2] as (typeof groups)[0]).encrypt(alice, dist, utf8('g')),
        ),
      );
      const iterations = posted.flatMap((r) =>
        r.status === 'fulfilled' ? [SenderKeyMessage.deserialize(r.value).iteration] : [],
      );
      expect(new Set(iterations).size).toBe(iterations.length);
      expect(iterations.length > 0 && iterations.length < posted.length).toBe(true);
      for (const r of posted) if (r.status === 'rejected') expect(E2eeError.is(r.reason, 'STORE')).toBe(true);
    });

    // The same for pre-key ids: each context reads the pre-key state's next id; without the check
    // both hand out ids n.. and the later keys overwrite ones the earlier context may have uploaded.
    it('pre-key managers racing without a shared lock never hand out one id twice', async () => {
      const { PreKeyManager } = await import('@e2ee-kit/ratchet');
      const { InProcessLockManager } = await import('@e2ee-kit/core');
      const store = await fresh();
      const managers = [1, 2, 3].map(
        () => new PreKeyManager(store.protocol, { lockManager: new InProcessLockManager() }),
      );
      const runs = await Promise.allSettled(managers.map((m) => m.generatePreKeys(20)));
      const batches = runs.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
      expect(batches.length > 0 && batches.length < runs.length).toBe(true); // they did race
      for (const r of runs) if (r.status === 'rejected') expect(E2eeError.is(r.reason, 'STORE')).toBe(true);
      const ids = batches.flat().map((k) => k.id);
      expect(new Set(ids).size).toBe(ids.length);
      for (const k of batches.flat())
        expect(toHex((await store.protocol.getPreKey(k.id))?.serialize() ?? new Uint8Array())).toBe(
          toHex(k.serialize()),
        );
    });
  });
}
