/**
 * The relay's storage on SQLite (better-sqlite3). Everything it stores is either public (identity and
 * prekey public keys, signatures), a hash (device tokens, recovery codes), metadata (who sent what to
 * whom, when, how big) or opaque ciphertext that only the clients can open.
 *
 * Every multi-row change runs in one transaction, so a request that fails validation half-way or
 * throws changes nothing. `secure_delete` overwrites deleted rows (acknowledged envelopes, consumed
 * prekeys) instead of leaving them in free pages.
 */
import Database from 'better-sqlite3';
import { SCHEMA, SCHEMA_VERSION } from './schema.js';
import {
  type Bundle,
  DEFAULT_STORE_LIMITS,
  type DeviceKeys,
  type DeviceRow,
  type DirectoryEntry,
  type EnvelopeRow,
  type KeyUpload,
  type OutgoingMessage,
  type PreKeyCounts,
  type StoreLimits,
} from './store-types.js';

export { SCHEMA_VERSION } from './schema.js';
export * from './store-types.js';

/** Thrown by the store for a request that is well-formed but cannot be applied; the HTTP layer maps `kind`. */
export class StoreConflict extends Error {
  constructor(
    readonly kind:
      | 'unknown_recipient'
      | 'queue_full'
      | 'sender_quota'
      | 'prekey_limit'
      | 'identity_key_taken',
    message: string,
  ) {
    super(message);
    this.name = 'StoreConflict';
  }
}

const u8 = (b: Buffer | Uint8Array): Uint8Array =>
  new Uint8Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength));

export class RelayStore {
  readonly db: Database.Database;
  readonly limits: StoreLimits;

  constructor(path: string, limits: Partial<StoreLimits> = {}) {
    this.limits = { ...DEFAULT_STORE_LIMITS, ...limits };
    this.db = new Database(path);
    this.db.pragma('journal_mode = WAL');
    this.db.pragma('synchronous = NORMAL');
    this.db.pragma('foreign_keys = ON');
    this.db.pragma('secure_delete = ON');
    const version = this.db.pragma('user_version', { simple: true }) as number;
    if (version > SCHEMA_VERSION) {
      throw new Error(`database schema version ${version} is newer than this server (${SCHEMA_VERSION})`);
    }
    if (version !== 0 && version < SCHEMA_VERSION) {
      // Version 1 addressed accounts by name; its queues were encrypted to name-addressed sessions.
      throw new Error(
        `database schema version ${version} is from before ServiceIds: start the relay with a new database file`,
      );
    }
    this.db.exec(SCHEMA);
    this.db.pragma(`user_version = ${SCHEMA_VERSION}`);
  }

  close(): void {
    if (this.db.open) {
      this.db.pragma('wal_checkpoint(TRUNCATE)');
      this.db.close();
    }
  }

  // --- accounts and devices -------------------------------------------------------------------

  /** The account registered under a display name, with its recovery-code hash. */
  accountByName(name: string): { aci: string; recoveryHash: Uint8Array } | null {
    const row = this.db.prepare('SELECT aci, recovery_hash FROM accounts WHERE name = ?').get(name) as
      | { aci: string; recovery_hash: Buffer }
      | undefined;
    return row ? { aci: row.aci, recoveryHash: u8(row.recovery_hash) } : null;
  }

  /** The account with this ServiceId, its display name and device ids. */
  account(aci: string): DirectoryEntry | null {
    const row = this.db.prepare('SELECT name FROM accounts WHERE aci = ?').get(aci) as
      | { name: string }
      | undefined;
    const devices = this.deviceIds(aci);
    return row && devices.length > 0 ? { aci, name: row.name, devices } : null;
  }

  /**
   * Creates the account `aci` (when `created`) or replaces all its devices with device 1 (a re-install
   * or a restore on a new phone). When the identity key changes, the queue is dropped: it was
   * encrypted for sessions the new install does not have. When it is the same key (a restore from
   * backup), the queue is kept so the restored device continues where the backup left off. An
   * identity key registered to another account is refused (`identity_key_taken`): publishing someone
   * else's keys under a new name would let messages meant for one account be read as from another.
   */
  register(
    aci: string,
    name: string,
    recoveryHash: Uint8Array,
    tokenHash: Uint8Array,
    keys: DeviceKeys,
    now: number,
  ): { deviceId: number; created: boolean; queueDropped: boolean } {
    return this.db.transaction(() => {
      const owner = this.db
        .prepare('SELECT aci FROM devices WHERE identity_key = ? AND aci != ? LIMIT 1')
        .get(keys.identityKey, aci);
      if (owner) {
        throw new StoreConflict('identity_key_taken', 'this identity key is registered to another account');
      }
      const existing = this.db.prepare('SELECT 1 FROM accounts WHERE aci = ?').get(aci);
      let queueDropped = false;
      if (!existing) {
        this.db
          .prepare('INSERT INTO accounts (aci, name, recovery_hash, created_at) VALUES (?, ?, ?, ?)')
          .run(aci, name, recoveryHash, now);
      } else {
        const old = this.db
          .prepare('SELECT identity_key FROM devices WHERE aci = ? AND device_id = 1')
          .get(aci) as { identity_key: Buffer } | undefined;
        const sameIdentity = old !== undefined && Buffer.from(keys.identityKey).equals(old.identity_key);
        if (!sameIdentity) {
          queueDropped = this.db.prepare('DELETE FROM envelopes WHERE to_aci = ?').run(aci).changes > 0;
        }
        this.db.prepare('DELETE FROM devices WHERE aci = ?').run(aci);
      }
      const deviceId = 1;
      this.db
        .prepare(
          'INSERT INTO devices (aci, device_id, registration_id, identity_key, token_hash, created_at) VALUES (?, ?, ?, ?, ?, ?)',
        )
        .run(aci, deviceId, keys.registrationId, keys.identityKey, tokenHash, now);
      this.#putKeys(aci, deviceId, keys);
      return { deviceId, created: !existing, queueDropped };
    })();
  }

  deviceByTokenHash(tokenHash: Uint8Array): DeviceRow | null {
    const row = this.db
      .prepare(
        'SELECT d.aci, a.name, d.device_id, d.registration_id, d.identity_key FROM devices d JOIN accounts a ON a.aci = d.aci WHERE d.token_hash = ?',
      )
      .get(tokenHash) as
      | { aci: string; name: string; device_id: number; registration_id: number; identity_key: Buffer }
      | undefined;
    if (!row) return null;
    return {
      aci: row.aci,
      name: row.name,
      deviceId: row.device_id,
      registrationId: row.registration_id,
      identityKey: u8(row.identity_key),
    };
  }

  deviceIds(aci: string): number[] {
    const rows = this.db
      .prepare('SELECT device_id FROM devices WHERE aci = ? ORDER BY device_id')
      .all(aci) as { device_id: number }[];
    return rows.map((r) => r.device_id);
  }

  /** Every account with a device: ServiceId, display name, device ids (by name). */
  listAccounts(): DirectoryEntry[] {
    const rows = this.db
      .prepare(
        'SELECT a.aci, a.name, d.device_id FROM devices d JOIN accounts a ON a.aci = d.aci ORDER BY a.name, d.device_id',
      )
      .all() as { aci: string; name: string; device_id: number }[];
    const out = new Map<string, DirectoryEntry & { devices: number[] }>();
    for (const r of rows) {
      const entry = out.get(r.aci) ?? { aci: r.aci, name: r.name, devices: [] };
      entry.devices.push(r.device_id);
      out.set(r.aci, entry);
    }
    return [...out.values()];
  }

  // --- prekeys -------------------------------------------------------------------------------

  uploadKeys(aci: string, deviceId: number, upload: KeyUpload): PreKeyCounts {
    return this.db.transaction(() => {
      this.#putKeys(aci, deviceId, upload);
      return this.preKeyCounts(aci, deviceId);
    })();
  }

  #putKeys(aci: string, deviceId: number, k: KeyUpload): void {
    if (k.signedPreKey) {
      this.db
        .prepare(
          'INSERT OR REPLACE INTO signed_prekeys (aci, device_id, key_id, public_key, signature) VALUES (?, ?, ?, ?, ?)',
        )
        .run(aci, deviceId, k.signedPreKey.keyId, k.signedPreKey.publicKey, k.signedPreKey.signature);
    }
    const putKyber = this.db.prepare(
      'INSERT OR REPLACE INTO kyber_prekeys (aci, device_id, key_id, public_key, signature, last_resort) VALUES (?, ?, ?, ?, ?, ?)',
    );
    if (k.lastResortKyberPreKey) {
      this.db
        .prepare('DELETE FROM kyber_prekeys WHERE aci = ? AND device_id = ? AND last_resort = 1')
        .run(aci, deviceId);
      const lr = k.lastResortKyberPreKey;
      putKyber.run(aci, deviceId, lr.keyId, lr.publicKey, lr.signature, 1);
    }
    for (const kp of k.kyberPreKeys ?? [])
      putKyber.run(aci, deviceId, kp.keyId, kp.publicKey, kp.signature, 0);
    const putPre = this.db.prepare(
      'INSERT OR REPLACE INTO prekeys (aci, device_id, key_id, public_key) VALUES (?, ?, ?, ?)',
    );
    for (const p of k.preKeys ?? []) putPre.run(aci, deviceId, p.keyId, p.publicKey);
    const counts = this.preKeyCounts(aci, deviceId);
    if (counts.preKeys > this.limits.maxPreKeys || counts.kyberPreKeys > this.limits.maxKyberPreKeys) {
      // Throwing inside the transaction rolls the whole upload back.
      throw new StoreConflict(
        'prekey_limit',
        `at most ${this.limits.maxPreKeys} one-time prekeys and ${this.limits.maxKyberPreKeys} one-time Kyber prekeys may be stored`,
      );
    }
  }

  preKeyCounts(aci: string, deviceId: number): PreKeyCounts {
    const pre = this.db
      .prepare('SELECT count(*) AS n FROM prekeys WHERE aci = ? AND device_id = ?')
      .get(aci, deviceId) as { n: number };
    const kyber = this.db
      .prepare('SELECT count(*) AS n FROM kyber_prekeys WHERE aci = ? AND device_id = ? AND last_resort = 0')
      .get(aci, deviceId) as { n: number };
    return { preKeys: pre.n, kyberPreKeys: kyber.n };
  }

  /**
   * A bundle for one device: the signed prekey, one one-time EC prekey (removed: handed out once) if
   * any is left, and one one-time Kyber prekey (removed) or else the reusable last-resort Kyber key.
   * With `oneTime` false (the device handed out its share for now) only the signed prekey and the
   * last-resort Kyber key: a session can still start (PQXDH without a one-time EC key), nothing is used up.
   */
  takeBundle(aci: string, deviceId: number, oneTime = true): Bundle | null {
    return this.db.transaction((): Bundle | null => {
      const dev = this.db
        .prepare('SELECT registration_id, identity_key FROM devices WHERE aci = ? AND device_id = ?')
        .get(aci, deviceId) as { registration_id: number; identity_key: Buffer } | undefined;
      if (!dev) return null;
      const spk = this.db
        .prepare('SELECT key_id, public_key, signature FROM signed_prekeys WHERE aci = ? AND device_id = ?')
        .get(aci, deviceId) as { key_id: number; public_key: Buffer; signature: Buffer } | undefined;
      const pre = oneTime
        ? (this.db
            .prepare(
              'SELECT key_id, public_key FROM prekeys WHERE aci = ? AND device_id = ? ORDER BY key_id LIMIT 1',
            )
            .get(aci, deviceId) as { key_id: number; public_key: Buffer } | undefined)
        : undefined;
      if (pre) {
        this.db
          .prepare('DELETE FROM prekeys WHERE aci = ? AND device_id = ? AND key_id = ?')
          .run(aci, deviceId, pre.key_id);
      }
      const kyber = this.db
        .prepare(
          'SELECT key_id, public_key, signature, last_resort FROM kyber_prekeys WHERE aci = ? AND device_id = ? AND last_resort >= ? ORDER BY last_resort, key_id LIMIT 1',
        )
        .get(aci, deviceId, oneTime ? 0 : 1) as
        | { key_id: number; public_key: Buffer; signature: Buffer; last_resort: number }
        | undefined;
      if (kyber && kyber.last_resort === 0) {
        this.db
          .prepare('DELETE FROM kyber_prekeys WHERE aci = ? AND device_id = ? AND key_id = ?')
          .run(aci, deviceId, kyber.key_id);
      }
      if (!spk || !kyber) return null; // registration always stores both; defensive
      return {
        deviceId,
        registrationId: dev.registration_id,
        identityKey: u8(dev.identity_key),
        signedPreKey: { keyId: spk.key_id, publicKey: u8(spk.public_key), signature: u8(spk.signature) },
        preKey: pre ? { keyId: pre.key_id, publicKey: u8(pre.public_key) } : null,
        kyberPreKey: {
          keyId: kyber.key_id,
          publicKey: u8(kyber.public_key),
          signature: u8(kyber.signature),
          lastResort: kyber.last_resort === 1,
        },
      };
    })();
  }

  // --- envelopes -----------------------------------------------------------------------------

  /**
   * Queues every message or none: an unknown recipient device or a full queue rejects the batch.
   * `sealedShare`: for sealed envelopes (no sender), the submitting remote's tag; the sender quota
   * counts that remote's sealed envelopes for the device instead of one shared "no sender" count.
   */
  enqueue(
    fromAci: string,
    fromDevice: number,
    messages: readonly OutgoingMessage[],
    now: number,
    sealedShare?: Uint8Array,
  ): number[] {
    return this.db.transaction(() => {
      const exists = this.db.prepare('SELECT 1 FROM devices WHERE aci = ? AND device_id = ?');
      const queued = this.db.prepare(
        'SELECT count(*) AS n FROM envelopes WHERE to_aci = ? AND to_device = ?',
      );
      const fromSender = sealedShare
        ? this.db.prepare(
            'SELECT count(*) AS n FROM sealed_shares WHERE to_aci = ? AND to_device = ? AND share = ?',
          )
        : this.db.prepare(
            'SELECT count(*) AS n FROM envelopes WHERE to_aci = ? AND to_device = ? AND from_aci = ?',
          );
      const share = this.db.prepare(
        'INSERT INTO sealed_shares (envelope_id, to_aci, to_device, share) VALUES (?, ?, ?, ?)',
      );
      const insert = this.db.prepare(
        'INSERT INTO envelopes (to_aci, to_device, from_aci, from_device, type, body, server_ts) VALUES (?, ?, ?, ?, ?, ?, ?)',
      );
      const ids: number[] = [];
      for (const m of messages) {
        if (!exists.get(m.to, m.deviceId)) {
          throw new StoreConflict('unknown_recipient', `no device ${m.deviceId} for that recipient`);
        }
        const { n } = queued.get(m.to, m.deviceId) as { n: number };
        if (n >= this.limits.maxQueuedPerDevice) {
          throw new StoreConflict('queue_full', 'the recipient device has too many undelivered messages');
        }
        const mine = fromSender.get(m.to, m.deviceId, sealedShare ?? fromAci) as { n: number };
        if (mine.n >= this.limits.maxQueuedPerSender) {
          throw new StoreConflict(
            'sender_quota',
            'you have too many undelivered messages queued for that device; retry once it has fetched them',
          );
        }
        const r = insert.run(m.to, m.deviceId, fromAci, fromDevice, m.type, m.body, now);
        if (sealedShare) share.run(r.lastInsertRowid, m.to, m.deviceId, sealedShare);
        ids.push(Number(r.lastInsertRowid));
      }
      return ids;
    })();
  }

  pending(aci: string, deviceId: number, afterId = 0, limit = 100): EnvelopeRow[] {
    const rows = this.db
      .prepare(
        'SELECT id, to_aci, to_device, from_aci, from_device, type, body, server_ts FROM envelopes WHERE to_aci = ? AND to_device = ? AND id > ? ORDER BY id LIMIT ?',
      )
      .all(aci, deviceId, afterId, limit) as {
      id: number;
      to_aci: string;
      to_device: number;
      from_aci: string;
      from_device: number;
      type: string;
      body: Buffer;
      server_ts: number;
    }[];
    return rows.map((r) => ({
      id: r.id,
      toAci: r.to_aci,
      toDevice: r.to_device,
      fromAci: r.from_aci,
      fromDevice: r.from_device,
      type: r.type,
      body: u8(r.body),
      serverTimestamp: r.server_ts,
    }));
  }

  /** Removes an acknowledged envelope; false when there is none with that id for this device. */
  ack(aci: string, deviceId: number, id: number): boolean {
    return (
      this.db
        .prepare('DELETE FROM envelopes WHERE id = ? AND to_aci = ? AND to_device = ?')
        .run(id, aci, deviceId).changes > 0
    );
  }

  // --- backups -------------------------------------------------------------------------------

  putBackup(aci: string, slots: Uint8Array, payload: Uint8Array, now: number): void {
    this.db.transaction(() => {
      this.db
        .prepare('INSERT OR REPLACE INTO backups (aci, payload, updated_at) VALUES (?, ?, ?)')
        .run(aci, payload, now);
      this.db
        .prepare('INSERT OR REPLACE INTO backup_slots (aci, slots, updated_at) VALUES (?, ?, ?)')
        .run(aci, slots, now);
    })();
  }

  /** Replaces only the slot section (a password change); false when there is no backup yet. */
  putBackupSlots(aci: string, slots: Uint8Array, now: number): boolean {
    return (
      this.db.prepare('UPDATE backup_slots SET slots = ?, updated_at = ? WHERE aci = ?').run(slots, now, aci)
        .changes > 0
    );
  }

  getBackup(aci: string): { slots: Uint8Array; payload: Uint8Array; updatedAt: number } | null {
    const p = this.db.prepare('SELECT payload, updated_at FROM backups WHERE aci = ?').get(aci) as
      | { payload: Buffer; updated_at: number }
      | undefined;
    const s = this.db.prepare('SELECT slots, updated_at FROM backup_slots WHERE aci = ?').get(aci) as
      | { slots: Buffer; updated_at: number }
      | undefined;
    if (!p || !s) return null;
    return { slots: u8(s.slots), payload: u8(p.payload), updatedAt: Math.max(p.updated_at, s.updated_at) };
  }

  /** Every row of every table, for tests that check a rejected request changed nothing. */
  dump(): Record<string, unknown[]> {
    const out: Record<string, unknown[]> = {};
    for (const t of [
      'accounts',
      'devices',
      'signed_prekeys',
      'prekeys',
      'kyber_prekeys',
      'envelopes',
      'sealed_shares',
      'idempotency',
      'backups',
      'backup_slots',
    ]) {
      out[t] = this.db.prepare(`SELECT * FROM ${t} ORDER BY rowid`).all();
    }
    return out;
  }
}
