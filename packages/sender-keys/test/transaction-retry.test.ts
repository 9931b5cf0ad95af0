// Real stores run a transaction's callback again when the first attempt is thrown away (a write
// conflict, SQLITE_BUSY). Whatever an attempt noted outside the callback must not outlive it: the
// answer is the committed attempt's, and the message-level failure of a re-run is still data.
import { type Address, utf8 } from '@e2ee-kit/core';
import {
  GroupCipher,
  KeyHolderRecord,
  SenderKeyRecord,
  type SenderKeyStore,
  type TransactionalSenderKeyStore,
} from '@e2ee-kit/sender-keys';
import { InMemorySenderKeyStore } from '@e2ee-kit/sender-keys/testing';
import { expect, it } from 'vitest';

const D = '7e7e7e7e-0000-4000-8000-00000000a11c';
const alice: Address = Object.freeze({ name: 'alice', deviceId: 1 });
const bob: Address = Object.freeze({ name: 'bob', deviceId: 1 });

/** A store of bytes (as a database keeps them) whose rows can be copied and put back. */
function rows() {
  const sk = new Map<string, Uint8Array>();
  const kh = new Map<string, Uint8Array>();
  const key = (s: Address, id: string) => `${s.name}.${s.deviceId} ${id}`;
  const store: SenderKeyStore = {
    loadSenderKey: async (s, id) => {
      const b = sk.get(key(s, id));
      return b === undefined ? undefined : SenderKeyRecord.deserialize(b);
    },
    storeSenderKey: async (s, id, r) => void sk.set(key(s, id), r.serialize()),
    loadKeyHolders: async (s, id) => {
      const b = kh.get(key(s, id));
      return b === undefined ? undefined : KeyHolderRecord.deserialize(b);
    },
    storeKeyHolders: async (s, id, r) => void kh.set(key(s, id), r.serialize()),
  };
  const snapshot = () => [new Map(sk), new Map(kh)] as const;
  const restore = ([a, b]: ReturnType<typeof snapshot>) => {
    sk.clear();
    kh.clear();
    for (const [k, v] of a) sk.set(k, v);
    for (const [k, v] of b) kh.set(k, v);
  };
  return { store, snapshot, restore };
}

/**
 * Over `db`, a store whose `transaction` runs the callback, rolls its writes back, lets `between`
 * run (the other tab whose commit made this attempt conflict), and runs the callback again.
 */
function retryingOnce(
  db: ReturnType<typeof rows>,
  between: () => Promise<unknown> = async () => {},
): TransactionalSenderKeyStore & { attempts: number } {
  const out = {
    ...db.store,
    attempts: 0,
    async transaction<T>(fn: (tx: { readonly senderKeys: SenderKeyStore }) => Promise<T>): Promise<T> {
      if (out.attempts++ === 0) {
        const before = db.snapshot();
        await fn({ senderKeys: db.store }).catch(() => {});
        db.restore(before); // conflict: the first attempt's writes are thrown away
        await between();
        out.attempts++;
      }
      return fn({ senderKeys: db.store });
    },
  };
  return out;
}

async function receiving() {
  const sender = new GroupCipher(new InMemorySenderKeyStore());
  const db = rows();
  await new GroupCipher(db.store).processDistributionMessage(
    alice,
    await sender.createDistributionMessage(alice, D),
  );
  return { sender, db };
}

it('tryDecrypt with deliver: the re-run finds the message already decrypted by the other tab → duplicate, not thrown', async () => {
  const { sender, db } = await receiving();
  const wire = await sender.encrypt(alice, D, utf8('once'));
  // The other tab decrypts another copy of the same message and commits first.
  const otherTab = new GroupCipher({ ...db.store });
  const tx = retryingOnce(db, () => otherTab.decrypt(alice, wire));
  const delivered: string[] = [];
  const outcome = await new GroupCipher(tx).tryDecrypt(alice, wire, {
    deliver: (m) => void delivered.push(new TextDecoder().decode(m.plaintext)),
  });
  expect(tx.attempts).toBe(2);
  expect(delivered).toEqual(['once']); // the discarded attempt's delivery, rolled back with it
  expect(outcome.status).toBe('duplicate');
});

it('tryDecrypt: an error thrown by deliver itself is still the app’s, rethrown as it is', async () => {
  const { sender, db } = await receiving();
  const wire = await sender.encrypt(alice, D, utf8('once'));
  const tx = retryingOnce(db);
  const appError = new Error('the app database is full');
  await expect(
    new GroupCipher(tx).tryDecrypt(alice, wire, {
      deliver: () => {
        throw appError;
      },
    }),
  ).rejects.toBe(appError);
  expect(tx.attempts).toBe(2);
});

it('encrypt and prepareSend run twice: the answer is the committed attempt’s (its chain, its iteration)', async () => {
  const db = rows();
  const tx = retryingOnce(db);
  const cipher = new GroupCipher(tx);
  const plan = await cipher.prepareSend(alice, D, [bob]);
  expect(tx.attempts).toBe(2);
  expect(plan.rotation).toBe('created');
  expect(plan.chainId).toBe((await cipher.createDistributionMessage(alice, D)).chainId);
  expect(await cipher.keyHolders(alice, D)).toEqual([]);
  const receiver = new GroupCipher(new InMemorySenderKeyStore());
  await receiver.processDistributionMessage(alice, plan.distributionMessage);
  const tx2 = retryingOnce(db);
  const wire = await new GroupCipher(tx2).encrypt(alice, D, utf8('first'));
  expect(tx2.attempts).toBe(2);
  const m = await receiver.decrypt(alice, wire);
  expect(m.iteration).toBe(0);
  expect(new TextDecoder().decode(m.plaintext)).toBe('first');
  const next = await cipher.encrypt(alice, D, utf8('second'));
  expect((await receiver.decrypt(alice, next)).iteration).toBe(1);
});
