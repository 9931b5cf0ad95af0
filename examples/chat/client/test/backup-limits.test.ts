/**
 * A restore refuses a downloaded backup whose password slot asks for more Argon2 work than the app
 * ever creates (a hostile or corrupted relay could hand back 1 GiB slots), before any key derivation.
 */
import {
  type Argon2Provider,
  createBackup,
  DEFAULT_ARGON2_PARAMS,
  MIN_ARGON2_PARAMS,
  splitBackupFile,
} from '@e2ee-kit/backup-kdf';
import { afterEach, beforeEach, expect, it } from 'vitest';
import WebSocket from 'ws';
import { type Relay, silentLogger, startRelay } from '../../server/src/index.js';
import { BackupLimitError, ChatClient, type ChatClientOptions } from '../src/index.js';
import { memoryStore } from '../src/memory-store.js';

let relay: Relay;
const clients: ChatClient[] = [];
const opts = (): ChatClientOptions => ({
  serverUrl: relay.url,
  store: memoryStore(),
  webSocket: (url) => new WebSocket(url) as never,
});

beforeEach(async () => {
  relay = await startRelay({ logger: silentLogger });
});
afterEach(async () => {
  for (const c of clients.splice(0)) c.disconnect();
  await relay.close();
});

// Stands in for Argon2 while the hostile file is made: a real 1 GiB derivation is the very thing refused.
const fakeArgon2: Argon2Provider = {
  name: 'fake',
  supportsAssociatedData: false,
  argon2id: async () => new Uint8Array(32).fill(7),
};

const hostile: [string, { memoryKiB: number; iterations: number; parallelism: number }, string][] = [
  ['1 GiB of memory', { ...DEFAULT_ARGON2_PARAMS, memoryKiB: 1024 * 1024 }, 'memoryKiB'],
  ['65 MiB of memory', { ...DEFAULT_ARGON2_PARAMS, memoryKiB: 65 * 1024 }, 'memoryKiB'],
  ['10 passes', { ...DEFAULT_ARGON2_PARAMS, iterations: 10 }, 'iterations'],
  ['16 lanes', { ...DEFAULT_ARGON2_PARAMS, parallelism: 16 }, 'parallelism'],
];

it.each(hostile)(
  'refuses a backup slot demanding %s, with a typed error',
  async (_what, argon2, parameter) => {
    const alice = await ChatClient.register('alice', opts());
    clients.push(alice);
    const code = await alice.recoveryCode();
    const made = await createBackup(new Uint8Array([1, 2, 3]), {
      password: 'long enough password',
      argon2,
      argon2Provider: fakeArgon2,
      // The attacker's backup: made above the readers' default caps on purpose (backup-kdf refuses
      // to create one without this opt-in).
      maxArgon2MemoryKiB: 1024 * 1024,
    });
    const file = await made.output.bytes();
    made.keyring.destroy();
    const { slots, body } = splitBackupFile(file);
    await alice.api.putBackup(slots, body);
    const err = await ChatClient.restore('alice', code, { password: 'long enough password' }, opts()).catch(
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(BackupLimitError);
    expect((err as BackupLimitError).name).toBe('BackupLimitError');
    expect((err as BackupLimitError).parameter).toBe(parameter);
    expect((err as Error).message).toContain('this app');
  },
);

it('creates nothing a restore would refuse, and restores what it creates', async () => {
  const alice = await ChatClient.register('alice', opts());
  clients.push(alice);
  await expect(
    alice.backup({ password: 'long enough password', argon2: { ...MIN_ARGON2_PARAMS, iterations: 4 } }),
  ).rejects.toBeInstanceOf(BackupLimitError);
  // At the floor (fast) the same path restores: the check lets through everything the app makes.
  await alice.backup({ password: 'long enough password', argon2: MIN_ARGON2_PARAMS });
  const { client } = await ChatClient.restore(
    'alice',
    await alice.recoveryCode(),
    { password: 'long enough password' },
    opts(),
  );
  clients.push(client);
  expect(client.identityKey.equals(alice.identityKey)).toBe(true);
});
