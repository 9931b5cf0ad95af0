/**
 * TCP connections are capped per remote before HTTP parses anything (`maxConnectionsPerRemote`), so
 * one client cannot hold the process's descriptors with idle or slowly-written requests (slowloris);
 * header and request deadlines are the relay's limits, not Node's defaults.
 */
import { connect, type Socket } from 'node:net';
import { afterEach, expect, it } from 'vitest';
import { type Relay, silentLogger, startRelay } from '../src/index.js';

const relays: Relay[] = [];
const sockets: Socket[] = [];
afterEach(async () => {
  for (const s of sockets.splice(0)) s.destroy();
  for (const r of relays.splice(0)) await r.close();
});

/** A TCP connection from `from`, once connected. */
const tcp = (r: Relay, from: string) =>
  new Promise<Socket>((resolve, reject) => {
    const s = connect({ port: r.port, host: '127.0.0.1', localAddress: from }, () => resolve(s));
    sockets.push(s);
    s.once('error', reject);
  });
/** Sends GET /v1/health on `s`; everything the relay sent back before closing. */
const health = (s: Socket) =>
  new Promise<string>((resolve) => {
    let got = '';
    s.on('data', (d) => {
      got += String(d);
    });
    s.on('error', () => {});
    s.once('close', () => resolve(got));
    s.write('GET /v1/health HTTP/1.1\r\nHost: relay\r\nConnection: close\r\n\r\n');
  });

it('a remote holding maxConnectionsPerRemote connections gets no more; another remote does', async () => {
  const r = await startRelay({ logger: silentLogger, limits: { maxConnectionsPerRemote: 2 } });
  relays.push(r);
  // Two idle connections (a slowloris client sends nothing, or a byte now and then).
  await tcp(r, '127.0.0.1');
  await tcp(r, '127.0.0.1');
  expect(await health(await tcp(r, '127.0.0.1'))).not.toMatch(/^HTTP\/1\.1 200/);
  expect(await health(await tcp(r, '127.0.0.2'))).toMatch(/^HTTP\/1\.1 200/);
});

it('header and request deadlines come from the limits', async () => {
  const r = await startRelay({
    logger: silentLogger,
    limits: { headersTimeoutMs: 7000, requestTimeoutMs: 90_000 },
  });
  relays.push(r);
  expect([r.server.headersTimeout, r.server.requestTimeout]).toEqual([7000, 90_000]);
});
