/**
 * Backups as users know them: a password change uploads only the new key slots (the encrypted
 * payload on the relay stays byte for byte), the 64-digit key keeps working, and the wrong-password
 * lockout is kept on the device, so it holds across a reload.
 */
import {
  type AttemptStore,
  IncorrectSecretError,
  LockedOutError,
  MIN_ARGON2_PARAMS,
} from '@e2ee-kit/backup-kdf';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { deferred } from '../../../../tools/deferred.js';
import { type Relay, silentLogger, startRelay } from '../../server/src/index.js';
import { ChatClient, type ChatClientOptions, RelayError } from '../src/index.js';
import { memoryStore } from '../src/memory-store.js';

let relay: Relay;
const clients: ChatClient[] = [];
const opts = (extra: Partial<ChatClientOptions> = {}): ChatClientOptions => ({
  serverUrl: relay.url,
  webSocket: (url) => new WebSocket(url) as never,
  store: memoryStore(),
  ...extra,
});

beforeEach(async () => {
  relay = await startRelay({ logger: silentLogger });
});
afterEach(async () => {
  for (const c of clients.splice(0)) c.disconnect();
  await relay.close();
});

async function aliceWithBackup() {
  const alice = await ChatClient.register('alice', opts());
  clients.push(alice);
  const created = await alice.backup({
    password: 'first password',
    recoveryKey: true,
    argon2: MIN_ARGON2_PARAMS,
  });
  return { alice, key: created.recoveryKey!, code: await alice.recoveryCode() };
}

describe('backup', () => {
  it('changes the password by uploading new slots only; the old password stops working, the key does not', async () => {
    const { alice, key, code } = await aliceWithBackup();
    const before = await alice.api.getBackup('alice');
    expect((await alice.backupInfo())?.withRecoveryKey).toBe(true);
    await alice.changeBackupPassword({ password: 'first password' }, 'second password');
    const after = await alice.api.getBackup('alice');
    expect(Buffer.from(after.payload).equals(Buffer.from(before.payload))).toBe(true);
    expect(Buffer.from(after.slots).equals(Buffer.from(before.slots))).toBe(false);

    await expect(
      ChatClient.restore('alice', code, { password: 'first password' }, opts()),
    ).rejects.toBeInstanceOf(IncorrectSecretError);
    const byKey = await ChatClient.restore('alice', code, { recoveryKey: key }, opts());
    clients.push(byKey.client);
    const byPassword = await ChatClient.restore('alice', code, { password: 'second password' }, opts());
    clients.push(byPassword.client);
    expect(byPassword.client.identityKey.equals(alice.identityKey)).toBe(true);
  });

  it('a password change whose backup was replaced meanwhile is refused, and the new backup still opens', async () => {
    // Another device (or this one) uploads a new backup while a password change is between reading
    // the slots and writing them: the stale slots must not land on the new payload, whose data key
    // they do not wrap (the backup could then be opened by no password and no key).
    let holdSlots: { promise: Promise<void>; resolve: () => void } | undefined;
    const reached = deferred();
    const fetch: typeof globalThis.fetch = async (input, init) => {
      if (holdSlots && String(input).endsWith('/v1/backup/slots')) {
        reached.resolve();
        await holdSlots.promise;
      }
      return globalThis.fetch(input, init);
    };
    const alice = await ChatClient.register('alice', opts({ fetch }));
    clients.push(alice);
    await alice.backup({ password: 'first password', argon2: MIN_ARGON2_PARAMS });
    const code = await alice.recoveryCode();
    holdSlots = deferred();
    const change = alice.changeBackupPassword({ password: 'first password' }, 'second password');
    const settled = change.then(
      () => undefined,
      (e: unknown) => e,
    );
    await reached.promise;
    const held = holdSlots;
    holdSlots = undefined;
    await alice.backup({ password: 'third password', argon2: MIN_ARGON2_PARAMS });
    held.resolve();
    const refused = await settled;
    expect(refused).toBeInstanceOf(RelayError);
    expect((refused as RelayError).status).toBe(409);
    const restored = await ChatClient.restore('alice', code, { password: 'third password' }, opts());
    clients.push(restored.client);
    expect(restored.client.identityKey.equals(alice.identityKey)).toBe(true);
  });

  it('refuses a password change with a wrong current password and leaves the backup as it was', async () => {
    const { alice } = await aliceWithBackup();
    const before = await alice.api.getBackup('alice');
    await expect(
      alice.changeBackupPassword({ password: 'not the password' }, 'second password'),
    ).rejects.toBeInstanceOf(IncorrectSecretError);
    const after = await alice.api.getBackup('alice');
    expect(Buffer.from(after.slots).equals(Buffer.from(before.slots))).toBe(true);
  });

  it('keeps the five-attempt lockout on the device across a reload', async () => {
    const { code } = await aliceWithBackup();
    // The new phone's attempt records (kept apart from its store in the browser, since a restore
    // starts that store afresh).
    const records = new Map<string, Uint8Array>();
    const device: AttemptStore = {
      get: async (k) => records.get(k)?.slice(),
      set: async (k, v) => {
        records.set(k, v.slice());
      },
    };
    const remaining: (number | undefined)[] = [];
    for (let i = 0; i < 5; i++) {
      const err = await ChatClient.restore(
        'alice',
        code,
        { password: `wrong guess ${i}` },
        opts({ backupAttempts: device }),
      ).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(IncorrectSecretError);
      remaining.push((err as IncorrectSecretError).remainingAttempts);
    }
    expect(remaining).toEqual([4, 3, 2, 1, 0]);
    // "Reload": a new restore call, a new policy object, the same records — even the right password waits.
    const locked = await ChatClient.restore(
      'alice',
      code,
      { password: 'first password' },
      opts({ backupAttempts: device }),
    ).catch((e: unknown) => e);
    expect(locked).toBeInstanceOf(LockedOutError);
    expect((locked as LockedOutError).until.getTime()).toBeGreaterThan(Date.now());
    // The count belongs to that device: another one is not locked.
    const elsewhere = await ChatClient.restore('alice', code, { password: 'first password' }, opts());
    clients.push(elsewhere.client);
  });
});
