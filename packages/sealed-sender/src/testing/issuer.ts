/**
 * A throwaway certificate authority for tests and demos: a trust root, one server key certified by
 * it, and `issue()` for sender certificates. A real server keeps the trust root offline and
 * publishes only its public key to clients.
 */
import { type CryptoProvider, KeyPair, type PublicKey, resolveProvider } from '@e2ee-kit/core';
// The package's own name, not relative paths: ./testing must share the main entry's classes.
import { SenderCertificate, ServerCertificate, type Timestamp } from '@e2ee-kit/sealed-sender';

export interface TestIssuer {
  /** Give this to clients: they validate sender certificates against it. */
  readonly trustRoot: PublicKey;
  readonly trustRootKeyPair: KeyPair;
  readonly serverKeyPair: KeyPair;
  readonly serverCertificate: ServerCertificate;
  /** A sender certificate for `senderUuid`.`deviceId` with `identityKey`, valid until `expires` (default: in one day). */
  issue(fields: {
    senderUuid: string;
    senderE164?: string;
    deviceId: number;
    identityKey: PublicKey;
    expires?: Timestamp;
  }): SenderCertificate;
}

export async function createTestIssuer(
  options: { keyId?: number; provider?: CryptoProvider } = {},
): Promise<TestIssuer> {
  const provider = resolveProvider(options.provider);
  const trustRootKeyPair = await KeyPair.generate(provider);
  const serverKeyPair = await KeyPair.generate(provider);
  const serverCertificate = ServerCertificate.create(
    options.keyId ?? 1,
    serverKeyPair.publicKey,
    trustRootKeyPair.privateKey,
    { provider },
  );
  return {
    trustRoot: trustRootKeyPair.publicKey,
    trustRootKeyPair,
    serverKeyPair,
    serverCertificate,
    issue: (f) =>
      SenderCertificate.create(
        {
          senderUuid: f.senderUuid,
          senderE164: f.senderE164,
          deviceId: f.deviceId,
          identityKey: f.identityKey,
          expires: f.expires ?? Date.now() + 86_400_000,
          signer: serverCertificate,
          signerKey: serverKeyPair.privateKey,
        },
        { provider },
      ),
  };
}
