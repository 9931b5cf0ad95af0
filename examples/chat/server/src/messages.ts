/**
 * Message submission and the polling fallback to the WebSocket: POST /v1/messages (quotas, rate limit,
 * Idempotency-Key), GET /v1/messages, DELETE /v1/messages/:id.
 */
import type { EnvelopeRow } from './db.js';
import { base64 } from './encoding.js';
import { authenticate, jsonBody, pathInt, type Route } from './http.js';
import { IDEMPOTENCY_HEADER, idempotencyKey, requestDigest } from './idempotency.js';
import { RelayQuotas } from './quotas.js';
import { ACI, ACI_DESCRIPTION, arr, b64, bad, HttpError, int, obj, str } from './validate.js';

export const ENVELOPE_TYPES = ['prekey', 'whisper', 'senderkey'] as const;
export type EnvelopeType = (typeof ENVELOPE_TYPES)[number];

export function envelopeJson(e: EnvelopeRow) {
  // A sealed envelope carries no sender: the relay never knew one.
  if (e.type === 'sealed') {
    return { id: e.id, kind: e.type, body: base64(e.body), serverTimestamp: e.serverTimestamp };
  }
  return {
    id: e.id,
    from: e.fromAci,
    fromDevice: e.fromDevice,
    kind: e.type,
    body: base64(e.body),
    serverTimestamp: e.serverTimestamp,
  };
}

export const messageRoutes: readonly Route[] = [
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
          to: str(o['to'], `${path}.to`, ACI, ACI_DESCRIPTION),
          deviceId: int(o['deviceId'], `${path}.deviceId`, 1, 127),
          type: kind,
          body: b64(o['body'], `${path}.body`, { max: ctx.limits.maxEnvelopeBody, min: 1 }),
        };
      });
      const key = idempotencyKey(req.headers[IDEMPOTENCY_HEADER]);
      const digest = requestDigest(messages.flatMap((m) => [m.to, m.deviceId, m.type, m.body]));
      const now = ctx.now();
      const { answer: ids, replayed } = ctx.idempotency.run(me.aci, key, digest, now, () => {
        RelayQuotas.charge(ctx.quotas.sends, me.aci, now, messages.length, 'messages');
        return ctx.store.enqueue(me.aci, me.deviceId, messages, now);
      });
      if (replayed) {
        ctx.log.info('messages.replayed', { account: me.aci, deviceId: me.deviceId, count: ids.length });
        return [200, { ids, replayed: true }];
      }
      const recipients = new Set(messages.map((m) => `${m.to}\u0000${m.deviceId}`));
      for (const r of recipients) {
        const [to, dev] = r.split('\u0000') as [string, string];
        ctx.onQueued(to, Number(dev));
      }
      ctx.log.info('messages.queued', {
        account: me.aci,
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
      const envelopes = ctx.store.pending(me.aci, me.deviceId, 0, ctx.limits.deliveryWindow);
      return [200, { envelopes: envelopes.map(envelopeJson) }];
    },
  },
  {
    method: 'DELETE',
    pattern: /^\/v1\/messages\/(\d+)$/,
    name: 'ack',
    handler: async (req, [id], ctx) => {
      const me = authenticate(req, ctx);
      if (!ctx.store.ack(me.aci, me.deviceId, pathInt(id, Number.MAX_SAFE_INTEGER))) {
        throw new HttpError(404, 'not_found', 'no such queued message');
      }
      return [200, { acknowledged: true }];
    },
  },
];
