// Two tabs (or processes) on one database: two KvStores over one backend, each with its own
// in-process lock (no shared lockManager), each with its own SessionCipher to the same peer. Only the
// commit's compare-and-set on the session row orders them: no message key may be used twice, a
// message is delivered (committed) once, and nothing one tab committed is overwritten by the other.
import { createAddress, E2eeError, toHex } from '@e2ee-kit/core';
import * as ratchet from '@e2ee-kit/ratchet';
import { type EncryptedMessage, PreKeySignalMessage, SessionCipher, SignalMessage } from '@e2ee-kit/ratchet';
import { createTestParty } from '@e2ee-kit/ratchet/testing';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { deferred } from '../../../tools/deferred.js';
import { KvStore } from '../src/index.js';
import { MemoryKvBackend } from '../src/testing/index.js';

const BOB = createAddress('bob', 1);
const utf8 = (s: string) => new TextEncoder().encode(s);
const text = (b: Uint8Array) => new TextDecoder().decode(b);

/** Bob in two tabs over one backend, with a session to Alice that both tabs see. */
async function bobInTwoTabs() {
  const backend = new MemoryKvBackend();
  const tab1 = await KvStore.open(backend, { ratchet });
  const tab2 = await KvStore.open(backend, { ratchet });
  const alice = await createTestParty('alice', 1);
  const toBob = alice.cipher(BOB);
  await toBob.initiate(await ratchet.createPreKeyBundle(tab1.protocol, { deviceId: 1 }));
  await new SessionCipher(tab1.protocol, alice.address).decrypt(await toBob.encrypt(utf8('hello')));
  const ciphers = [
    new SessionCipher(tab1.protocol, alice.address),
    new SessionCipher(tab2.protocol, alice.address),
  ] as const;
  return { backend, tabs: [tab1, tab2] as const, ciphers, alice, toBob };
}

/** Which message key a message used: its sender ratchet key and counter. */
function keyId(m: EncryptedMessage): string {
  const s =
    m.type === 'prekey' ? PreKeySignalMessage.deserialize(m.body).message : SignalMessage.deserialize(m.body);
  return `${toHex(s.ratchetKey.serialize())}#${s.counter}`;
}

/** Retries an operation the other tab's commit refused (StoreError); anything else is thrown. */
async function untilCommitted<T>(fn: () => Promise<T>, refused: { n: number }): Promise<T> {
  for (;;) {
    try {
      return await fn();
    } catch (err) {
      if (!E2eeError.is(err, 'STORE')) throw err;
      refused.n++;
    }
  }
}

describe('SessionCipher in two tabs over one KvStore backend, each with its own lock', () => {
  it('concurrent encrypts in both tabs (random interleavings): every message key is used once and decrypts', async () => {
    const refused = { n: 0 };
    await fc.assert(
      fc.asyncProperty(fc.array(fc.nat(1), { minLength: 2, maxLength: 12 }), async (tabsOf) => {
        const { ciphers, alice } = await bobInTwoTabs();
        const fromBob = alice.cipher(BOB);
        const sent = await Promise.all(
          tabsOf.map((t, i) =>
            untilCommitted(() => (ciphers[t] as SessionCipher).encrypt(utf8(`m${i}`)), refused),
          ),
        );
        const ids = sent.map(keyId);
        expect(new Set(ids).size).toBe(ids.length);
        // Every message decrypts at Alice, in any order of arrival (here: reversed).
        for (let i = sent.length - 1; i >= 0; i--)
          expect(text((await fromBob.decrypt(sent[i] as EncryptedMessage)).plaintext)).toBe(`m${i}`);
      }),
      { numRuns: 15 },
    );
    expect(refused.n).toBeGreaterThan(0); // the tabs did race (and the later commit was refused)
  });

  it('the control: two ciphers over one KvStore object share its lock, so the same sends never collide', async () => {
    const { tabs, alice } = await bobInTwoTabs();
    const one = [0, 1].map(() => new SessionCipher(tabs[0].protocol, alice.address));
    const refused = { n: 0 };
    const sent = await Promise.all(
      Array.from({ length: 12 }, (_, i) =>
        untilCommitted(() => (one[i % 2] as SessionCipher).encrypt(utf8(`m${i}`)), refused),
      ),
    );
    expect(refused.n).toBe(0);
    expect(new Set(sent.map(keyId)).size).toBe(12);
  });

  it('the same message decrypted in both tabs at once: one delivery commits, the other is refused, a retry is a duplicate', async () => {
    const { tabs, ciphers, toBob } = await bobInTwoTabs();
    const wire = await toBob.encrypt(utf8('once'));
    const delivered: number[] = [];
    const results = await Promise.allSettled(
      ciphers.map((c, i) =>
        c.decrypt(wire, {
          deliver: (m, tx) => {
            delivered.push(i);
            return tx.app.put('inbox', m.plaintext);
          },
        }),
      ),
    );
    const ok = results.filter((r) => r.status === 'fulfilled');
    expect(ok).toHaveLength(1);
    const failed = results.find((r) => r.status === 'rejected') as PromiseRejectedResult;
    expect(E2eeError.is(failed.reason, 'STORE')).toBe(true);
    expect(await tabs[0].app.get('inbox')).toEqual(utf8('once'));
    const loser = results[0]?.status === 'rejected' ? 0 : 1;
    await expect((ciphers[loser] as SessionCipher).decrypt(wire)).rejects.toMatchObject({
      code: 'DUPLICATE_MESSAGE',
    });
  });

  it('one tab decrypts while the other encrypts: nothing lost, the committed state is both', async () => {
    const { ciphers, alice, toBob } = await bobInTwoTabs();
    const fromBob = alice.cipher(BOB);
    const incoming = await toBob.encrypt(utf8('in'));
    const refused = { n: 0 };
    const [got, out] = await Promise.all([
      untilCommitted(() => ciphers[0].decrypt(incoming), refused),
      untilCommitted(() => ciphers[1].encrypt(utf8('out')), refused),
    ]);
    expect(text(got.plaintext)).toBe('in');
    expect(text((await fromBob.decrypt(out)).plaintext)).toBe('out');
    // The stored state still knows the incoming message (a duplicate) and sends on a fresh key.
    await expect(ciphers[1].decrypt(incoming)).rejects.toMatchObject({
      code: 'DUPLICATE_MESSAGE',
    });
    const next = await ciphers[0].encrypt(utf8('next'));
    expect(keyId(next)).not.toBe(keyId(out));
    expect(text((await fromBob.decrypt(next)).plaintext)).toBe('next');
  });
});

describe('a slow deliver in one tab while the other tab decrypts', () => {
  it('the other tab commits the next message; the slow one is refused, and its retry still delivers it once', async () => {
    const { tabs, ciphers, toBob } = await bobInTwoTabs();
    const [w1, w2] = [await toBob.encrypt(utf8('one')), await toBob.encrypt(utf8('two'))];
    const { promise: gate, resolve: release } = deferred();
    const { promise: inDeliver, resolve: entered } = deferred();
    const slow = ciphers[0]
      .decrypt(w1, {
        deliver: async (m, tx) => {
          await tx.app.put('inbox:1', m.plaintext);
          entered();
          await gate;
        },
      })
      .then(
        () => 'committed',
        (err: unknown) => (E2eeError.is(err, 'STORE') ? 'refused' : err),
      );
    await inDeliver;
    await ciphers[1].decrypt(w2, { deliver: (m, tx) => tx.app.put('inbox:2', m.plaintext) });
    release();
    expect(await slow).toBe('refused');
    expect(await tabs[0].app.get('inbox:1')).toBeUndefined();
    // The retry reads tab 2's state, which kept message one's key when it skipped over it.
    await ciphers[0].decrypt(w1, { deliver: (m, tx) => tx.app.put('inbox:1', m.plaintext) });
    expect(await tabs[1].app.get('inbox:1')).toEqual(utf8('one'));
    expect(await tabs[1].app.get('inbox:2')).toEqual(utf8('two'));
    await expect(ciphers[1].decrypt(w1)).rejects.toMatchObject({ code: 'DUPLICATE_MESSAGE' });
  });
});

describe('deliver re-entering SessionCipher on a KvStore (inside the transaction)', () => {
  it('a reply encrypted from deliver is refused with REENTRANT_CALL; nothing is written; a retry delivers', async () => {
    const { backend, tabs, ciphers, toBob } = await bobInTwoTabs();
    const cipher = ciphers[0];
    const wire = await toBob.encrypt(utf8('ping'));
    const before = backend.snapshot();
    await expect(
      cipher.decrypt(wire, { deliver: async () => void (await cipher.encrypt(utf8('pong'))) }),
    ).rejects.toMatchObject({ code: 'REENTRANT_CALL' });
    expect(backend.snapshot()).toEqual(before);
    await cipher.decrypt(wire, { deliver: (m, tx) => tx.app.put('inbox', m.plaintext) });
    expect(await tabs[0].app.get('inbox')).toEqual(utf8('ping'));
  });

  it('a reply through a SessionCipher over tx.protocol commits with the decrypt, in its transaction', async () => {
    const { backend, tabs, ciphers, alice, toBob } = await bobInTwoTabs();
    const wire = await toBob.encrypt(utf8('ping'));
    let reply: EncryptedMessage | undefined;
    let commits = 0;
    backend.onCommit = () => void commits++;
    await ciphers[0].decrypt(wire, {
      deliver: async (m, tx) => {
        await tx.app.put('inbox', m.plaintext);
        reply = await new SessionCipher(tx.protocol, alice.address).encrypt(utf8('pong'));
      },
    });
    expect(commits).toBe(1);
    expect(await tabs[1].app.get('inbox')).toEqual(utf8('ping'));
    expect(text((await toBob.decrypt(reply as EncryptedMessage)).plaintext)).toBe('pong');
    // The committed state has both: the next send uses the key after the reply's.
    const next = await ciphers[1].encrypt(utf8('next'));
    expect(keyId(next)).not.toBe(keyId(reply as EncryptedMessage));
    expect(text((await toBob.decrypt(next)).plaintext)).toBe('next');
  });

  it("a PreKey decrypt from another address inside a PreKey message's deliver is refused (the pre-key lock)", async () => {
    const backend = new MemoryKvBackend();
    const bob = await KvStore.open(backend, { ratchet });
    const [alice, carol] = await Promise.all([createTestParty('alice', 1), createTestParty('carol', 1)]);
    const first = async (p: typeof alice) => {
      const c = p.cipher(BOB);
      await c.initiate(await ratchet.createPreKeyBundle(bob.protocol, { deviceId: 1 }));
      return c.encrypt(utf8(p.name));
    };
    const [fromAlice, fromCarol] = [await first(alice), await first(carol)];
    const carolCipher = new SessionCipher(bob.protocol, carol.address);
    await expect(
      new SessionCipher(bob.protocol, alice.address).decrypt(fromAlice, {
        deliver: async () => void (await carolCipher.decrypt(fromCarol)),
      }),
    ).rejects.toMatchObject({ code: 'REENTRANT_CALL' });
    expect(text((await carolCipher.decrypt(fromCarol)).plaintext)).toBe('carol');
  });
});
