// Two tabs (or processes) over one database, each with its own store object and therefore its own
// per-store lock (no shared `lockManager`): every operation that writes runs in the store's
// transaction, so a store that compares on commit refuses the later writer instead of letting it
// undo what the other tab wrote.
import { type Address, StoreError, utf8 } from '@e2ee-kit/core';
import {
  GroupCipher,
  KeyHolderRecord,
  SenderKeyMessage,
  SenderKeyRecord,
  type TransactionalSenderKeyStore,
} from '@e2ee-kit/sender-keys';
import { InMemorySenderKeyStore } from '@e2ee-kit/sender-keys/testing';
import { describe, expect, it } from 'vitest';

const D = '0c6d7e8f-1111-4222-8333-444455556666';
const alice: Address = { name: 'alice', deviceId: 1 };
const bob: Address = { name: 'bob', deviceId: 1 };
const carol: Address = { name: 'carol', deviceId: 1 };

type Rows = Map<string, Uint8Array>;
interface Gate {
  hold?: Promise<void> | undefined;
  rows: 'sk' | 'kh';
}

/**
 * One tab's store over the shared `rows`, as `@e2ee-kit/store-kv`'s stores behave: a call outside a
 * transaction reads or writes its row at once; a transaction buffers its writes and commits them
 * only if every row it read still holds what it read (compare-and-set), else throws `StoreError`.
 * `hold` makes this tab's reads of rows starting with `rows` wait (after reading) until it settles:
 * the other tab runs in between.
 */
function tab(rows: Rows) {
  const gate: Gate = { rows: 'sk' };
  const view = (
    read: (k: string) => Promise<Uint8Array | undefined>,
    write: (k: string, v: Uint8Array) => void,
  ) => ({
    loadSenderKey: async (s: Address, id: string) => {
      const b = await read(`sk ${s.name}.${s.deviceId} ${id}`);
      return b === undefined ? undefined : SenderKeyRecord.deserialize(b);
    },
    storeSenderKey: async (s: Address, id: string, r: SenderKeyRecord) =>
      write(`sk ${s.name}.${s.deviceId} ${id}`, r.serialize()),
    loadKeyHolders: async (s: Address, id: string) => {
      const b = await read(`kh ${s.name}.${s.deviceId} ${id}`);
      return b === undefined ? undefined : KeyHolderRecord.deserialize(b);
    },
    storeKeyHolders: async (s: Address, id: string, r: KeyHolderRecord) =>
      write(`kh ${s.name}.${s.deviceId} ${id}`, r.serialize()),
  });
  const readNow = async (k: string) => {
    const v = rows.get(k);
    if (k.startsWith(gate.rows)) await gate.hold;
    return v;
  };
  const store: TransactionalSenderKeyStore = {
    ...view(readNow, (k, v) => rows.set(k, v)),
    async transaction(fn) {
      const seen = new Map<string, Uint8Array | undefined>();
      const writes = new Map<string, Uint8Array>();
      const senderKeys = view(
        async (k) => {
          if (writes.has(k)) return writes.get(k);
          const v = await readNow(k);
          if (!seen.has(k)) seen.set(k, v);
          return v;
        },
        (k, v) => writes.set(k, v),
      );
      const out = await fn({ senderKeys });
      for (const [k, v] of seen)
        if (rows.get(k) !== v) throw new StoreError(`row ${k} changed since it was read`);
      for (const [k, v] of writes) rows.set(k, v);
      return out;
    },
  };
  return { store, gate };
}

/** Runs `slow` in tab 2 with its reads held, `fast` in tab 1 meanwhile, then lets tab 2 finish. */
async function race<T>(gate: Gate, slow: () => Promise<T>, fast: () => Promise<unknown>) {
  let release!: () => void;
  gate.hold = new Promise((r) => {
    release = r;
  });
  const settled = slow().then(
    (value) => ({ value }),
    (error: unknown) => ({ error }),
  );
  await new Promise((r) => setTimeout(r, 5));
  await fast();
  gate.hold = undefined;
  release();
  return settled;
}

/** Two tabs' stores over one database, and a cipher on each. */
function twoTabs() {
  const rows: Rows = new Map();
  const one = tab(rows);
  const two = tab(rows);
  return { two, tab1: new GroupCipher(one.store), tab2: new GroupCipher(two.store) };
}

describe('two tabs over one database, without a shared lock', () => {
  it('a distribution message processed in one tab while the other decrypts cannot rewind the chain (no replay)', async () => {
    const { two, tab1, tab2 } = twoTabs();
    const sender = new GroupCipher(new InMemorySenderKeyStore());
    await tab1.processDistributionMessage(alice, await sender.createDistributionMessage(alice, D));
    const m0 = await sender.encrypt(alice, D, utf8('once'));
    const rotated = await sender.rotate(alice, D);
    const outcome = await race(
      two.gate,
      () => tab2.processDistributionMessage(alice, rotated),
      () => tab1.decrypt(alice, m0),
    );
    expect('error' in outcome && outcome.error).toBeInstanceOf(StoreError);
    await tab2.processDistributionMessage(alice, rotated); // the retry reads the current record
    expect((await tab1.tryDecrypt(alice, m0)).status).toBe('duplicate');
    const m1 = await sender.encrypt(alice, D, utf8('new chain'));
    expect(new TextDecoder().decode((await tab1.decrypt(alice, m1)).plaintext)).toBe('new chain');
  });

  it('deliveries recorded in both tabs at once: none is silently lost, so a removal still rotates', async () => {
    const { two, tab1, tab2 } = twoTabs();
    const plan = await tab1.prepareSend(alice, D, [bob, carol]);
    two.gate.rows = 'kh'; // tab 2 reads the key-holder list before tab 1 writes it
    const outcome = await race(
      two.gate,
      () => tab2.markDelivered(alice, D, plan.chainId, [carol]),
      () => tab1.markDelivered(alice, D, plan.chainId, [bob]),
    );
    expect('error' in outcome && outcome.error).toBeInstanceOf(StoreError);
    expect(await tab2.markDelivered(alice, D, plan.chainId, [carol])).toBe(true);
    expect(await tab1.keyHolders(alice, D)).toEqual([bob, carol]);
    const after = await tab1.prepareSend(alice, D, [bob]);
    expect([after.rotation, after.removed]).toEqual(['member-removed', [carol]]);
  });

  it('the first distribution message created in two tabs at once: one chain, the other tab told', async () => {
    const { two, tab1, tab2 } = twoTabs();
    let first: Awaited<ReturnType<typeof tab1.createDistributionMessage>> | undefined;
    const outcome = await race(
      two.gate,
      () => tab2.createDistributionMessage(alice, D),
      async () => {
        first = await tab1.createDistributionMessage(alice, D);
      },
    );
    expect('error' in outcome && outcome.error).toBeInstanceOf(StoreError);
    expect((await tab2.createDistributionMessage(alice, D)).chainId).toBe(first?.chainId);
  });

  it('two tabs encrypting at once never send one iteration twice (checked on the wire)', async () => {
    const { two, tab1, tab2 } = twoTabs();
    const bobCipher = new GroupCipher(new InMemorySenderKeyStore());
    await bobCipher.processDistributionMessage(alice, await tab1.createDistributionMessage(alice, D));
    const wire: Uint8Array[] = [];
    const outcome = await race(
      two.gate,
      () => tab2.encrypt(alice, D, utf8('from tab 2')),
      async () => wire.push(await tab1.encrypt(alice, D, utf8('from tab 1'))),
    );
    // tab 2 built its message from the iteration tab 1 used: refused at commit, never returned
    expect('error' in outcome && outcome.error).toBeInstanceOf(StoreError);
    wire.push(await tab2.encrypt(alice, D, utf8('from tab 2')));
    wire.push(await tab1.encrypt(alice, D, utf8('from tab 1 again')));
    expect(wire.map((w) => SenderKeyMessage.deserialize(w).iteration)).toEqual([0, 1, 2]);
    const read = [];
    for (const w of wire) read.push(new TextDecoder().decode((await bobCipher.decrypt(alice, w)).plaintext));
    expect(read).toEqual(['from tab 1', 'from tab 2', 'from tab 1 again']);
  });

  it('a removal rotating in one tab while the other encrypts: the removed device cannot read what is sent', async () => {
    const { two, tab1, tab2 } = twoTabs();
    const devices = new Map([bob, carol].map((d) => [d.name, new GroupCipher(new InMemorySenderKeyStore())]));
    const plan = await tab1.prepareSend(alice, D, [bob, carol]);
    for (const c of devices.values()) await c.processDistributionMessage(alice, plan.distributionMessage);
    await tab1.markDelivered(alice, D, plan.chainId, [bob, carol]);
    let removal: Awaited<ReturnType<typeof tab1.prepareSend>> | undefined;
    const outcome = await race(
      two.gate,
      () => tab2.encrypt(alice, D, utf8('after carol left')),
      async () => {
        removal = await tab1.prepareSend(alice, D, [bob]);
      },
    );
    expect(removal?.rotation).toBe('member-removed');
    expect('error' in outcome && outcome.error).toBeInstanceOf(StoreError); // not sent on the old chain
    await devices.get('bob')?.processDistributionMessage(alice, removal?.distributionMessage as never);
    const wire = await tab2.encrypt(alice, D, utf8('after carol left'));
    expect(SenderKeyMessage.deserialize(wire).chainId).toBe(removal?.chainId);
    expect((await devices.get('carol')?.tryDecrypt(alice, wire))?.status).toBe('missing-sender-key');
    expect((await devices.get('bob')?.tryDecrypt(alice, wire))?.status).toBe('decrypted');
  });
});
