/**
 * The sealed endpoint needs no account. Refused attempts (a wrong or missing access key) are
 * counted per remote (`SealedLimits.failuresPerRemote`) before they reach the recipient's window:
 * before, one client sending junk with wrong keys used up any recipient's whole window, and every
 * real sealed message to that person was refused (429) for as long as it kept going.
 */
import { afterEach, expect, it } from 'vitest';
import { deriveAccessKey } from '../../client/src/sealed.js';
import { type Relay, silentLogger, startRelay } from '../src/index.js';
import { b64, call, makeDevice, postSealedFrom, register } from './helpers.js';

const relays: Relay[] = [];
afterEach(async () => {
  for (const r of relays.splice(0)) await r.close();
});

/** POST /v1/sealed/<to> from `from` under `key`; the status. */
const postFrom = async (r: Relay, from: string, to: string, key: Uint8Array) =>
  (await postSealedFrom(r.url, from, to, key)).status;

it("one remote's wrong keys use up its own failure allowance, not the recipient's window", async () => {
  const r = await startRelay({
    logger: silentLogger,
    now: () => 1_000_000,
    sealedLimits: { perRecipient: 10, failuresPerRemote: 2, windowMs: 60_000 },
  });
  relays.push(r);
  const bob = await register(r.url, 'bob', await makeDevice());
  const key = deriveAccessKey(new Uint8Array(32).fill(4));
  await call(r.url, 'PUT', '/v1/access-key', { token: bob.token, json: { accessKey: b64(key) } });
  const wrong = new Uint8Array(16).fill(7);
  const attacker = [];
  for (let i = 0; i < 6; i++) attacker.push(await postFrom(r, '127.0.0.1', bob.aci, wrong));
  expect(attacker).toEqual([401, 401, 429, 429, 429, 429]);
  // A real sender elsewhere still has the recipient's window, less the two refused attempts.
  const real = [];
  for (let i = 0; i < 9; i++) real.push(await postFrom(r, '127.0.0.2', bob.aci, key));
  expect(real).toEqual([...Array<number>(8).fill(200), 429]);
});
