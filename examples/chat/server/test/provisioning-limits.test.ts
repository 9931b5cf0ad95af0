/**
 * Provisioning addresses need no account, and codes need only a token: both are capped, per remote
 * (addresses) and per account (codes), and in total, and both expire (ProvisioningLimits).
 */
import { request } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { type Relay, silentLogger, startRelay } from '../src/index.js';
import { DEFAULT_PROVISIONING_LIMITS, ProvisioningState } from '../src/provisioning.js';

const relays: Relay[] = [];
afterEach(async () => {
  for (const r of relays.splice(0)) await r.close();
});

/** POST /v1/provisioning from `from`; the status. */
const open = (r: Relay, from: string) =>
  new Promise<number>((resolve, reject) => {
    const req = request(`${r.url}/v1/provisioning`, {
      method: 'POST',
      localAddress: from,
      headers: { 'content-type': 'application/json', 'content-length': 2 },
    });
    req.on('response', (res) => {
      resolve(res.statusCode ?? 0);
      res.resume();
    });
    req.on('error', reject);
    req.end('{}');
  });

describe('provisioning addresses', () => {
  it('one remote holds at most maxAddressesPerRemote open at once; others still get theirs', async () => {
    let now = 1_000_000;
    const r = await startRelay({ logger: silentLogger, now: () => now });
    relays.push(r);
    const perRemote = DEFAULT_PROVISIONING_LIMITS.maxAddressesPerRemote;
    for (let i = 0; i < perRemote; i++) expect(await open(r, '127.0.0.1')).toBe(201);
    expect(await open(r, '127.0.0.1')).toBe(429);
    expect(await open(r, '127.0.0.2')).toBe(201);
    // They expire: the remote may open again once its addresses are gone.
    now += DEFAULT_PROVISIONING_LIMITS.ttlMs;
    expect(await open(r, '127.0.0.1')).toBe(201);
  });
});

describe('provisioning codes', () => {
  it('an account keeps at most maxCodesPerAccount live codes: issuing more retires its oldest', () => {
    const state = new ProvisioningState();
    const aci = '00000000-0000-4000-8000-000000000001';
    const first = state.issueCode(aci, 0);
    const later: string[] = [];
    for (let i = 0; i < DEFAULT_PROVISIONING_LIMITS.maxCodesPerAccount; i++)
      later.push(state.issueCode(aci, 0));
    expect(state.redeem(aci, first, 0)).toBe(false);
    for (const code of later) expect(state.redeem(aci, code, 0)).toBe(true);
  });

  it('at most maxCodes are live in all; past that a new code is refused (429) until some expire', () => {
    const state = new ProvisioningState({ ...DEFAULT_PROVISIONING_LIMITS, maxCodes: 3 });
    const acis = [1, 2, 3, 4].map((n) => `00000000-0000-4000-8000-00000000000${n}`);
    for (const aci of acis.slice(0, 3)) state.issueCode(aci, 0);
    expect(() => state.issueCode(acis[3] as string, 0)).toThrow(
      expect.objectContaining({ status: 429 }) as Error,
    );
    expect(state.issueCode(acis[3] as string, DEFAULT_PROVISIONING_LIMITS.ttlMs)).toMatch(/^[\w-]{22}$/);
  });
});
