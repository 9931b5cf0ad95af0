/**
 * Sockets are capped before they cost anything: per process, per remote address, and each must
 * authenticate within `authTimeoutMs` (limits.ts). Remotes are told apart by the TCP peer address:
 * the test connects from 127.0.0.1, 127.0.0.2 and 127.0.0.3 (all loopback on Linux).
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import WebSocket from 'ws';
import { CloseCode, type Relay, silentLogger, startRelay } from '../src/index.js';
import { remoteKey } from '../src/remote.js';
import { makeDevice, register } from './helpers.js';

const relays: Relay[] = [];
const sockets: WebSocket[] = [];
afterEach(async () => {
  vi.useRealTimers();
  for (const s of sockets.splice(0)) s.terminate();
  for (const r of relays.splice(0)) await r.close();
});
async function relayWith(options: Parameters<typeof startRelay>[0] = {}) {
  const r = await startRelay({ logger: silentLogger, ...options });
  relays.push(r);
  return r;
}

/** Opens a socket from `from`; resolves 'open' or the HTTP status that refused the upgrade. */
function connect(
  r: Relay,
  from: string,
  headers: Record<string, string> = {},
): Promise<{ ws: WebSocket; outcome: 'open' | number }> {
  const ws = new WebSocket(r.wsUrl, { localAddress: from, headers });
  sockets.push(ws);
  return new Promise((resolve, reject) => {
    ws.once('open', () => resolve({ ws, outcome: 'open' }));
    ws.once('unexpected-response', (_req, res) => {
      resolve({ ws, outcome: res.statusCode ?? 0 });
      res.resume();
    });
    ws.once('error', reject);
  });
}
// Captured before any test fakes timers: a guard so a socket that stays open fails the test instead
// of hanging it (the guard is a bound on waiting, not an assertion about time).
const realSetTimeout = globalThis.setTimeout;
const closed = (ws: WebSocket) =>
  new Promise<number>((resolve) => {
    if (ws.readyState === ws.CLOSED) resolve(-1);
    ws.once('close', (code) => resolve(code));
  });

describe('WebSocket admission', () => {
  it('refuses sockets past the per-remote cap (429) and the per-process cap (503), and frees a slot on close', async () => {
    const r = await relayWith({ limits: { maxSocketsPerRemote: 2, maxSockets: 3 } });
    const a1 = await connect(r, '127.0.0.1');
    const a2 = await connect(r, '127.0.0.1');
    expect([a1.outcome, a2.outcome]).toEqual(['open', 'open']);
    expect((await connect(r, '127.0.0.1')).outcome).toBe(429);
    // Another remote is not affected by the first one's share…
    expect((await connect(r, '127.0.0.2')).outcome).toBe('open');
    // …but the process holds at most three, whoever asks.
    expect((await connect(r, '127.0.0.3')).outcome).toBe(503);
    const done = closed(a1.ws);
    a1.ws.close();
    await done;
    // The closed socket's slot is free again (the relay counts closes, not only opens).
    let again = await connect(r, '127.0.0.1');
    for (let i = 0; i < 50 && again.outcome !== 'open'; i++) {
      await new Promise((res) => setImmediate(res));
      again = await connect(r, '127.0.0.1');
    }
    expect(again.outcome).toBe('open');
  });

  it('counts authenticated sockets too: one remote cannot hold more than its share by authenticating', async () => {
    const r = await relayWith({ limits: { maxSocketsPerRemote: 1 } });
    const bob = await register(r.url, 'bob', await makeDevice());
    const first = await connect(r, '127.0.0.1');
    first.ws.send(JSON.stringify({ type: 'auth', token: bob.token }));
    await new Promise((res) => first.ws.once('message', res));
    expect((await connect(r, '127.0.0.1')).outcome).toBe(429);
  });

  it('reads X-Forwarded-For only behind a trusted proxy: without one a new header is not a new remote', async () => {
    const direct = await relayWith({ limits: { maxSocketsPerRemote: 1 } });
    expect((await connect(direct, '127.0.0.1')).outcome).toBe('open');
    const spoofed = await connect(direct, '127.0.0.1', { 'x-forwarded-for': '10.9.9.9' });
    expect(spoofed.outcome).toBe(429);
    const proxied = await relayWith({ limits: { maxSocketsPerRemote: 1 }, trustProxy: true });
    expect((await connect(proxied, '127.0.0.1', { 'x-forwarded-for': '10.0.0.1' })).outcome).toBe('open');
    // The proxy appends the real peer last; what the client put first does not count.
    const again = await connect(proxied, '127.0.0.1', { 'x-forwarded-for': '10.9.9.9, 10.0.0.1' });
    expect(again.outcome).toBe(429);
    expect((await connect(proxied, '127.0.0.1', { 'x-forwarded-for': '10.0.0.2' })).outcome).toBe('open');
  });

  it('closes a socket that does not authenticate within authTimeoutMs (4401)', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] });
    const r = await relayWith({ limits: { authTimeoutMs: 2000 } });
    const { ws, outcome } = await connect(r, '127.0.0.1');
    expect(outcome).toBe('open');
    const code = closed(ws);
    vi.advanceTimersByTime(2000);
    const guard = new Promise((resolve) => realSetTimeout(() => resolve('still open'), 3000));
    expect(await Promise.race([code, guard])).toBe(CloseCode.Unauthorized);
  });

  it('keys remotes by IPv4 address and IPv6 /64, never by a header', () => {
    expect(remoteKey('::ffff:10.0.0.1')).toBe('10.0.0.1');
    expect(remoteKey('2001:db8:1:2:aaaa::1')).toBe('2001:db8:1:2::/64');
    expect(remoteKey('2001:db8:1:2:bbbb:cccc:dddd:eeee')).toBe('2001:db8:1:2::/64');
    expect(remoteKey('2001:0db8::1')).toBe('2001:db8:0:0::/64');
  });
});
