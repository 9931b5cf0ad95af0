/**
 * Device lists per account: the account's devices (`GET /v1/devices`), unlinking
 * (`DELETE /v1/devices/:id`), and the fan-out submission (`PUT /v1/fanout/:aci`) that refuses a
 * send naming the wrong devices with Signal's answers — 409 `{missingDevices, extraDevices}` and
 * 410 `{staleDevices}` — so a sender learns about linked and unlinked devices before anything is
 * queued. Retry receipts (`POST /v1/receipts`) are the one unencrypted envelope kind (`plaintext`).
 */
import type { IncomingMessage } from 'node:http';
import { authenticate, type HttpContext, jsonBody, pathAci, type Route } from './http.js';
import { IDEMPOTENCY_HEADER, idempotencyKey, requestDigest } from './idempotency.js';
import { RelayQuotas } from './quotas.js';
import { ACI, ACI_DESCRIPTION, arr, b64, bad, HttpError, int, type Json, obj, str } from './validate.js';

/** The highest device id (Signal's limit). */
export const MAX_DEVICE_ID = 127;
/** Envelope kinds a fan-out submission may carry (1:1 ciphertext only: group messages go per member). */
const FANOUT_KINDS = new Set(['prekey', 'whisper']);
/** A retry receipt is a `PlaintextContent`: tens of bytes. */
const MAX_RECEIPT_BODY = 1024;
export const RECEIPT_KIND = 'plaintext';

export interface DeviceInfo {
  readonly deviceId: number;
  readonly registrationId: number;
  readonly createdAt: number;
}

export function listDevices(ctx: HttpContext, aci: string): DeviceInfo[] {
  const rows = ctx.store.db
    .prepare('SELECT device_id, registration_id, created_at FROM devices WHERE aci = ? ORDER BY device_id')
    .all(aci) as { device_id: number; registration_id: number; created_at: number }[];
  return rows.map((r) => ({
    deviceId: r.device_id,
    registrationId: r.registration_id,
    createdAt: r.created_at,
  }));
}

/** A device of a send: its id and, when the sender knows it, the registration id its session holds. */
export interface AddressedDevice {
  readonly deviceId: number;
  readonly registrationId?: number | undefined;
}

/**
 * Throws 409 when `sent` leaves out a device of account `aci` or names one it does not have (the sending
 * device itself is never expected), 410 when a registration id is not the device's current one.
 */
export function checkDeviceSet(
  ctx: HttpContext,
  aci: string,
  sent: readonly AddressedDevice[],
  sender?: { readonly aci: string; readonly deviceId: number },
): void {
  const devices = listDevices(ctx, aci).filter(
    (d) => !(sender && sender.aci === aci && sender.deviceId === d.deviceId),
  );
  if (devices.length === 0 && !(sender && sender.aci === aci))
    throw new HttpError(404, 'not_found', 'no such account');
  const ids = new Set(sent.map((s) => s.deviceId));
  if (ids.size !== sent.length) throw bad('body.messages', 'names a device twice');
  const known = new Map(devices.map((d) => [d.deviceId, d.registrationId]));
  const missingDevices = devices.map((d) => d.deviceId).filter((id) => !ids.has(id));
  const extraDevices = [...ids].filter((id) => !known.has(id)).sort((a, b) => a - b);
  if (missingDevices.length + extraDevices.length > 0)
    throw new HttpError(409, 'mismatched_devices', "the send does not name exactly the account's devices", {
      missingDevices,
      extraDevices,
    });
  const staleDevices = sent
    .filter((s) => s.registrationId !== undefined && known.get(s.deviceId) !== s.registrationId)
    .map((s) => s.deviceId)
    .sort((a, b) => a - b);
  if (staleDevices.length > 0)
    throw new HttpError(410, 'stale_devices', 'some devices were re-registered', { staleDevices });
}

function pathDevice(v: string | undefined): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1 || n > MAX_DEVICE_ID)
    throw new HttpError(404, 'not_found', 'no such device');
  return n;
}

function queue(
  ctx: HttpContext,
  from: { aci: string; deviceId: number },
  to: string,
  messages: { deviceId: number; type: string; body: Uint8Array }[],
): { ids: number[]; serverTimestamp: number } {
  // One timestamp for the whole send: it is what a retry receipt names, so the sender keeps it.
  const now = ctx.now();
  if (messages.length > 0) RelayQuotas.charge(ctx.quotas.sends, from.aci, now, messages.length, 'messages');
  const ids =
    messages.length === 0
      ? []
      : ctx.store.enqueue(
          from.aci,
          from.deviceId,
          messages.map((m) => ({ to, ...m })),
          now,
        );
  for (const d of new Set(messages.map((m) => m.deviceId))) ctx.onQueued(to, d);
  return { ids, serverTimestamp: now };
}

/** The relay's device routes. `onUnlinked` closes the removed device's WebSocket. */
export function deviceRoutes(onUnlinked: (aci: string, deviceId: number) => void): Route[] {
  return [
    {
      method: 'GET',
      pattern: /^\/v1\/devices$/,
      name: 'devices',
      handler: async (req, _p, ctx) => {
        const me = authenticate(req, ctx);
        return [200, { deviceId: me.deviceId, devices: listDevices(ctx, me.aci) }];
      },
    },
    {
      method: 'DELETE',
      pattern: /^\/v1\/devices\/(\d+)$/,
      name: 'unlink',
      handler: async (req, [raw], ctx) => {
        const me = authenticate(req, ctx);
        const id = pathDevice(raw);
        // The primary holds the account (recovery code, backup); it is replaced, not unlinked.
        if (id === 1) throw new HttpError(403, 'forbidden', 'the primary device cannot be unlinked');
        const removed = ctx.store.db.transaction(() => {
          const n = ctx.store.db
            .prepare('DELETE FROM devices WHERE aci = ? AND device_id = ?')
            .run(me.aci, id).changes;
          if (n > 0)
            ctx.store.db.prepare('DELETE FROM envelopes WHERE to_aci = ? AND to_device = ?').run(me.aci, id);
          return n > 0;
        })();
        if (!removed) throw new HttpError(404, 'not_found', 'no such device');
        onUnlinked(me.aci, id);
        ctx.log.info('device.unlinked', { account: me.aci, deviceId: id, by: me.deviceId });
        return [200, { unlinked: id }];
      },
    },
    {
      method: 'PUT',
      pattern: /^\/v1\/fanout\/([^/]+)$/,
      name: 'send-fanout',
      handler: async (req, [rawAci], ctx) => {
        const me = authenticate(req, ctx);
        const to = pathAci(rawAci);
        const limit = Math.ceil((ctx.limits.maxEnvelopeBody * 4) / 3) * MAX_DEVICE_ID + 64 * 1024;
        const body = obj(await jsonBody(req, limit), 'body', ['messages']);
        const messages = arr(body['messages'], 'body.messages', MAX_DEVICE_ID).map((m, i) =>
          fanoutMessage(m, `body.messages[${i}]`, ctx),
        );
        // As POST /v1/messages: a resend with the same Idempotency-Key gets the first answer (same ids and
        // timestamp) and queues nothing; the device check runs only for a first submission.
        const key = idempotencyKey(req.headers[IDEMPOTENCY_HEADER]);
        const digest = requestDigest([
          to,
          ...messages.flatMap((m) => [m.deviceId, m.registrationId, m.type, m.body]),
        ]);
        const { answer: out, replayed } = ctx.idempotency.run(me.aci, key, digest, ctx.now(), () => {
          checkDeviceSet(ctx, to, messages, me);
          return queue(ctx, me, to, messages);
        });
        if (replayed) return [200, { ...out, replayed: true }];
        ctx.log.info('messages.queued', {
          account: me.aci,
          deviceId: me.deviceId,
          count: messages.length,
          recipients: messages.length,
          bytes: messages.reduce((n, m) => n + m.body.length, 0),
        });
        return [200, out];
      },
    },
    {
      method: 'POST',
      pattern: /^\/v1\/receipts$/,
      name: 'send-receipt',
      handler: async (req: IncomingMessage, _p, ctx) => {
        const me = authenticate(req, ctx);
        const o = obj(await jsonBody(req, 4096), 'body', ['to', 'deviceId', 'body']);
        const to = str(o['to'], 'body.to', ACI, ACI_DESCRIPTION);
        const deviceId = int(o['deviceId'], 'body.deviceId', 1, MAX_DEVICE_ID);
        const bytes = b64(o['body'], 'body.body', { min: 1, max: MAX_RECEIPT_BODY });
        // A receipt starts with PlaintextContent's marker byte; anything else is not one.
        if (bytes[0] !== 0xc0) throw bad('body.body', 'must be a PlaintextContent (0xC0 …)');
        const out = queue(ctx, me, to, [{ deviceId, type: RECEIPT_KIND, body: bytes }]);
        ctx.log.info('receipt.queued', { account: me.aci, deviceId: me.deviceId, recipient: to });
        return [200, out];
      },
    },
  ];
}

function fanoutMessage(m: Json, path: string, ctx: HttpContext) {
  const o = obj(m, path, ['deviceId', 'registrationId', 'kind', 'body']);
  const kind = o['kind'];
  if (typeof kind !== 'string' || !FANOUT_KINDS.has(kind))
    throw bad(`${path}.kind`, 'must be prekey or whisper');
  return {
    deviceId: int(o['deviceId'], `${path}.deviceId`, 1, MAX_DEVICE_ID),
    registrationId: int(o['registrationId'], `${path}.registrationId`, 0, 0x7fffffff),
    type: kind,
    body: b64(o['body'], `${path}.body`, { max: ctx.limits.maxEnvelopeBody, min: 1 }),
  };
}
