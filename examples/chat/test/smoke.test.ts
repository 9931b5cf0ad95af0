import { MIN_ARGON2_PARAMS } from '@e2ee-kit/backup-kdf';
import { afterAll, beforeAll, expect, it } from 'vitest';
import WebSocket from 'ws';
import { ChatClient, type ChatClientOptions } from '../client/src/index.js';
import { type Relay, silentLogger, startRelay } from '../server/src/index.js';

let relay: Relay;
let opts: () => ChatClientOptions;
beforeAll(async () => {
  relay = await startRelay({ logger: silentLogger });
  opts = () => ({ serverUrl: relay.url, webSocket: (url) => new WebSocket(url) as never });
});
afterAll(() => relay.close());

it('smoke', async () => {
  const alice = await ChatClient.register('alice', opts());
  const bob = await ChatClient.register('bob', opts());
  await alice.sendText('bob', 'hi bob');
  await bob.connect();
  expect((await bob.messages('dm:alice')).map((m) => m.text)).toEqual(['hi bob']);
  await bob.sendText('alice', 'hi alice');
  await alice.connect();
  expect((await alice.messages('dm:bob')).map((m) => m.text)).toEqual(['hi bob', 'hi alice']);
  const g = await alice.createGroup('g', ['bob']);
  await alice.sendGroupText(g.id, 'group hello');
  await bob.idle();
  await new Promise((r) => setTimeout(r, 300));
  await bob.idle();
  expect((await bob.messages(`group:${g.id}`)).map((m) => m.text)).toContain('group hello');
  const sn = await alice.safetyNumber('bob');
  const snb = await bob.safetyNumber('alice');
  expect(sn.digits).toBe(snb.digits);
  expect((await alice.verifySafetyNumber('bob', snb.payload)).status).toBe('match');
  const b = await alice.backup({
    password: 'correct horse battery',
    recoveryKey: true,
    argon2: MIN_ARGON2_PARAMS,
  });
  expect(b.recoveryKey).toMatch(/^(\d{4} ){15}\d{4}$/);
  alice.disconnect();
  const restored = await ChatClient.restore(
    'alice',
    await alice.recoveryCode(),
    { password: 'correct horse battery' },
    opts(),
  );
  await restored.client.connect();
  await restored.client.sendText('bob', 'from the new phone');
  await new Promise((r) => setTimeout(r, 300));
  await bob.idle();
  expect((await bob.messages('dm:alice')).map((m) => m.text)).toContain('from the new phone');
  bob.disconnect();
  restored.client.disconnect();
});
