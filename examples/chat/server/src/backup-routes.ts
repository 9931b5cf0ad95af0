/**
 * Backups: the encrypted body and the slot section, stored apart (a password change replaces only the
 * slots). Read by the account's own devices, or with its recovery code on a new phone.
 */
import { timingSafeEqual } from 'node:crypto';
import { base64, sha256 } from './encoding.js';
import { authenticate, jsonBody, pathName, RECOVERY, type Route } from './http.js';
import { b64, HttpError, obj } from './validate.js';

export const backupRoutes: readonly Route[] = [
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
      ctx.store.putBackup(me.aci, slots, payload, ctx.now());
      ctx.log.info('backup.stored', {
        account: me.aci,
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
      const body = obj(await jsonBody(req, ctx.limits.maxJsonBody), 'body', ['slots', 'ifSlotsDigest']);
      const slots = b64(body['slots'], 'body.slots', { max: ctx.limits.maxBackupSlots, min: 1 });
      // Compare-and-set: the SHA-256 of the slots the client rewrapped. A new backup or another
      // password change in between replaced them; these slots would then wrap no key of the stored
      // payload (or undo that change), so they are refused and the client starts again.
      const expected = b64(body['ifSlotsDigest'], 'body.ifSlotsDigest', { max: 32, min: 32 });
      const current = ctx.store.getBackup(me.aci);
      if (!current) throw new HttpError(404, 'not_found', 'there is no backup whose slots could be replaced');
      if (!timingSafeEqual(sha256(current.slots), expected))
        throw new HttpError(409, 'backup_changed', 'the backup changed since its slots were read');
      // No await since the read: better-sqlite3 is synchronous, so nothing ran in between.
      if (!ctx.store.putBackupSlots(me.aci, slots, ctx.now())) {
        throw new HttpError(404, 'not_found', 'there is no backup whose slots could be replaced');
      }
      ctx.log.info('backup.slots-replaced', { account: me.aci, slotsBytes: slots.length });
      return [200, { stored: true }];
    },
  },
  {
    method: 'GET',
    pattern: /^\/v1\/backup\/([^/]+)$/,
    name: 'backup-get',
    handler: async (req, [rawName], ctx) => {
      // By display name: a user restoring on a new phone knows their name, not their ServiceId.
      const name = pathName(rawName);
      const code = req.headers['x-recovery-code'];
      const account = ctx.store.accountByName(name);
      if (typeof code === 'string') {
        if (!RECOVERY.test(code) || !account || !timingSafeEqual(sha256(code), account.recoveryHash)) {
          throw new HttpError(403, 'wrong_recovery_code', 'the recovery code does not match this account');
        }
      } else {
        const me = authenticate(req, ctx);
        if (!account || me.aci !== account.aci)
          throw new HttpError(403, 'forbidden', 'a backup is readable only by its account');
      }
      const backup = ctx.store.getBackup(account.aci);
      if (!backup) throw new HttpError(404, 'not_found', 'no backup stored for this account');
      return [
        200,
        { slots: base64(backup.slots), payload: base64(backup.payload), updatedAt: backup.updatedAt },
      ];
    },
  },
];
