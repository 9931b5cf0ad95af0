/**
 * The relay's WebSocket is as untrusted as the relay: every frame it sends is checked before use.
 * A socket server that answers the auth frame and then sends frames of every wrong shape — not
 * objects, envelopes with missing or mistyped fields, bad base64, out-of-range ids and device ids —
 * must not throw out of the client's message handler (in Node an exception there is an uncaught
 * exception: the process dies), must acknowledge nothing it could not read, and must go on with the
 * well-formed frames after them. The HTTP answer with the same envelopes is checked the same way.
 */
import type { AddressInfo } from 'node:net';
import { E2eeError } from '@e2ee-kit/core';
import { expect, it } from 'vitest';
import WebSocket, { WebSocketServer } from 'ws';
import { ChatClient, RelayApi } from '../src/index.js';
import { perTestRelay } from './per-test-relay.js';

const bed = perTestRelay();

const MALFORMED: readonly string[] = [
  'null',
  '[]',
  '"envelope"',
  '42',
  '{"type":"envelope"}',
  '{"type":"envelope","id":1,"kind":"whisper","from":"x","fromDevice":1,"serverTimestamp":1}',
  '{"type":"envelope","id":1,"kind":"whisper","from":"x","fromDevice":1,"body":5,"serverTimestamp":1}',
  '{"type":"envelope","id":1,"kind":"whisper","from":"x","fromDevice":1,"body":"***","serverTimestamp":1}',
  '{"type":"envelope","id":"1","kind":"whisper","from":"x","fromDevice":1,"body":"AA==","serverTimestamp":1}',
  '{"type":"envelope","id":-1,"kind":"whisper","from":"x","fromDevice":1,"body":"AA==","serverTimestamp":1}',
  '{"type":"envelope","id":1.5,"kind":"whisper","from":"x","fromDevice":1,"body":"AA==","serverTimestamp":1}',
  '{"type":"envelope","id":2,"kind":"nonsense","from":"x","fromDevice":1,"body":"AA==","serverTimestamp":1}',
  '{"type":"envelope","id":3,"kind":"whisper","from":5,"fromDevice":1,"body":"AA==","serverTimestamp":1}',
  '{"type":"envelope","id":4,"kind":"whisper","from":"x","fromDevice":"1","body":"AA==","serverTimestamp":1}',
  '{"type":"envelope","id":5,"kind":"whisper","from":"x","fromDevice":0,"body":"AA==","serverTimestamp":1}',
  '{"type":"envelope","id":6,"kind":"whisper","from":"x","fromDevice":1e9,"body":"AA==","serverTimestamp":1}',
  '{"type":"envelope","id":7,"kind":"whisper","from":"x","fromDevice":1,"body":"AA==","serverTimestamp":"now"}',
  '{"type":"envelope","id":8,"kind":"whisper","from":"","fromDevice":1,"body":"AA==","serverTimestamp":1}',
  // Well formed but longer than any frame of the relay: not parsed, not acknowledged.
  JSON.stringify({
    type: 'envelope',
    id: 9,
    kind: 'whisper',
    from: 'x',
    fromDevice: 1,
    body: 'A'.repeat(300 * 1024),
    serverTimestamp: 1,
  }),
  '{"type":"prekeys-low"}',
  '{"type":"prekeys-low","preKeys":"lots","kyberPreKeys":null,"low":"yes"}',
];

it('frames of every wrong shape from the relay socket are ignored; the next good frames work', async () => {
  // Alice's device talks to the real relay over HTTP; her socket goes wherever `socketUrl` says.
  let socketUrl: string | undefined;
  const alice = await ChatClient.register(
    'alice',
    bed.opts({ receipts: false, webSocket: (url) => new WebSocket(socketUrl ?? url) as never }),
  );
  const bob = await ChatClient.register('bob', bed.opts({ receipts: false }));
  bed.clients.push(alice, bob);
  await bob.sendText('alice', 'through a hostile socket');
  const [queued] = await alice.api.fetchQueued();
  if (!queued) throw new Error('nothing queued for alice');

  const hostile = new WebSocketServer({ port: 0, host: '127.0.0.1' });
  await new Promise<void>((r) => hostile.once('listening', () => r()));
  const acks: unknown[] = [];
  hostile.on('connection', (ws) => {
    ws.on('message', (data) => {
      const frame = JSON.parse(String(data)) as { type: string; id?: unknown };
      if (frame.type === 'ack') {
        acks.push(frame.id);
        return;
      }
      ws.send(JSON.stringify({ type: 'ready', aci: alice.aci, name: 'alice', deviceId: 1 }));
      for (const f of MALFORMED) ws.send(f);
      // Then the real envelope, as the relay stored it, and the end of the queue.
      ws.send(
        JSON.stringify({
          type: 'envelope',
          id: queued.id,
          from: queued.from,
          fromDevice: queued.fromDevice,
          kind: queued.kind,
          body: Buffer.from(queued.body).toString('base64'),
          serverTimestamp: queued.serverTimestamp,
        }),
      );
      ws.send('{"type":"queue-empty"}');
    });
  });
  const uncaught: unknown[] = [];
  const onUncaught = (err: unknown) => uncaught.push(err);
  process.on('uncaughtException', onUncaught);
  try {
    socketUrl = `ws://127.0.0.1:${(hostile.address() as AddressInfo).port}/v1/ws`;
    await alice.connect();
    expect((await alice.messages('dm:bob')).map((m) => m.text)).toEqual(['through a hostile socket']);
    await expect.poll(() => acks).toEqual([queued.id]);
    expect(uncaught).toEqual([]);
  } finally {
    process.off('uncaughtException', onUncaught);
    alice.disconnect();
    await new Promise<void>((r) => hostile.close(() => r()));
  }
}, 30_000);

it('an envelope list over HTTP of the wrong shape is a DecodeError, never a TypeError', async () => {
  const answers = [
    '{}',
    '{"envelopes":null}',
    '{"envelopes":[null]}',
    '{"envelopes":[{"id":1}]}',
    '{"envelopes":[{"id":1,"kind":"whisper","from":"x","fromDevice":1,"body":"***","serverTimestamp":1}]}',
  ];
  for (const text of answers) {
    const api = new RelayApi('http://relay.invalid', {
      token: 't',
      fetch: async () => new Response(text, { status: 200 }),
    });
    await expect(api.fetchQueued()).rejects.toSatisfy((e: unknown) => E2eeError.is(e, 'DECODE'));
  }
  const good = new RelayApi('http://relay.invalid', {
    token: 't',
    fetch: async () =>
      new Response('{"envelopes":[{"id":3,"kind":"sealed","body":"AAEC","serverTimestamp":5}]}', {
        status: 200,
      }),
  });
  expect(await good.fetchQueued()).toEqual([
    { id: 3, from: '', fromDevice: 0, kind: 'sealed', body: new Uint8Array([0, 1, 2]), serverTimestamp: 5 },
  ]);
});
