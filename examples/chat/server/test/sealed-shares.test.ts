/**
 * Sealed envelopes have no sender the relay could count them by, but each arrives on a connection
 * from a remote address. Before, every sealed envelope to a device counted as one "sender": one
 * client holding the access key filled that share (1,000) and every genuine sealed message to the
 * device was refused with 429 `sender_quota`; and its refused posts went on using up the recipient's
 * window (600 a minute), so genuine senders were refused even after its envelopes were fetched.
 * Now each remote has its own share of a device's queue and of the recipient's window.
 */
import { afterEach, expect, it } from 'vitest';
import { deriveAccessKey } from '../../client/src/sealed.js';
import { type Relay, type RelayOptions, silentLogger, startRelay } from '../src/index.js';
import { b64, call, makeDevice, postSealedFrom, register } from './helpers.js';

const relays: Relay[] = [];
afterEach(async () => {
  for (const r of relays.splice(0)) await r.close();
});

async function relayWith(options: Partial<RelayOptions>): Promise<Relay> {
  const r = await startRelay({ logger: silentLogger, now: () => 1_000_000, ...options });
  relays.push(r);
  return r;
}

const postFrom = (r: Relay, from: string, to: string, key: Uint8Array, count = 1) =>
  postSealedFrom(r.url, from, to, key, count);

async function bobWithKey(r: Relay) {
  const bob = await register(r.url, 'bob', await makeDevice());
  const key = deriveAccessKey(new Uint8Array(32).fill(5));
  await call(r.url, 'PUT', '/v1/access-key', { token: bob.token, json: { accessKey: b64(key) } });
  return { bob, key };
}

it("one remote fills only its own share of a device's queue with sealed envelopes", async () => {
  const r = await relayWith({ storeLimits: { maxQueuedPerDevice: 25, maxQueuedPerSender: 10 } });
  const { bob, key } = await bobWithKey(r);
  const flood = [];
  for (let i = 0; i < 4; i++) flood.push(await postFrom(r, '127.0.0.1', bob.aci, key, 4));
  // 4 + 4 fit its share of 10; the third batch would pass it and is refused whole.
  expect(flood.map((a) => a.status)).toEqual([200, 200, 429, 429]);
  expect(flood[2]?.error).toBe('sender_quota');
  // A genuine sender on another address still reaches the device, up to its own share.
  const genuine = [];
  for (let i = 0; i < 3; i++) genuine.push((await postFrom(r, '127.0.0.2', bob.aci, key, 4)).status);
  expect(genuine).toEqual([200, 200, 429]);
  expect(r.store.pending(bob.aci, 1, 0, 100)).toHaveLength(16);
  // The device's own cap stays: more remotes fill it (16 + 8 + 1 = 25), then `queue_full`.
  expect((await postFrom(r, '127.0.0.3', bob.aci, key, 8)).status).toBe(200);
  expect((await postFrom(r, '127.0.0.4', bob.aci, key, 1)).status).toBe(200);
  expect(await postFrom(r, '127.0.0.5', bob.aci, key, 1)).toEqual({ status: 429, error: 'queue_full' });
  // Fetched (acknowledged) envelopes give the share back.
  for (const e of r.store.pending(bob.aci, 1, 0, 8)) r.store.ack(bob.aci, 1, e.id);
  expect((await postFrom(r, '127.0.0.1', bob.aci, key, 4)).status).toBe(200);
});

it("one remote's posts use only its own share of the recipient's window", async () => {
  const r = await relayWith({ sealedLimits: { perRecipient: 10, perRemote: 4, windowMs: 60_000 } });
  const { bob, key } = await bobWithKey(r);
  const flood = [];
  for (let i = 0; i < 8; i++) flood.push((await postFrom(r, '127.0.0.1', bob.aci, key)).status);
  expect(flood).toEqual([200, 200, 200, 200, 429, 429, 429, 429]);
  const genuine = [];
  for (let i = 0; i < 5; i++) genuine.push((await postFrom(r, '127.0.0.2', bob.aci, key)).status);
  expect(genuine).toEqual([200, 200, 200, 200, 429]);
  // The recipient's window still bounds all remotes together (4 + 4 + 2 = 10).
  const others = [];
  for (let i = 3; i < 7; i++) others.push((await postFrom(r, `127.0.0.${i}`, bob.aci, key)).status);
  expect(others).toEqual([200, 200, 429, 429]);
});
