/**
 * Linking a new device (Signal's provisioning):
 * 1. the new device asks for a provisioning address (`POST /v1/provisioning`, no account yet) and
 *    shows it with its ephemeral public key as a QR code;
 * 2. an existing device of the account takes a one-time provisioning code
 *    (`GET /v1/devices/provisioning-code`), encrypts the account identity and that code to the
 *    scanned key, and posts the envelope to the address (`PUT /v1/provisioning/:address`);
 * 3. the new device collects the envelope (`GET /v1/provisioning/:address`, polled), decrypts it and
 *    registers as the account's next device with the code (`POST /v1/devices/link`).
 * The relay only ever holds the opaque envelope (for minutes, in memory) and hashes of the codes.
 */
import { Buffer } from 'node:buffer';
import { createHash, randomBytes } from 'node:crypto';
import { MAX_DEVICE_ID } from './devices.js';
import { authenticate, type HttpContext, jsonBody, type Route } from './http.js';
import { parseDeviceRegistration } from './keys.js';
import { remoteOf } from './remote.js';
import { ACI, ACI_DESCRIPTION, b64, HttpError, obj, str } from './validate.js';

export interface ProvisioningLimits {
  /** How long an address or a code stays usable. */
  readonly ttlMs: number;
  /** Most open addresses at once (they cost memory and need no account). */
  readonly maxAddresses: number;
  /**
   * Most open addresses of one remote (remote.ts) at once: without it one client filled all
   * `maxAddresses`, and nobody else could link a device until they expired — again and again.
   */
  readonly maxAddressesPerRemote: number;
  /** Most live codes of one account; a new one retires its oldest (a user who asked again uses the last). */
  readonly maxCodesPerAccount: number;
  /** Most live codes in all (each costs memory; any token could ask for any number before). */
  readonly maxCodes: number;
  /** Largest provisioning envelope accepted. */
  readonly maxEnvelope: number;
}

export const DEFAULT_PROVISIONING_LIMITS: ProvisioningLimits = {
  ttlMs: 10 * 60 * 1000,
  maxAddresses: 1000,
  maxAddressesPerRemote: 4,
  maxCodesPerAccount: 5,
  maxCodes: 10_000,
  maxEnvelope: 16 * 1024,
};

const ADDRESS = /^[A-Za-z0-9_-]{22}$/;
const CODE = /^[A-Za-z0-9_-]{22}$/;

const hash = (s: string): Buffer => createHash('sha256').update(s).digest();

/** In-memory mailboxes and codes; a restart only invalidates links in progress. */
export class ProvisioningState {
  readonly #mailboxes = new Map<
    string,
    { expires: number; remote: string; envelope: Uint8Array | undefined }
  >();
  readonly #codes = new Map<string, { aci: string; expires: number }>();

  constructor(readonly limits: ProvisioningLimits = DEFAULT_PROVISIONING_LIMITS) {}

  #sweep(now: number): void {
    for (const [k, v] of this.#mailboxes) if (v.expires <= now) this.#mailboxes.delete(k);
    for (const [k, v] of this.#codes) if (v.expires <= now) this.#codes.delete(k);
  }

  /** A new address for `remote` (remote.ts), within its share and the total. */
  openAddress(now: number, remote: string): string {
    this.#sweep(now);
    if (this.#mailboxes.size >= this.limits.maxAddresses)
      throw new HttpError(429, 'rate_limited', 'too many devices are linking right now; retry later');
    let mine = 0;
    for (const box of this.#mailboxes.values()) if (box.remote === remote) mine++;
    if (mine >= this.limits.maxAddressesPerRemote)
      throw new HttpError(429, 'rate_limited', 'too many provisioning addresses open from this address');
    const address = randomBytes(16).toString('base64url');
    this.#mailboxes.set(address, { expires: now + this.limits.ttlMs, remote, envelope: undefined });
    return address;
  }

  deposit(address: string, envelope: Uint8Array, now: number): void {
    this.#sweep(now);
    const box = this.#mailboxes.get(address);
    if (!box) throw new HttpError(404, 'not_found', 'no such provisioning address (expired?)');
    if (box.envelope)
      throw new HttpError(409, 'already_provisioned', 'this address already holds an envelope');
    box.envelope = envelope.slice();
  }

  /** The envelope, once: the mailbox closes when it is collected. */
  collect(address: string, now: number): Uint8Array | undefined {
    this.#sweep(now);
    const box = this.#mailboxes.get(address);
    if (!box) throw new HttpError(404, 'not_found', 'no such provisioning address (expired?)');
    if (!box.envelope) return undefined;
    this.#mailboxes.delete(address);
    return box.envelope;
  }

  issueCode(aci: string, now: number): string {
    this.#sweep(now);
    // Codes are kept in issue order, so the first of this account's found is its oldest.
    const mine = [...this.#codes].filter(([, v]) => v.aci === aci);
    if (mine.length >= this.limits.maxCodesPerAccount && mine[0]) this.#codes.delete(mine[0][0]);
    else if (this.#codes.size >= this.limits.maxCodes)
      throw new HttpError(429, 'rate_limited', 'too many devices are linking right now; retry later');
    const code = randomBytes(16).toString('base64url');
    this.#codes.set(hash(code).toString('hex'), { aci, expires: now + this.limits.ttlMs });
    return code;
  }

  /** Consumes the code if it was issued for account `aci` and is still valid. */
  redeem(aci: string, code: string, now: number): boolean {
    this.#sweep(now);
    const key = hash(code).toString('hex');
    const entry = this.#codes.get(key);
    // The code is the secret (looked up by its hash); the ACI is public.
    if (!entry || entry.aci !== aci) return false;
    this.#codes.delete(key);
    return true;
  }
}

function pathAddress(v: string | undefined): string {
  if (!v || !ADDRESS.test(v)) throw new HttpError(404, 'not_found', 'no such provisioning address');
  return v;
}

export function provisioningRoutes(state: ProvisioningState): Route[] {
  return [
    {
      method: 'POST',
      pattern: /^\/v1\/provisioning$/,
      name: 'provisioning-open',
      handler: async (req, _p, ctx) => [
        201,
        { address: state.openAddress(ctx.now(), remoteOf(req, ctx.trustProxy)) },
      ],
    },
    {
      method: 'GET',
      pattern: /^\/v1\/provisioning\/([^/]+)$/,
      name: 'provisioning-collect',
      handler: async (_req, [raw], ctx) => {
        const envelope = state.collect(pathAddress(raw), ctx.now());
        return [200, { envelope: envelope ? Buffer.from(envelope).toString('base64') : null }];
      },
    },
    {
      method: 'PUT',
      pattern: /^\/v1\/provisioning\/([^/]+)$/,
      name: 'provisioning-deposit',
      handler: async (req, [raw], ctx) => {
        const me = authenticate(req, ctx);
        const address = pathAddress(raw);
        const body = obj(await jsonBody(req, state.limits.maxEnvelope * 2), 'body', ['body']);
        const envelope = b64(body['body'], 'body.body', { min: 1, max: state.limits.maxEnvelope });
        state.deposit(address, envelope, ctx.now());
        ctx.log.info('provisioning.deposited', {
          account: me.aci,
          deviceId: me.deviceId,
          bytes: envelope.length,
        });
        return [200, { deposited: true }];
      },
    },
    {
      method: 'GET',
      pattern: /^\/v1\/devices\/provisioning-code$/,
      name: 'provisioning-code',
      handler: async (req, _p, ctx) => {
        const me = authenticate(req, ctx);
        return [200, { code: state.issueCode(me.aci, ctx.now()) }];
      },
    },
    {
      method: 'POST',
      pattern: /^\/v1\/devices\/link$/,
      name: 'link-device',
      handler: async (req, _p, ctx) => linkDevice(req, ctx, state),
    },
  ];
}

async function linkDevice(
  req: Parameters<Route['handler']>[0],
  ctx: HttpContext,
  state: ProvisioningState,
): Promise<[number, unknown]> {
  const body = obj(await jsonBody(req, ctx.limits.maxJsonBody), 'body', [
    'aci',
    'provisioningCode',
    'device',
  ]);
  const aci = str(body['aci'], 'body.aci', ACI, ACI_DESCRIPTION);
  const code = str(body['provisioningCode'], 'body.provisioningCode', CODE, 'a provisioning code');
  // Signatures are checked before the code is spent: a malformed request leaves it usable.
  const { registrationId, identityKey, upload } = await parseDeviceRegistration(
    body['device'],
    'body.device',
    ctx.limits,
  );
  const primary = ctx.store.db
    .prepare('SELECT identity_key FROM devices WHERE aci = ? ORDER BY device_id LIMIT 1')
    .get(aci) as { identity_key: Buffer } | undefined;
  const account = ctx.store.account(aci);
  if (!state.redeem(aci, code, ctx.now()) || !primary || !account)
    throw new HttpError(403, 'wrong_provisioning_code', 'the provisioning code is unknown, used or expired');
  // Every device of an account carries the account's identity key.
  if (!primary.identity_key.equals(Buffer.from(identityKey)))
    throw new HttpError(403, 'identity_mismatch', 'a linked device must use the account identity key');
  const token = randomBytes(32).toString('base64url');
  const now = ctx.now();
  const deviceId = ctx.store.db.transaction(() => {
    const used = new Set(
      (
        ctx.store.db.prepare('SELECT device_id FROM devices WHERE aci = ?').all(aci) as {
          device_id: number;
        }[]
      ).map((r) => r.device_id),
    );
    let id = 2;
    while (used.has(id)) id++;
    if (id > MAX_DEVICE_ID)
      throw new HttpError(409, 'too_many_devices', 'the account has the most devices it can have');
    ctx.store.db
      .prepare(
        'INSERT INTO devices (aci, device_id, registration_id, identity_key, token_hash, created_at) VALUES (?, ?, ?, ?, ?, ?)',
      )
      .run(aci, id, registrationId, identityKey, hash(token), now);
    ctx.store.uploadKeys(aci, id, upload);
    return id;
  })();
  ctx.log.info('device.linked', { account: aci, deviceId });
  return [201, { aci, name: account.name, deviceId, token }];
}
