/**
 * Sealed sender on the relay (Signal's unidentified delivery):
 *
 *   GET  /v1/certificate          (authenticated) a 24 h sender certificate for the caller's own
 *                                 ServiceId, device and registered identity key, and the trust root
 *   GET  /v1/trust-root           the trust root's public key (clients pin it at registration)
 *   PUT  /v1/access-key           (authenticated) {accessKey}: the 16-byte key senders must present
 *   POST /v1/sealed/<recipient ServiceId>   NOT authenticated; header `Unidentified-Access-Key: base64(16)`;
 *                                 {messages: [{deviceId, body}]} where body is a sealed envelope
 *
 * The sealed endpoint never learns who sends: it checks the access key (constant time) against the
 * recipient's registered one and queues the envelopes with no sender. A wrong or missing key is 401
 * and stores nothing. Attempts are rate-limited per recipient, so the key cannot be guessed online.
 *
 * A sealed envelope has no sender to count it by, but it arrives from a remote address: each remote
 * has its own share of a recipient's window (`perRemote`) and of each device's queue (the store's
 * `maxQueuedPerSender`), as an account has for identified sends. Otherwise one holder of the access
 * key fills the one shared "no sender" share, and every genuine sealed message is refused. The
 * address is never stored for this: shares are keyed by an HMAC of it under a key held in memory
 * only, so the database cannot be searched for an address (after a restart the tags start anew).
 */
import { Buffer } from 'node:buffer';
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { PublicKey } from '@e2ee-kit/core';
import type { CertificateAuthority } from './certificates.js';
import type { RelayStore } from './db.js';
import { checkDeviceSet } from './devices.js';
import { base64 } from './encoding.js';
import { authenticate, decodePathPart, type HttpContext, jsonBody, type Route } from './http.js';
import type { WindowLimiter } from './rate-limit.js';
import { remoteOf } from './remote.js';
import { ACI, arr, b64, bad, HttpError, int, obj } from './validate.js';

export const ACCESS_KEY_LENGTH = 16;
export const SEALED_KIND = 'sealed';

export interface SealedLimits {
  /** Sealed POSTs (accepted or refused) per recipient per window. */
  readonly perRecipient: number;
  /**
   * The part of one recipient's window one remote may use: past it that remote is refused before the
   * recipient's window is touched, so one sender's flood leaves the rest of it to everyone else.
   */
  readonly perRemote: number;
  readonly windowMs: number;
  /** Most recipients tracked at once (the oldest window is forgotten first). */
  readonly trackedRecipients: number;
  /**
   * Refused sealed POSTs (wrong or missing access key) one remote may make per window. A remote past
   * it is refused before the recipient's window is touched: the per-recipient count alone let one
   * client use up anyone's window with junk, and so block every real sealed message to them.
   */
  readonly failuresPerRemote: number;
}

export const DEFAULT_SEALED_LIMITS: SealedLimits = {
  perRecipient: 600,
  perRemote: 120,
  windowMs: 60_000,
  trackedRecipients: 10_000,
  failuresPerRemote: 60,
};

export function ensureAccessKeyTable(store: RelayStore): void {
  store.db.exec(
    'CREATE TABLE IF NOT EXISTS access_keys (aci TEXT PRIMARY KEY, access_key BLOB NOT NULL) STRICT',
  );
}

function storedAccessKey(store: RelayStore, aci: string): Uint8Array | undefined {
  const row = store.db.prepare('SELECT access_key FROM access_keys WHERE aci = ?').get(aci) as
    | { access_key: Uint8Array }
    | undefined;
  return row ? new Uint8Array(row.access_key) : undefined;
}

const tooManyRefused = () =>
  new HttpError(429, 'rate_limited', 'too many refused sealed messages from this address; retry later');

const unauthorized = () =>
  new HttpError(401, 'unauthorized', 'a valid Unidentified-Access-Key for this recipient is required');

function presentedAccessKey(header: string | string[] | undefined): Uint8Array {
  if (typeof header !== 'string' || header.length !== 24) throw unauthorized();
  try {
    const key = b64(header, 'Unidentified-Access-Key', { exact: ACCESS_KEY_LENGTH });
    return key;
  } catch {
    throw unauthorized();
  }
}

const tooManyFromHere = () =>
  new HttpError(
    429,
    'rate_limited',
    'too many sealed messages for this recipient from this address; retry later',
  );

/**
 * `limiter`: sealed POSTs per recipient; `failures`: refused ones per remote; `perRemote`: the share
 * of a recipient's window one remote may use, keyed by recipient and remote tag (see `SealedLimits`;
 * in memory only, as the tags are).
 */
export function sealedRoutes(
  ca: CertificateAuthority,
  limiter: WindowLimiter,
  failures: WindowLimiter,
  perRemote: WindowLimiter,
): Route[] {
  const shareKey = randomBytes(32);
  const shareOf = (remote: string) => createHmac('sha256', shareKey).update(remote).digest().subarray(0, 16);
  return [
    {
      method: 'GET',
      pattern: /^\/v1\/trust-root$/,
      name: 'trust-root',
      handler: async () => [200, { trustRoot: base64(ca.trustRoot.serialize()) }],
    },
    {
      method: 'GET',
      pattern: /^\/v1\/certificate$/,
      name: 'certificate',
      handler: async (req, _p, ctx) => {
        const me = authenticate(req, ctx);
        const now = ctx.now();
        const cert = ca.issue({
          aci: me.aci,
          deviceId: me.deviceId,
          identityKey: PublicKey.deserialize(me.identityKey),
          now,
        });
        // The relay sees who fetched a certificate and when (documented in the README).
        ctx.log.info('certificate.issued', { account: me.aci, deviceId: me.deviceId });
        return [
          200,
          {
            certificate: base64(cert.serialize()),
            expires: Number(cert.expiresAt),
            trustRoot: base64(ca.trustRoot.serialize()),
          },
        ];
      },
    },
    {
      method: 'PUT',
      pattern: /^\/v1\/access-key$/,
      name: 'access-key',
      handler: async (req, _p, ctx) => {
        const me = authenticate(req, ctx);
        const body = obj(await jsonBody(req, ctx.limits.maxJsonBody), 'body', ['accessKey']);
        const key = b64(body['accessKey'], 'body.accessKey', { exact: ACCESS_KEY_LENGTH });
        ctx.store.db
          .prepare(
            'INSERT INTO access_keys (aci, access_key) VALUES (?, ?) ON CONFLICT (aci) DO UPDATE SET access_key = excluded.access_key',
          )
          .run(me.aci, key);
        ctx.log.info('access-key.set', { account: me.aci });
        return [200, { stored: true }];
      },
    },
    {
      method: 'POST',
      pattern: /^\/v1\/sealed\/([^/]+)$/,
      name: 'send-sealed',
      handler: async (req, [rawName], ctx: HttpContext) => {
        const to = decodePathPart(rawName, unauthorized);
        if (!ACI.test(to)) throw unauthorized();
        const remote = remoteOf(req, ctx.trustProxy);
        if (!failures.allows(remote, ctx.now())) throw tooManyRefused();
        const share = shareOf(remote);
        if (!perRemote.take(`${to}\u0000${share.toString('hex')}`, ctx.now())) throw tooManyFromHere();
        // Counted before the key is checked: failed guesses use up the window too.
        if (!limiter.take(to, ctx.now())) {
          throw new HttpError(
            429,
            'rate_limited',
            'too many sealed messages for this recipient; retry later',
          );
        }
        let presented: Uint8Array;
        try {
          presented = presentedAccessKey(req.headers['unidentified-access-key']);
        } catch (err) {
          failures.take(remote, ctx.now());
          throw err;
        }
        const stored = storedAccessKey(ctx.store, to);
        // No registered key: refused like a wrong one (Signal: no stored key → refused).
        const expected = stored ?? new Uint8Array(ACCESS_KEY_LENGTH);
        const equal = timingSafeEqual(Buffer.from(presented), Buffer.from(expected));
        if (!stored || !equal) {
          failures.take(remote, ctx.now());
          throw unauthorized();
        }
        const limit =
          Math.ceil((ctx.limits.maxEnvelopeBody * 4) / 3) * ctx.limits.maxMessagesPerRequest + 64 * 1024;
        const body = obj(await jsonBody(req, limit), 'body', ['messages']);
        const list = arr(body['messages'], 'body.messages', ctx.limits.maxMessagesPerRequest);
        if (list.length === 0) throw bad('body.messages', 'must not be empty');
        const messages = list.map((m, i) => {
          const path = `body.messages[${i}]`;
          const o = obj(m, path, ['deviceId', 'registrationId', 'body']);
          return {
            to,
            deviceId: int(o['deviceId'], `${path}.deviceId`, 1, 127),
            registrationId:
              o['registrationId'] === undefined
                ? undefined
                : int(o['registrationId'], `${path}.registrationId`, 0, 0x7fffffff),
            type: SEALED_KIND,
            body: b64(o['body'], `${path}.body`, { max: ctx.limits.maxEnvelopeBody, min: 1 }),
          };
        });
        // A fan-out send (registration ids given) must name every device: 409/410 otherwise.
        const withIds = messages.filter((m) => m.registrationId !== undefined).length;
        if (withIds > 0 && withIds < messages.length)
          throw bad('body.messages', 'registrationId must be given on every message or on none');
        if (withIds > 0) checkDeviceSet(ctx, to, messages);
        const now = ctx.now();
        // No sender: the row's sender columns stay empty ('' and 0).
        const ids = ctx.store.enqueue(
          '',
          0,
          messages.map(({ registrationId: _r, ...m }) => m),
          now,
          share,
        );
        for (const d of new Set(messages.map((m) => m.deviceId))) ctx.onQueued(to, d);
        ctx.log.info('sealed.queued', {
          recipient: to,
          count: messages.length,
          bytes: messages.reduce((n, m) => n + m.body.length, 0),
        });
        return [200, { ids, serverTimestamp: now }];
      },
    },
  ];
}
