/**
 * The relay's sealed-sender certificate authority. At first start it generates a trust root and a
 * server key certified by it and keeps both in its database, so a restart keeps the root that
 * clients pinned. It issues short-lived sender certificates naming (ServiceId, device, identity key).
 * A production service keeps the trust root offline; the demo keeps it next to the queues.
 */
import { KeyPair, nobleProvider, PrivateKey } from '@e2ee-kit/core';
import { type PublicKey, SenderCertificate, ServerCertificate } from '@e2ee-kit/sealed-sender';
import type Database from 'better-sqlite3';

/** How long an issued sender certificate is valid (Signal issues about a day). */
export const SENDER_CERTIFICATE_LIFETIME_MS = 24 * 3600 * 1000;
const SERVER_KEY_ID = 1;

export interface CertificateAuthority {
  readonly trustRoot: PublicKey;
  issue(fields: { aci: string; deviceId: number; identityKey: PublicKey; now: number }): SenderCertificate;
}

export async function loadCertificateAuthority(db: Database.Database): Promise<CertificateAuthority> {
  db.exec(`CREATE TABLE IF NOT EXISTS sealed_sender_ca (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    trust_root_private BLOB NOT NULL,
    server_private BLOB NOT NULL,
    server_certificate BLOB NOT NULL
  ) STRICT`);
  const row = db.prepare('SELECT * FROM sealed_sender_ca WHERE id = 1').get() as
    | { trust_root_private: Uint8Array; server_private: Uint8Array; server_certificate: Uint8Array }
    | undefined;
  let root: KeyPair;
  let server: KeyPair;
  let serverCertificate: ServerCertificate;
  if (row) {
    root = await KeyPair.fromPrivateKey(
      PrivateKey.deserialize(new Uint8Array(row.trust_root_private)),
      nobleProvider,
    );
    server = await KeyPair.fromPrivateKey(
      PrivateKey.deserialize(new Uint8Array(row.server_private)),
      nobleProvider,
    );
    serverCertificate = ServerCertificate.deserialize(new Uint8Array(row.server_certificate));
  } else {
    root = await KeyPair.generate(nobleProvider);
    server = await KeyPair.generate(nobleProvider);
    serverCertificate = ServerCertificate.create(SERVER_KEY_ID, server.publicKey, root.privateKey);
    db.prepare('INSERT INTO sealed_sender_ca VALUES (1, ?, ?, ?)').run(
      root.privateKey.serialize(),
      server.privateKey.serialize(),
      serverCertificate.serialize(),
    );
  }
  return {
    trustRoot: root.publicKey,
    issue: ({ aci, deviceId, identityKey, now }) =>
      SenderCertificate.create({
        senderUuid: aci,
        deviceId,
        identityKey,
        expires: now + SENDER_CERTIFICATE_LIFETIME_MS,
        signer: serverCertificate,
        signerKey: server.privateKey,
      }),
  };
}
