// Issue 11.5: rollback is exact. A store that fails the f-th write, and optionally also one of the
// undo writes that follow (the library retries an undo), must leave every record — sessions,
// pre-keys, identities, approvals — byte-identical, fire no identity-change callback, and a retry must
// then succeed with exactly one callback per real change.
import {
  copyBytes,
  type IdentityChangeEvent,
  type PublicKey,
  platformProvider,
  StoreError,
} from '@e2ee-kit/core';
import type { DecryptedMessage, EncryptedMessage } from '@e2ee-kit/ratchet';
import { createTestParty, type InMemoryProtocolStore, type TestParty } from '@e2ee-kit/ratchet/testing';
import { describe, expect, it } from 'vitest';
import { fromUtf8, roundTrip, snap, utf8 } from './helpers.js';

const provider = platformProvider;
const WRITES = new Set([
  'saveSession',
  'removeSession',
  'savePreKey',
  'removePreKey',
  'saveIdentity',
  'removeIdentity',
  'restoreIdentityEntry',
  'markKyberPreKeyUsed',
]);

/** Fails the writes whose 0-based positions are in `failing` (each once). */
class WriteFaults {
  failing = new Set<number>();
  writes: string[] = [];
  readonly onCall = (method: string) => {
    if (!WRITES.has(method)) return;
    const n = this.writes.length;
    this.writes.push(method);
    if (this.failing.has(n)) throw new Error(`injected failure in write ${n} (${method})`);
  };
  arm(...positions: number[]): void {
    this.failing = new Set(positions);
    this.writes = [];
  }
}

interface Case {
  store: InMemoryProtocolStore;
  events: IdentityChangeEvent[];
  run: () => Promise<DecryptedMessage>;
  /** Callbacks expected after the successful retry, and what the result reports. */
  expectedEvents: number;
  check: (r: DecryptedMessage) => Promise<void> | void;
}

async function bobFor(faults: WriteFaults, policy: 'tofu' | 'blockOnChange' = 'tofu') {
  const events: IdentityChangeEvent[] = [];
  const bob = await createTestParty('bob', 1, {
    provider,
    store: { onCall: faults.onCall, policy, onIdentityChange: (e) => events.push(e) },
  });
  return { bob, events };
}

/** Every (forward write f, optional undo write u) failure pair, each on a fresh case. */
async function everyFailure(make: (faults: WriteFaults) => Promise<Case>): Promise<number> {
  // Count the writes of an undisturbed run first.
  const probe = new WriteFaults();
  const dry = await make(probe);
  probe.arm();
  await dry.run();
  const forward = probe.writes.length;
  expect(forward).toBeGreaterThan(0);
  let runs = 0;
  for (let f = 0; f < forward; f++) {
    for (let u = -1; u < f; u++) {
      const faults = new WriteFaults();
      const c = await make(faults);
      const before = snap(c.store);
      // u = -1: only the forward write fails; else the (u+1)-th undo write fails too (undo writes follow f).
      faults.arm(...(u < 0 ? [f] : [f, f + 1 + u]));
      const err = await c.run().then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(err, `write ${f} failed but the operation succeeded`).toBeInstanceOf(StoreError);
      expect(snap(c.store), `records changed (forward write ${f}, undo write ${u})`).toBe(before);
      expect(c.events, 'a callback fired for a change that was undone').toHaveLength(0);
      faults.arm();
      const r = await c.run();
      await c.check(r);
      expect(c.events).toHaveLength(c.expectedEvents);
      runs++;
    }
  }
  return runs;
}

const text = (want: string) => (r: DecryptedMessage) => {
  expect(fromUtf8(r.plaintext)).toBe(want);
};

async function reinstalledAlice(bob: TestParty) {
  const alice2 = await createTestParty('alice', 1, { provider });
  const a2 = alice2.cipher(bob);
  await a2.initiate(await bob.bundle());
  return { alice2, a2 };
}

describe('rollback is exact under every write failure, undo writes included', () => {
  it('first PreKey message (one-time keys, first-contact identity)', async () => {
    await everyFailure(async (faults) => {
      const { bob, events } = await bobFor(faults);
      const alice = await createTestParty('alice', 1, { provider });
      const a = alice.cipher(bob);
      await a.initiate(await bob.bundle());
      const m = await a.encrypt(utf8('first'));
      return {
        store: bob.store,
        events,
        run: () => bob.cipher(alice).decrypt(m),
        expectedEvents: 0,
        check: (r) => {
          text('first')(r);
          expect(r.identityChange).toEqual({ kind: 'new' });
          expect(r.newSession).toBe(true);
        },
      };
    });
  });

  it('PreKey message with a last-resort Kyber key (the irreversible mark is the last write)', async () => {
    await everyFailure(async (faults) => {
      const { bob, events } = await bobFor(faults);
      const alice = await createTestParty('alice', 1, { provider });
      const a = alice.cipher(bob);
      await a.initiate(await bob.bundle({ kyberPreKey: 'last-resort' }));
      const m = await a.encrypt(utf8('lr'));
      return {
        store: bob.store,
        events,
        run: () => bob.cipher(alice).decrypt(m),
        expectedEvents: 0,
        check: text('lr'),
      };
    });
  });

  it('blockOnChange: a replaced identity the user approved; the approval survives every undo', async () => {
    await everyFailure(async (faults) => {
      const { bob, events } = await bobFor(faults, 'blockOnChange');
      const alice = await createTestParty('alice', 1, { provider });
      await roundTrip(await initiated(alice, bob), bob.cipher(alice), 'old identity');
      const { alice2, a2 } = await reinstalledAlice(bob);
      const newKey = (await alice2.store.getIdentityKeyPair()).publicKey;
      await bob.store.approve(alice.address, newKey);
      const m = await a2.encrypt(utf8('new identity'));
      const oldKey = (await alice.store.getIdentityKeyPair()).publicKey;
      return {
        store: bob.store,
        events,
        run: () => bob.cipher(alice).decrypt(m),
        expectedEvents: 1,
        check: (r) => {
          text('new identity')(r);
          expect(r.identityChange.kind).toBe('replaced');
          expect((r.identityChange as { previous: PublicKey }).previous.equals(oldKey)).toBe(true);
          expect(events[0]?.current.equals(newKey)).toBe(true);
        },
      };
    });
  });

  it('whisper message with a DH ratchet step', async () => {
    await everyFailure(async (faults) => {
      const { bob, events } = await bobFor(faults);
      const alice = await createTestParty('alice', 1, { provider });
      const a = await initiated(alice, bob);
      const b = bob.cipher(alice);
      await roundTrip(a, b, 'hello');
      await roundTrip(b, a, 'hi');
      const m = await a.encrypt(utf8('new chain'));
      return {
        store: bob.store,
        events,
        run: () => b.decrypt(m),
        expectedEvents: 0,
        check: (r) => {
          text('new chain')(r);
          expect(r.identityChange).toEqual({ kind: 'none' });
        },
      };
    });
  });

  it('a late PreKey message of an archived session whose identity was replaced (stays archived)', async () => {
    const runs = await everyFailure(async (faults) => {
      const { bob, events } = await bobFor(faults);
      const alice = await createTestParty('alice', 1, { provider });
      const a = await initiated(alice, bob);
      const first = await a.encrypt(utf8('first'));
      const late = await a.encrypt(utf8('late'));
      const b = bob.cipher(alice);
      await b.decrypt(first);
      const { a2 } = await reinstalledAlice(bob);
      await b.decrypt(await a2.encrypt(utf8('new identity')));
      events.length = 0;
      return {
        store: bob.store,
        events,
        run: () => b.decrypt(late),
        expectedEvents: 0,
        check: (r) => {
          text('late')(r);
          expect(r.identityChange).toEqual({ kind: 'none' });
        },
      };
    });
    expect(runs).toBe(1); // one write: the session record
  });
});

describe('identity changes are reported once, and never undone by an old session', () => {
  it('tofu: a late message on the archived session of the old identity does not switch the identity back', async () => {
    const faults = new WriteFaults();
    const { bob, events } = await bobFor(faults);
    const alice = await createTestParty('alice', 1, { provider });
    const a = await initiated(alice, bob);
    const b = bob.cipher(alice);
    await roundTrip(a, b, 'old');
    await roundTrip(b, a, 'old reply');
    const late: EncryptedMessage = await a.encrypt(utf8('late, old identity'));
    const { alice2, a2 } = await reinstalledAlice(bob);
    const r1 = await b.decrypt(await a2.encrypt(utf8('new identity')));
    expect(r1.identityChange.kind).toBe('replaced');
    expect(events).toHaveLength(1);
    const newKey = (await alice2.store.getIdentityKeyPair()).publicKey;

    const r2 = await b.decrypt(late);
    expect(fromUtf8(r2.plaintext)).toBe('late, old identity');
    expect(r2.identityChange).toEqual({ kind: 'none' });
    expect((await bob.store.getIdentity(alice.address))?.equals(newKey)).toBe(true);
    expect(events).toHaveLength(1);
    // The new session stays current: Bob still talks to the new identity.
    const record = await bob.store.getSession(alice.address);
    const remoteIdentity = record?.currentState?.remoteIdentity;
    expect(remoteIdentity).toBeInstanceOf(Uint8Array);
    // The bytes compared, not the class: a decoded record's fields are SecretBytes views of its buffer.
    expect(copyBytes(remoteIdentity as Uint8Array)).toEqual(newKey.serialize());
    await roundTrip(b, a2, 'to the new identity');
  });
});

async function initiated(alice: TestParty, bob: TestParty) {
  const a = alice.cipher(bob);
  await a.initiate(await bob.bundle());
  return a;
}
