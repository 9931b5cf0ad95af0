// Two processes on one SQLite file (two connections, two SqliteStores, each with its own in-process
// lock and no shared lockManager), each with a SessionCipher to the same peer: the commit's
// compare-and-set on the session row is all that orders them. No message key is used twice, a
// message two of them decrypt at once is delivered (committed) once.
import { createAddress, E2eeError, toHex } from '@e2ee-kit/core';
import * as ratchet from '@e2ee-kit/ratchet';
import { type EncryptedMessage, PreKeySignalMessage, SessionCipher, SignalMessage } from '@e2ee-kit/ratchet';
import { createTestParty } from '@e2ee-kit/ratchet/testing';
import { SqliteStore } from '@e2ee-kit/store-sqlite';
import { describe, expect, it } from 'vitest';
import { tempDatabases } from './helpers.js';

const dbs = tempDatabases();
const BOB = createAddress('bob', 1);
const utf8 = (s: string) => new TextEncoder().encode(s);
const text = (b: Uint8Array) => new TextDecoder().decode(b);

async function bobInTwoProcesses() {
  const path = dbs.path();
  const one = await SqliteStore.open(dbs.open(path), { ratchet });
  const two = await SqliteStore.open(dbs.open(path), { ratchet });
  const alice = await createTestParty('alice', 1);
  const toBob = alice.cipher(BOB);
  await toBob.initiate(await ratchet.createPreKeyBundle(one.protocol, { deviceId: 1 }));
  await new SessionCipher(one.protocol, alice.address).decrypt(await toBob.encrypt(utf8('hello')));
  const ciphers = [
    new SessionCipher(one.protocol, alice.address),
    new SessionCipher(two.protocol, alice.address),
  ] as const;
  return { stores: [one, two] as const, ciphers, alice, toBob };
}

function keyId(m: EncryptedMessage): string {
  const s =
    m.type === 'prekey' ? PreKeySignalMessage.deserialize(m.body).message : SignalMessage.deserialize(m.body);
  return `${toHex(s.ratchetKey.serialize())}#${s.counter}`;
}

describe('SessionCipher in two processes on one SQLite file, each with its own lock', () => {
  it('40 encrypts alternating between the two connections at once: every message key used once', async () => {
    const { ciphers, alice } = await bobInTwoProcesses();
    let refused = 0;
    const send = async (i: number): Promise<EncryptedMessage> => {
      for (;;) {
        try {
          return await (ciphers[i % 2] as SessionCipher).encrypt(utf8(`m${i}`));
        } catch (err) {
          if (!E2eeError.is(err, 'STORE')) throw err;
          refused++;
        }
      }
    };
    const sent = await Promise.all(Array.from({ length: 40 }, (_, i) => send(i)));
    expect(refused).toBeGreaterThan(0); // they raced, and the later commit was refused
    const ids = sent.map(keyId);
    expect(new Set(ids).size).toBe(ids.length);
    const fromBob = alice.cipher(BOB);
    for (let i = 0; i < sent.length; i++)
      expect(text((await fromBob.decrypt(sent[i] as EncryptedMessage)).plaintext)).toBe(`m${i}`);
  });

  it('one message decrypted on both connections at once: one commit with its app row, then a duplicate', async () => {
    const { stores, ciphers, toBob } = await bobInTwoProcesses();
    const wire = await toBob.encrypt(utf8('once'));
    const results = await Promise.allSettled(
      ciphers.map((c) => c.decrypt(wire, { deliver: (m, tx) => tx.app.put('inbox', m.plaintext) })),
    );
    expect(results.map((r) => r.status).sort()).toEqual(['fulfilled', 'rejected']);
    const failed = results.find((r) => r.status === 'rejected') as PromiseRejectedResult;
    expect(E2eeError.is(failed.reason, 'STORE')).toBe(true);
    expect(await stores[1].app.get('inbox')).toEqual(utf8('once'));
    for (const c of ciphers)
      await expect(c.decrypt(wire)).rejects.toMatchObject({ code: 'DUPLICATE_MESSAGE' });
  });
});
