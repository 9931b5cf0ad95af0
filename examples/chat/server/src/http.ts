/**
 * The HTTP API's router and its account and key routes (registration, directory, bundles, prekey
 * uploads); messages.ts, backup-routes.ts and sealed.ts add theirs. JSON in and out; every byte string is standard base64. Authentication: `Authorization: Bearer
 * <device token>`, a random token issued at registration of which the server keeps only a SHA-256.
 */
import { Buffer } from 'node:buffer';
import { randomBytes, randomUUID, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import {
  type Bundle,
  type DeviceKeys,
  type DeviceRow,
  type DirectoryEntry,
  type RelayStore,
  StoreConflict,
} from './db.js';
import { sha256 } from './encoding.js';
import type { IdempotencyLog } from './idempotency.js';
import { bundleJson, parseDeviceRegistration, parseUpload, prekeyStatus } from './keys.js';
import type { RelayLimits } from './limits.js';
import type { Logger } from './log.js';
import { RelayQuotas } from './quotas.js';
import { type RemoteCounter, remoteOf } from './remote.js';
import { admitBodies, jsonBody } from './request-body.js';
import { ACI, HttpError, NAME, NAME_DESCRIPTION, obj, str } from './validate.js';

export { jsonBody, readBody } from './request-body.js';

export const RECOVERY = /^[0-9a-f]{32}$/;
const TOKEN = /^[A-Za-z0-9_-]{43}$/;

export interface HttpContext {
  readonly store: RelayStore;
  readonly limits: RelayLimits;
  readonly log: Logger;
  readonly now: () => number;
  readonly quotas: RelayQuotas;
  readonly idempotency: IdempotencyLog;
  /** Called after envelopes were queued for a device, so an open WebSocket delivers them. */
  readonly onQueued: (aci: string, deviceId: number) => void;
  /** Called after a bundle was handed out, so the device can be told to refill. */
  readonly onPreKeysTaken: (aci: string, deviceId: number) => void;
  /** Called when a device was replaced by a new registration. */
  readonly onDeviceReplaced: (aci: string) => void;
  /** Bytes of request bodies being read, per remote and in all (request-body.ts). */
  readonly bodies: RemoteCounter;
  /** Whether `X-Forwarded-For` names the remote (remote.ts). */
  readonly trustProxy: boolean;
  /** Serves the web client's built files for GET requests outside /v1 (optional). */
  readonly serveStatic?: ((req: IncomingMessage, res: ServerResponse) => Promise<boolean>) | undefined;
}

function send(res: ServerResponse, status: number, body: unknown): number {
  // Bytes (an attachment blob) go out as they are; everything else is JSON.
  if (body instanceof Uint8Array) {
    const headers = {
      'content-type': 'application/octet-stream',
      'cache-control': 'no-store',
      'x-content-type-options': 'nosniff', // a sender's bytes: never sniffed into HTML
    };
    res.writeHead(status, { ...headers, 'content-length': body.byteLength }).end(body);
    return body.byteLength;
  }
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(text),
    'cache-control': 'no-store',
    'x-content-type-options': 'nosniff',
  });
  res.end(text);
  return text.length;
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

/** decodeURIComponent that answers malformed percent-encoding with `fallback` instead of a URIError. */
export function decodePathPart(v: string | undefined, fallback: () => HttpError): string {
  try {
    return decodeURIComponent(v ?? '');
  } catch {
    throw fallback();
  }
}

const noSuchAccount = () => new HttpError(404, 'not_found', 'no such account');

export function pathName(v: string | undefined): string {
  const name = decodePathPart(v, noSuchAccount);
  if (!NAME.test(name)) throw noSuchAccount();
  return name;
}

export function pathAci(v: string | undefined): string {
  const aci = decodePathPart(v, noSuchAccount);
  if (!ACI.test(aci)) throw noSuchAccount();
  return aci;
}

const directoryJson = (e: DirectoryEntry) => ({ aci: e.aci, name: e.name, devices: [...e.devices] });

export function pathInt(v: string | undefined, max: number): number {
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
      // Counted before the body is read, refused ones too: it needs no account, so it is limited
      // by who asks (a new X-Forwarded-For is no new remote unless a proxy is trusted).
      const remote = remoteOf(req, ctx.trustProxy);
      RelayQuotas.charge(ctx.quotas.registrations, remote, ctx.now(), 1, 'registrations from this address');
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
      const { registrationId, identityKey, upload } = await parseDeviceRegistration(
        body['device'],
        'body.device',
        ctx.limits,
      );
      const keys: DeviceKeys = {
        registrationId,
        identityKey,
        signedPreKey: upload.signedPreKey!,
        lastResortKyberPreKey: upload.lastResortKyberPreKey!,
        preKeys: upload.preKeys ?? [],
        kyberPreKeys: upload.kyberPreKeys ?? [],
      };
      const stored = ctx.store.accountByName(name);
      let newRecovery: string | undefined;
      let recoveryHash: Uint8Array;
      let aci: string;
      if (stored) {
        if (recoveryCode === undefined) {
          throw new HttpError(
            409,
            'name_taken',
            'this name is registered; re-registering needs its recovery code',
          );
        }
        const presented = sha256(recoveryCode);
        if (!timingSafeEqual(presented, stored.recoveryHash)) {
          throw new HttpError(403, 'wrong_recovery_code', 'the recovery code does not match this account');
        }
        recoveryHash = stored.recoveryHash;
        aci = stored.aci; // a re-registration keeps the account's ServiceId
      } else {
        if (recoveryCode !== undefined) throw new HttpError(404, 'not_found', 'no such account to recover');
        newRecovery = randomBytes(16).toString('hex');
        recoveryHash = sha256(newRecovery);
        aci = randomUUID();
      }
      const token = randomBytes(32).toString('base64url');
      const result = ctx.store.register(aci, name, recoveryHash, sha256(token), keys, ctx.now());
      if (!result.created) ctx.onDeviceReplaced(aci);
      ctx.log.info('account.registered', {
        account: aci,
        deviceId: result.deviceId,
        created: result.created,
        queueDropped: result.queueDropped,
        preKeys: keys.preKeys.length,
        kyberPreKeys: keys.kyberPreKeys.length,
      });
      return [
        result.created ? 201 : 200,
        {
          aci,
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
    // Lookups by exact name or ServiceId only: the relay never lists every account to every account
    // (finding someone needs their name), and a lookup takes no prekey, unlike fetching a bundle.
    method: 'GET',
    pattern: /^\/v1\/accounts\/name\/([^/]+)$/,
    name: 'lookup-name',
    handler: async (req, [rawName], ctx) => {
      authenticate(req, ctx);
      const found = ctx.store.accountByName(pathName(rawName));
      const entry = found ? ctx.store.account(found.aci) : null;
      if (!entry) throw noSuchAccount();
      return [200, directoryJson(entry)];
    },
  },
  {
    method: 'GET',
    pattern: /^\/v1\/accounts\/aci\/([^/]+)$/,
    name: 'lookup-aci',
    handler: async (req, [rawAci], ctx) => {
      authenticate(req, ctx);
      const entry = ctx.store.account(pathAci(rawAci));
      if (!entry) throw noSuchAccount();
      return [200, directoryJson(entry)];
    },
  },
  {
    method: 'GET',
    pattern: /^\/v1\/keys\/([^/]+)(?:\/(\d+))?$/,
    name: 'bundle',
    handler: async (req, [rawAci, rawDevice], ctx) => {
      const me = authenticate(req, ctx);
      const aci = pathAci(rawAci);
      const ids = rawDevice === undefined ? ctx.store.deviceIds(aci) : [pathInt(rawDevice, 127)];
      const now = ctx.now();
      // Charged per device asked for, before anything is handed out: a refused fetch takes nothing.
      RelayQuotas.charge(ctx.quotas.bundles, me.aci, now, Math.max(1, ids.length), 'bundle fetches');
      const bundles: Bundle[] = [];
      for (const id of ids) {
        // Past the device's one-time share for this window: the signed + last-resort keys only.
        const oneTime = ctx.quotas.takeOneTimeKey(me.aci, aci, id, now);
        const b = ctx.store.takeBundle(aci, id, oneTime);
        if (b) bundles.push(b);
      }
      if (bundles.length === 0) throw new HttpError(404, 'not_found', 'no such account or device');
      for (const b of bundles) ctx.onPreKeysTaken(aci, b.deviceId);
      return [200, { aci, devices: bundles.map(bundleJson) }];
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
      const counts = ctx.store.uploadKeys(me.aci, me.deviceId, upload);
      ctx.log.info('keys.uploaded', {
        account: me.aci,
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
      return [200, prekeyStatus(ctx.store.preKeyCounts(me.aci, me.deviceId), ctx.limits)];
    },
  },
  {
    method: 'GET',
    pattern: /^\/v1\/health$/,
    name: 'health',
    handler: async () => [200, { ok: true }],
  },
];

/** The request target as a URL; one that does not parse is a 400, not an exception. */
function parseUrl(target: string | undefined): URL {
  try {
    return new URL(target ?? '/', 'http://relay.invalid');
  } catch {
    throw new HttpError(400, 'invalid_request', 'the request target is not a valid path');
  }
}

/** The node:http request listener. */
export function createHttpHandler(ctx: HttpContext, extraRoutes: readonly Route[] = []) {
  const all = [...routes, ...extraRoutes];
  return async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const started = ctx.now();
    const method = req.method ?? 'GET';
    let routeName = 'unknown';
    let status = 500;
    let bytes = 0;
    const releaseBodies = admitBodies(req, ctx.bodies, remoteOf(req, ctx.trustProxy));
    try {
      const url = parseUrl(req.url);
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
        const retry = err.extra?.['retryAfterSeconds'];
        if (typeof retry === 'number' && !res.headersSent) res.setHeader('retry-after', String(retry));
        bytes = send(res, err.status, { error: err.code, message: err.message, ...err.extra });
      } else if (err instanceof StoreConflict) {
        status =
          err.kind === 'unknown_recipient'
            ? 404
            : err.kind === 'queue_full' || err.kind === 'sender_quota'
              ? 429
              : err.kind === 'identity_key_taken'
                ? 409
                : 413;
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
      if (status === 413 || status === 503 || status === 429) req.resume();
    } finally {
      releaseBodies();
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
