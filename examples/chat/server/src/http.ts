/**
 * The HTTP API: key directory, message submission (and a polling fallback to the WebSocket), backups.
 * JSON in and out; every byte string is standard base64. Authentication: `Authorization: Bearer
 * <device token>`, a random token issued at registration of which the server keeps only a SHA-256.
 */
import { Buffer } from 'node:buffer';
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { nobleProvider, PublicKey, xeddsaVerify } from '@e2ee-kit/core';
import {
  type Bundle,
  type DeviceKeys,
  type DeviceRow,
  type EnvelopeRow,
  type KeyUpload,
  type KyberPreKeyRow,
  type PreKeyRow,
  type RelayStore,
  type SignedPreKeyRow,
  StoreConflict,
} from './db.js';
import type { RelayLimits } from './limits.js';
import type { Logger } from './log.js';
import {
  arr,
  b64,
  bad,
  HttpError,
  int,
  type Json,
  NAME,
  NAME_DESCRIPTION,
  obj,
  parseJson,
  str,
  tooBig,
} from './validate.js';

export const EC_KEY_LENGTH = 33;
export const KEM_KEY_LENGTH = 1569;
export const SIGNATURE_LENGTH = 64;
/** Kyber-1024 (libsignal's 0x08) and ML-KEM-1024 (0x0A). */
const KEM_TYPES = new Set([0x08, 0x0a]);
export const ENVELOPE_TYPES = ['prekey', 'whisper', 'senderkey'] as const;
export type EnvelopeType = (typeof ENVELOPE_TYPES)[number];
const MAX_KEY_ID = 0xffffffff;
const RECOVERY = /^[0-9a-f]{32}$/;
const TOKEN = /^[A-Za-z0-9_-]{43}$/;

export interface HttpContext {
  readonly store: RelayStore;
  readonly limits: RelayLimits;
  readonly log: Logger;
  readonly now: () => number;
  /** Called after envelopes were queued for a device, so an open WebSocket delivers them. */
  readonly onQueued: (name: string, deviceId: number) => void;
  /** Called after a bundle was handed out, so the device can be told to refill. */
  readonly onPreKeysTaken: (name: string, deviceId: number) => void;
  /** Called when a device was replaced by a new registration. */
  readonly onDeviceReplaced: (name: string) => void;
  /** Serves the web client's built files for GET requests outside /v1 (optional). */
  readonly serveStatic?: ((req: IncomingMessage, res: ServerResponse) => Promise<boolean>) | undefined;
}

export const sha256 = (data: Uint8Array | string): Uint8Array =>
  new Uint8Array(createHash('sha256').update(data).digest());

export const base64 = (b: Uint8Array): string =>
  Buffer.from(b.buffer, b.byteOffset, b.byteLength).toString('base64');

/** Reads the body, refusing (413) as soon as it passes `limit`: an oversized body is never buffered whole. */
export async function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  const declared = req.headers['content-length'];
  if (declared !== undefined && Number(declared) > limit) throw tooBig('the request body');
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > limit) throw tooBig('the request body');
    chunks.push(chunk);
  }
  return Buffer.concat(chunks);
}

function send(res: ServerResponse, status: number, body: unknown): number {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(text),
    'cache-control': 'no-store',
  });
  res.end(text);
  return text.length;
}

// --- parsing of key material ----------------------------------------------------------------

function ecKey(v: Json, path: string): Uint8Array {
  const k = b64(v, path, { exact: EC_KEY_LENGTH });
  if (k[0] !== 0x05) throw bad(path, 'must be a Curve25519 public key (type byte 0x05)');
  return k;
}

function kemKey(v: Json, path: string): Uint8Array {
  const k = b64(v, path, { exact: KEM_KEY_LENGTH });
  if (!KEM_TYPES.has(k[0] as number)) throw bad(path, 'must be a Kyber-1024 / ML-KEM-1024 public key');
  return k;
}

async function checkSignature(identity: Uint8Array, key: Uint8Array, sig: Uint8Array, path: string) {
  const ok = await xeddsaVerify(PublicKey.deserialize(identity), key, sig, nobleProvider);
  if (!ok)
    throw new HttpError(400, 'bad_signature', `${path}.signature does not verify with the identity key`);
}

async function signedPreKey(v: Json, path: string, identity: Uint8Array): Promise<SignedPreKeyRow> {
  const o = obj(v, path, ['keyId', 'publicKey', 'signature']);
  const row = {
    keyId: int(o['keyId'], `${path}.keyId`, 0, MAX_KEY_ID),
    publicKey: ecKey(o['publicKey'], `${path}.publicKey`),
    signature: b64(o['signature'], `${path}.signature`, { exact: SIGNATURE_LENGTH }),
  };
  await checkSignature(identity, row.publicKey, row.signature, path);
  return row;
}

async function kyberPreKey(v: Json, path: string, identity: Uint8Array): Promise<KyberPreKeyRow> {
  const o = obj(v, path, ['keyId', 'publicKey', 'signature']);
  const row = {
    keyId: int(o['keyId'], `${path}.keyId`, 0, MAX_KEY_ID),
    publicKey: kemKey(o['publicKey'], `${path}.publicKey`),
    signature: b64(o['signature'], `${path}.signature`, { exact: SIGNATURE_LENGTH }),
  };
  await checkSignature(identity, row.publicKey, row.signature, path);
  return row;
}

function preKey(v: Json, path: string): PreKeyRow {
  const o = obj(v, path, ['keyId', 'publicKey']);
  return {
    keyId: int(o['keyId'], `${path}.keyId`, 0, MAX_KEY_ID),
    publicKey: ecKey(o['publicKey'], `${path}.publicKey`),
  };
}

function uniqueIds(rows: readonly { keyId: number }[], path: string): void {
  if (new Set(rows.map((r) => r.keyId)).size !== rows.length) throw bad(path, 'has a repeated keyId');
}

async function parseUpload(
  v: Json,
  path: string,
  identity: Uint8Array,
  limits: RelayLimits,
  required: boolean,
): Promise<KeyUpload> {
  const o = obj(v, path, ['signedPreKey', 'lastResortKyberPreKey', 'preKeys', 'kyberPreKeys']);
  if (required && (o['signedPreKey'] === undefined || o['lastResortKyberPreKey'] === undefined)) {
    throw bad(path, 'needs signedPreKey and lastResortKyberPreKey');
  }
  const preKeys =
    o['preKeys'] === undefined ? [] : arr(o['preKeys'], `${path}.preKeys`, limits.maxPreKeysPerUpload);
  const kyber =
    o['kyberPreKeys'] === undefined
      ? []
      : arr(o['kyberPreKeys'], `${path}.kyberPreKeys`, limits.maxKyberPreKeysPerUpload);
  const out: KeyUpload = {
    signedPreKey:
      o['signedPreKey'] === undefined
        ? undefined
        : await signedPreKey(o['signedPreKey'], `${path}.signedPreKey`, identity),
    lastResortKyberPreKey:
      o['lastResortKyberPreKey'] === undefined
        ? undefined
        : await kyberPreKey(o['lastResortKyberPreKey'], `${path}.lastResortKyberPreKey`, identity),
    preKeys: preKeys.map((p, i) => preKey(p, `${path}.preKeys[${i}]`)),
    kyberPreKeys: await Promise.all(
      kyber.map((k, i) => kyberPreKey(k, `${path}.kyberPreKeys[${i}]`, identity)),
    ),
  };
  uniqueIds(out.preKeys ?? [], `${path}.preKeys`);
  const allKyber = [
    ...(out.kyberPreKeys ?? []),
    ...(out.lastResortKyberPreKey ? [out.lastResortKyberPreKey] : []),
  ];
  uniqueIds(allKyber, `${path}.kyberPreKeys`);
  return out;
}

// --- wire forms -----------------------------------------------------------------------------

function bundleJson(b: Bundle) {
  return {
    deviceId: b.deviceId,
    registrationId: b.registrationId,
    identityKey: base64(b.identityKey),
    signedPreKey: {
      keyId: b.signedPreKey.keyId,
      publicKey: base64(b.signedPreKey.publicKey),
      signature: base64(b.signedPreKey.signature),
    },
    preKey: b.preKey ? { keyId: b.preKey.keyId, publicKey: base64(b.preKey.publicKey) } : null,
    kyberPreKey: {
      keyId: b.kyberPreKey.keyId,
      publicKey: base64(b.kyberPreKey.publicKey),
      signature: base64(b.kyberPreKey.signature),
      lastResort: b.kyberPreKey.lastResort,
    },
  };
}

export function envelopeJson(e: EnvelopeRow) {
  // A sealed envelope carries no sender: the relay never knew one.
  if (e.type === 'sealed') {
    return { id: e.id, kind: e.type, body: base64(e.body), serverTimestamp: e.serverTimestamp };
  }
  return {
    id: e.id,
    from: e.fromName,
    fromDevice: e.fromDevice,
    kind: e.type,
    body: base64(e.body),
    serverTimestamp: e.serverTimestamp,
  };
}

// --- the router -----------------------------------------------------------------------------

export type Handler = (
  req: IncomingMessage,
  params: string[],
  ctx: HttpContext,
) => Promise<[number, unknown]>;
export interface Route {
  readonly method: string;
  readonly pattern: RegExp;
  readonly name: string;
  readonly handler: Handler;
}

export function authenticate(req: IncomingMessage, ctx: HttpContext): DeviceRow {
  const header = req.headers.authorization;
  const token = header?.startsWith('Bearer ') ? header.slice(7) : undefined;
  if (!token || !TOKEN.test(token)) {
    throw new HttpError(401, 'unauthorized', 'an Authorization: Bearer <device token> header is required');
  }
  const device = ctx.store.deviceByTokenHash(sha256(token));
  if (!device) throw new HttpError(401, 'unauthorized', 'unknown or revoked device token');
  return device;
}

/** Checks a token from a WebSocket auth frame; null when unknown. */
export function deviceForToken(store: RelayStore, token: unknown): DeviceRow | null {
  if (typeof token !== 'string' || !TOKEN.test(token)) return null;
  return store.deviceByTokenHash(sha256(token));
}

export async function jsonBody(req: IncomingMessage, limit: number): Promise<Json> {
  const type = req.headers['content-type'] ?? '';
  if (!/^application\/json\b/i.test(type)) {
    throw new HttpError(415, 'unsupported_media_type', 'the request body must be application/json');
  }
  return parseJson(await readBody(req, limit));
}

function pathName(v: string | undefined): string {
  const name = decodeURIComponent(v ?? '');
  if (!NAME.test(name)) throw new HttpError(404, 'not_found', 'no such account');
  return name;
}

function pathInt(v: string | undefined, max: number): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1 || n > max) throw new HttpError(404, 'not_found', 'no such item');
  return n;
}

const routes: Route[] = [
  {
    method: 'POST',
    pattern: /^\/v1\/accounts$/,
    name: 'register',
    handler: async (req, _p, ctx) => {
      const body = obj(await jsonBody(req, ctx.limits.maxJsonBody), 'body', [
        'name',
        'recoveryCode',
        'device',
      ]);
      const name = str(body['name'], 'body.name', NAME, NAME_DESCRIPTION);
      const recoveryCode =
        body['recoveryCode'] === undefined
          ? undefined
          : str(body['recoveryCode'], 'body.recoveryCode', RECOVERY, '32 lowercase hex digits');
      const d = obj(body['device'], 'body.device', [
        'registrationId',
        'identityKey',
        'signedPreKey',
        'lastResortKyberPreKey',
        'preKeys',
        'kyberPreKeys',
      ]);
      const registrationId = int(d['registrationId'], 'body.device.registrationId', 0, 0x7fffffff);
      const identityKey = ecKey(d['identityKey'], 'body.device.identityKey');
      const { registrationId: _r, identityKey: _i, ...keyFields } = d;
      const upload = await parseUpload(keyFields, 'body.device', identityKey, ctx.limits, true);
      const keys: DeviceKeys = {
        registrationId,
        identityKey,
        signedPreKey: upload.signedPreKey!,
        lastResortKyberPreKey: upload.lastResortKyberPreKey!,
        preKeys: upload.preKeys ?? [],
        kyberPreKeys: upload.kyberPreKeys ?? [],
      };
      const stored = ctx.store.accountRecoveryHash(name);
      let newRecovery: string | undefined;
      let recoveryHash: Uint8Array;
      if (stored) {
        if (recoveryCode === undefined) {
          throw new HttpError(
            409,
            'name_taken',
            'this name is registered; re-registering needs its recovery code',
          );
        }
        const presented = sha256(recoveryCode);
        if (!timingSafeEqual(presented, stored)) {
          throw new HttpError(403, 'wrong_recovery_code', 'the recovery code does not match this account');
        }
        recoveryHash = stored;
      } else {
        if (recoveryCode !== undefined) throw new HttpError(404, 'not_found', 'no such account to recover');
        newRecovery = randomBytes(16).toString('hex');
        recoveryHash = sha256(newRecovery);
      }
      const token = randomBytes(32).toString('base64url');
      const result = ctx.store.register(name, recoveryHash, sha256(token), keys, ctx.now());
      if (!result.created) ctx.onDeviceReplaced(name);
      ctx.log.info('account.registered', {
        account: name,
        deviceId: result.deviceId,
        created: result.created,
        queueDropped: result.queueDropped,
        preKeys: keys.preKeys.length,
        kyberPreKeys: keys.kyberPreKeys.length,
      });
      return [
        result.created ? 201 : 200,
        {
          name,
          deviceId: result.deviceId,
          token,
          ...(newRecovery ? { recoveryCode: newRecovery } : {}),
          queueDropped: result.queueDropped,
        },
      ];
    },
  },
  {
    // A lookup by exact name only: the relay never lists every account to every account (finding
    // someone needs their name), and the lookup takes no prekey, unlike fetching a bundle.
    method: 'GET',
    pattern: /^\/v1\/accounts\/([^/]+)$/,
    name: 'lookup',
    handler: async (req, [rawName], ctx) => {
      authenticate(req, ctx);
      const name = pathName(rawName);
      const devices = ctx.store.deviceIds(name);
      if (devices.length === 0) throw new HttpError(404, 'not_found', 'no such account');
      return [200, { name, devices }];
    },
  },
  {
    method: 'GET',
    pattern: /^\/v1\/keys\/([^/]+)(?:\/(\d+))?$/,
    name: 'bundle',
    handler: async (req, [rawName, rawDevice], ctx) => {
      authenticate(req, ctx);
      const name = pathName(rawName);
      const ids = rawDevice === undefined ? ctx.store.deviceIds(name) : [pathInt(rawDevice, 127)];
      const bundles: Bundle[] = [];
      for (const id of ids) {
        const b = ctx.store.takeBundle(name, id);
        if (b) bundles.push(b);
      }
      if (bundles.length === 0) throw new HttpError(404, 'not_found', 'no such account or device');
      for (const b of bundles) ctx.onPreKeysTaken(name, b.deviceId);
      return [200, { name, devices: bundles.map(bundleJson) }];
    },
  },
  {
    method: 'PUT',
    pattern: /^\/v1\/keys$/,
    name: 'upload-keys',
    handler: async (req, _p, ctx) => {
      const me = authenticate(req, ctx);
      const upload = await parseUpload(
        await jsonBody(req, ctx.limits.maxJsonBody),
        'body',
        me.identityKey,
        ctx.limits,
        false,
      );
      const counts = ctx.store.uploadKeys(me.name, me.deviceId, upload);
      ctx.log.info('keys.uploaded', {
        account: me.name,
        deviceId: me.deviceId,
        preKeys: upload.preKeys?.length ?? 0,
        kyberPreKeys: upload.kyberPreKeys?.length ?? 0,
        signedPreKey: upload.signedPreKey !== undefined,
      });
      return [200, prekeyStatus(counts, ctx.limits)];
    },
  },
  {
    method: 'GET',
    pattern: /^\/v1\/prekey-status$/,
    name: 'prekey-status',
    handler: async (req, _p, ctx) => {
      const me = authenticate(req, ctx);
      return [200, prekeyStatus(ctx.store.preKeyCounts(me.name, me.deviceId), ctx.limits)];
    },
  },
  {
    method: 'POST',
    pattern: /^\/v1\/messages$/,
    name: 'send',
    handler: async (req, _p, ctx) => {
      const me = authenticate(req, ctx);
      const limit = Math.min(
        ctx.limits.maxJsonBody * 8,
        Math.ceil((ctx.limits.maxEnvelopeBody * 4) / 3) * ctx.limits.maxMessagesPerRequest + 64 * 1024,
      );
      const body = obj(await jsonBody(req, limit), 'body', ['messages']);
      const list = arr(body['messages'], 'body.messages', ctx.limits.maxMessagesPerRequest);
      if (list.length === 0) throw bad('body.messages', 'must not be empty');
      const messages = list.map((m, i) => {
        const path = `body.messages[${i}]`;
        const o = obj(m, path, ['to', 'deviceId', 'kind', 'body']);
        const kind = o['kind'];
        if (typeof kind !== 'string' || !(ENVELOPE_TYPES as readonly string[]).includes(kind)) {
          throw bad(`${path}.kind`, `must be one of ${ENVELOPE_TYPES.join(', ')}`);
        }
        return {
          to: str(o['to'], `${path}.to`, NAME, NAME_DESCRIPTION),
          deviceId: int(o['deviceId'], `${path}.deviceId`, 1, 127),
          type: kind,
          body: b64(o['body'], `${path}.body`, { max: ctx.limits.maxEnvelopeBody, min: 1 }),
        };
      });
      const ids = ctx.store.enqueue(me.name, me.deviceId, messages, ctx.now());
      const recipients = new Set(messages.map((m) => `${m.to}\u0000${m.deviceId}`));
      for (const r of recipients) {
        const [to, dev] = r.split('\u0000') as [string, string];
        ctx.onQueued(to, Number(dev));
      }
      ctx.log.info('messages.queued', {
        account: me.name,
        deviceId: me.deviceId,
        count: messages.length,
        recipients: recipients.size,
        bytes: messages.reduce((n, m) => n + m.body.length, 0),
      });
      return [200, { ids }];
    },
  },
  {
    method: 'GET',
    pattern: /^\/v1\/messages$/,
    name: 'fetch',
    handler: async (req, _p, ctx) => {
      const me = authenticate(req, ctx);
      const envelopes = ctx.store.pending(me.name, me.deviceId, 0, ctx.limits.deliveryWindow);
      return [200, { envelopes: envelopes.map(envelopeJson) }];
    },
  },
  {
    method: 'DELETE',
    pattern: /^\/v1\/messages\/(\d+)$/,
    name: 'ack',
    handler: async (req, [id], ctx) => {
      const me = authenticate(req, ctx);
      if (!ctx.store.ack(me.name, me.deviceId, pathInt(id, Number.MAX_SAFE_INTEGER))) {
        throw new HttpError(404, 'not_found', 'no such queued message');
      }
      return [200, { acknowledged: true }];
    },
  },
  {
    method: 'PUT',
    pattern: /^\/v1\/backup$/,
    name: 'backup-put',
    handler: async (req, _p, ctx) => {
      const me = authenticate(req, ctx);
      const l = ctx.limits;
      const limit = Math.ceil((l.maxBackupPayload * 4) / 3) + Math.ceil((l.maxBackupSlots * 4) / 3) + 1024;
      const body = obj(await jsonBody(req, limit), 'body', ['slots', 'payload']);
      const slots = b64(body['slots'], 'body.slots', { max: l.maxBackupSlots, min: 1 });
      const payload = b64(body['payload'], 'body.payload', { max: l.maxBackupPayload, min: 1 });
      ctx.store.putBackup(me.name, slots, payload, ctx.now());
      ctx.log.info('backup.stored', {
        account: me.name,
        slotsBytes: slots.length,
        payloadBytes: payload.length,
      });
      return [200, { stored: true }];
    },
  },
  {
    method: 'PUT',
    pattern: /^\/v1\/backup\/slots$/,
    name: 'backup-slots-put',
    handler: async (req, _p, ctx) => {
      const me = authenticate(req, ctx);
      const body = obj(await jsonBody(req, ctx.limits.maxJsonBody), 'body', ['slots']);
      const slots = b64(body['slots'], 'body.slots', { max: ctx.limits.maxBackupSlots, min: 1 });
      if (!ctx.store.putBackupSlots(me.name, slots, ctx.now())) {
        throw new HttpError(404, 'not_found', 'there is no backup whose slots could be replaced');
      }
      ctx.log.info('backup.slots-replaced', { account: me.name, slotsBytes: slots.length });
      return [200, { stored: true }];
    },
  },
  {
    method: 'GET',
    pattern: /^\/v1\/backup\/([^/]+)$/,
    name: 'backup-get',
    handler: async (req, [rawName], ctx) => {
      const name = pathName(rawName);
      const code = req.headers['x-recovery-code'];
      if (typeof code === 'string') {
        const stored = ctx.store.accountRecoveryHash(name);
        if (!RECOVERY.test(code) || !stored || !timingSafeEqual(sha256(code), stored)) {
          throw new HttpError(403, 'wrong_recovery_code', 'the recovery code does not match this account');
        }
      } else {
        const me = authenticate(req, ctx);
        if (me.name !== name)
          throw new HttpError(403, 'forbidden', 'a backup is readable only by its account');
      }
      const backup = ctx.store.getBackup(name);
      if (!backup) throw new HttpError(404, 'not_found', 'no backup stored for this account');
      return [
        200,
        { slots: base64(backup.slots), payload: base64(backup.payload), updatedAt: backup.updatedAt },
      ];
    },
  },
  {
    method: 'GET',
    pattern: /^\/v1\/health$/,
    name: 'health',
    handler: async () => [200, { ok: true }],
  },
];

export function prekeyStatus(counts: { preKeys: number; kyberPreKeys: number }, limits: RelayLimits) {
  return {
    preKeys: counts.preKeys,
    kyberPreKeys: counts.kyberPreKeys,
    low: counts.preKeys < limits.lowPreKeys || counts.kyberPreKeys < limits.lowKyberPreKeys,
  };
}

/** The node:http request listener. */
export function createHttpHandler(ctx: HttpContext, extraRoutes: readonly Route[] = []) {
  const all = [...routes, ...extraRoutes];
  return async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const started = ctx.now();
    const url = new URL(req.url ?? '/', 'http://relay.invalid');
    const method = req.method ?? 'GET';
    let routeName = 'unknown';
    let status = 500;
    let bytes = 0;
    try {
      if (!url.pathname.startsWith('/v1/') && method === 'GET' && ctx.serveStatic) {
        if (await ctx.serveStatic(req, res)) {
          status = res.statusCode;
          routeName = 'static';
          return;
        }
      }
      const matching = all.filter((r) => r.pattern.test(url.pathname));
      if (matching.length === 0) throw new HttpError(404, 'not_found', 'no such endpoint');
      const route = matching.find((r) => r.method === method);
      if (!route) {
        res.setHeader('allow', [...new Set(matching.map((r) => r.method))].join(', '));
        throw new HttpError(405, 'method_not_allowed', `${method} is not allowed here`);
      }
      routeName = route.name;
      const params = (route.pattern.exec(url.pathname) ?? []).slice(1) as string[];
      const [code, body] = await route.handler(req, params, ctx);
      status = code;
      bytes = send(res, code, body);
    } catch (err) {
      if (err instanceof HttpError) {
        status = err.status;
        bytes = send(res, err.status, { error: err.code, message: err.message, ...err.extra });
      } else if (err instanceof StoreConflict) {
        status = err.kind === 'unknown_recipient' ? 404 : err.kind === 'queue_full' ? 429 : 413;
        bytes = send(res, status, { error: err.kind, message: err.message });
      } else {
        status = 500;
        ctx.log.error('http.internal-error', {
          route: routeName,
          errorName: (err as Error)?.name ?? 'unknown',
        });
        if (!res.headersSent) bytes = send(res, 500, { error: 'internal', message: 'internal server error' });
      }
      // A body we refused to read must not keep the connection half-consumed.
      if (status === 413) req.resume();
    } finally {
      ctx.log.info('http', {
        method,
        route: routeName,
        status,
        responseBytes: bytes,
        ms: ctx.now() - started,
      });
    }
  };
}
