/** The relay's SQLite schema (STRICT tables; every multi-row write runs in one transaction). */
/** 2: accounts are keyed by a random ServiceId (ACI); the display name is a separate unique column. */
export const SCHEMA_VERSION = 2;

export const SCHEMA = `
CREATE TABLE IF NOT EXISTS accounts (
  aci TEXT PRIMARY KEY,
  name TEXT NOT NULL UNIQUE,
  recovery_hash BLOB NOT NULL,
  created_at INTEGER NOT NULL
) STRICT;
CREATE TABLE IF NOT EXISTS devices (
  aci TEXT NOT NULL REFERENCES accounts(aci) ON DELETE CASCADE,
  device_id INTEGER NOT NULL,
  registration_id INTEGER NOT NULL,
  identity_key BLOB NOT NULL,
  token_hash BLOB NOT NULL UNIQUE,
  created_at INTEGER NOT NULL,
  PRIMARY KEY (aci, device_id)
) STRICT;
CREATE INDEX IF NOT EXISTS devices_by_identity ON devices (identity_key);
CREATE TABLE IF NOT EXISTS signed_prekeys (
  aci TEXT NOT NULL,
  device_id INTEGER NOT NULL,
  key_id INTEGER NOT NULL,
  public_key BLOB NOT NULL,
  signature BLOB NOT NULL,
  PRIMARY KEY (aci, device_id),
  FOREIGN KEY (aci, device_id) REFERENCES devices(aci, device_id) ON DELETE CASCADE
) STRICT;
CREATE TABLE IF NOT EXISTS prekeys (
  aci TEXT NOT NULL,
  device_id INTEGER NOT NULL,
  key_id INTEGER NOT NULL,
  public_key BLOB NOT NULL,
  PRIMARY KEY (aci, device_id, key_id),
  FOREIGN KEY (aci, device_id) REFERENCES devices(aci, device_id) ON DELETE CASCADE
) STRICT;
CREATE TABLE IF NOT EXISTS kyber_prekeys (
  aci TEXT NOT NULL,
  device_id INTEGER NOT NULL,
  key_id INTEGER NOT NULL,
  public_key BLOB NOT NULL,
  signature BLOB NOT NULL,
  last_resort INTEGER NOT NULL,
  PRIMARY KEY (aci, device_id, key_id),
  FOREIGN KEY (aci, device_id) REFERENCES devices(aci, device_id) ON DELETE CASCADE
) STRICT;
CREATE TABLE IF NOT EXISTS envelopes (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  to_aci TEXT NOT NULL,
  to_device INTEGER NOT NULL,
  from_aci TEXT NOT NULL,
  from_device INTEGER NOT NULL,
  type TEXT NOT NULL,
  body BLOB NOT NULL,
  server_ts INTEGER NOT NULL
) STRICT;
CREATE INDEX IF NOT EXISTS envelopes_by_recipient ON envelopes (to_aci, to_device, id);
CREATE INDEX IF NOT EXISTS envelopes_by_sender ON envelopes (to_aci, to_device, from_aci);
-- Which remote's share of the device's queue a sealed envelope counts against: a keyed hash of the
-- submitting address under a key that lives only in the relay's memory (sealed.ts), never the address.
CREATE TABLE IF NOT EXISTS sealed_shares (
  envelope_id INTEGER PRIMARY KEY REFERENCES envelopes(id) ON DELETE CASCADE,
  to_aci TEXT NOT NULL,
  to_device INTEGER NOT NULL,
  share BLOB NOT NULL
) STRICT;
CREATE INDEX IF NOT EXISTS sealed_shares_by_recipient ON sealed_shares (to_aci, to_device, share);
CREATE TABLE IF NOT EXISTS idempotency (
  sender TEXT NOT NULL,
  key TEXT NOT NULL,
  request_hash BLOB NOT NULL,
  answer TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  PRIMARY KEY (sender, key)
) STRICT;
CREATE INDEX IF NOT EXISTS idempotency_by_age ON idempotency (created_at);
CREATE TABLE IF NOT EXISTS backups (
  aci TEXT PRIMARY KEY REFERENCES accounts(aci) ON DELETE CASCADE,
  payload BLOB NOT NULL,
  updated_at INTEGER NOT NULL
) STRICT;
CREATE TABLE IF NOT EXISTS backup_slots (
  aci TEXT PRIMARY KEY REFERENCES accounts(aci) ON DELETE CASCADE,
  slots BLOB NOT NULL,
  updated_at INTEGER NOT NULL
) STRICT;
`;
