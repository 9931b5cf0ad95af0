import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, expect, it } from 'vitest';
import { silentLogger, startRelay } from '../src/index.js';
import { b64, call, FrameClient, makeDevice, register } from './helpers.js';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

it('message queues, accounts and tokens survive a server restart', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'relay-restart-'));
  dirs.push(dir);
  const dbPath = join(dir, 'relay.db');
  const first = await startRelay({ dbPath, logger: silentLogger });
  const alice = await register(first.url, 'alice', await makeDevice());
  const bob = await register(first.url, 'bob', await makeDevice());
  const bodies = ['first', 'second', 'third'].map((t) => b64(new TextEncoder().encode(t)));
  const sent = await call(first.url, 'POST', '/v1/messages', {
    token: alice.token,
    json: { messages: bodies.map((body) => ({ to: bob.aci, deviceId: 1, kind: 'whisper', body })) },
  });
  expect(sent.status).toBe(200);
  // Bob reads the first one and acknowledges it before the restart.
  const before = await FrameClient.open(first.wsUrl, bob.token);
  await before.next((f) => f.type === 'queue-empty');
  before.send({ type: 'ack', id: before.envelopes()[0]!['id'] });
  await expect.poll(() => first.store.pending(bob.aci, 1).length).toBe(2);
  await first.close();

  const second = await startRelay({ dbPath, logger: silentLogger });
  try {
    const after = await FrameClient.open(second.wsUrl, bob.token);
    await after.next((f) => f.type === 'queue-empty');
    expect(after.envelopes().map((e) => e['body'])).toEqual(bodies.slice(1));
    expect(after.envelopes().every((e) => e['from'] === alice.aci)).toBe(true);
    after.close();
  } finally {
    await second.close();
  }
});
