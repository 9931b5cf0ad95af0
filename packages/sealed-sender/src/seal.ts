/**
 * The public sealing and opening calls. Sealing needs the sender's identity key pair and the
 * recipient's identity public key; opening needs the recipient's identity key pair. All take an
 * optional `provider`.
 */

import type { PublicKey } from '@e2ee-kit/core';
import {
  assertBytes,
  type CryptoProvider,
  DecodeError,
  KeyPair,
  MAX_DEVICE_ID,
  resolveProvider,
} from '@e2ee-kit/core';
import { ownContent, type UnidentifiedSenderMessageContent } from './content.js';
import {
  InvalidSenderCertificateError,
  SealedSenderSelfSendError,
  SealedSenderVersionError,
} from './errors.js';
import { type MultiRecipient, sealMultiRecipientMessage } from './multi-recipient.js';
import { revokedSet, trustRootList, type ValidationOptions } from './sender-certificate.js';
import type { ProviderOption } from './server-certificate.js';
import { type Timestamp, toMillis } from './time.js';
import { openV1Envelope, sealV1Envelope } from './v1.js';
import { openV2Envelope, sealV2Envelope } from './v2.js';
import { checkInputLength, checkSealedLength, ownPublicKey } from './wire.js';

/**
 * Runs `f` with `value` as a `KeyPair` of the core copy this package uses (`KeyPair.from`, e.g. an
 * `IdentityKeyPair`): another copy's pair, in an app that loads two copies of core, is read into a
 * temporary of ours, whose private key is wiped once `f` is done.
 */
async function withKeyPair<T>(value: unknown, name: string, f: (pair: KeyPair) => Promise<T>): Promise<T> {
  const pair = KeyPair.from(value, name);
  try {
    return await f(pair);
  } finally {
    if (pair !== value) pair.privateKey.wipe();
  }
}

type Envelope = (
  content: UnidentifiedSenderMessageContent,
  sender: KeyPair,
  recipient: PublicKey,
  provider: CryptoProvider,
) => Promise<Uint8Array>;

async function sealOne(
  envelope: Envelope,
  content: UnidentifiedSenderMessageContent,
  senderIdentity: KeyPair,
  recipientIdentityKey: PublicKey,
  options: ProviderOption,
): Promise<Uint8Array> {
  // A content of either copy of the package (an app that loads two): the other's is read as ours.
  const own = ownContent(content);
  const recipient = ownPublicKey(recipientIdentityKey, 'recipientIdentityKey');
  const sealed = await withKeyPair(senderIdentity, 'senderIdentity', (sender) =>
    envelope(own, sender, recipient, resolveProvider(options.provider)),
  );
  checkSealedLength(sealed.length); // a USMC near the limit does not fit once sealed
  return sealed;
}

/** Seals `content` for one recipient with sealed sender v1 (libsignal's `sealedSenderEncrypt`). */
export async function sealV1(
  content: UnidentifiedSenderMessageContent,
  senderIdentity: KeyPair,
  recipientIdentityKey: PublicKey,
  options: ProviderOption = {},
): Promise<Uint8Array> {
  return sealOne(sealV1Envelope, content, senderIdentity, recipientIdentityKey, options);
}

/**
 * Seals `content` for one recipient with sealed sender v2: exactly the ReceivedMessage that recipient
 * gets when the server splits a multi-recipient message.
 */
export async function sealV2(
  content: UnidentifiedSenderMessageContent,
  senderIdentity: KeyPair,
  recipientIdentityKey: PublicKey,
  options: ProviderOption = {},
): Promise<Uint8Array> {
  return sealOne(sealV2Envelope, content, senderIdentity, recipientIdentityKey, options);
}

export interface MultiRecipientOptions extends ProviderOption {
  /** ServiceIds deliberately left out (listed in the message so the server can tell). */
  readonly excluded?: readonly string[];
}

/**
 * Encrypts `content` once for many recipient devices (libsignal's `sealedSenderMultiRecipientEncrypt`):
 * a SentMessage for the server, which splits it with `SealedSenderMultiRecipientMessage`.
 */
export async function sealMultiRecipient(
  content: UnidentifiedSenderMessageContent,
  senderIdentity: KeyPair,
  recipients: readonly MultiRecipient[],
  options: MultiRecipientOptions = {},
): Promise<Uint8Array> {
  const own = ownContent(content); // either copy's, as for sealV1 / sealV2
  return withKeyPair(senderIdentity, 'senderIdentity', (sender) =>
    sealMultiRecipientMessage(
      own,
      sender,
      recipients,
      options.excluded ?? [],
      resolveProvider(options.provider),
    ),
  );
}

/**
 * Opens a sealed envelope, v1 or v2 (libsignal's `sealedSenderDecryptToUsmc`): decrypts it with the
 * recipient's identity key pair and checks that whoever sealed it holds the certificate's identity key.
 * The certificate itself is **not** validated: use `openSealedMessage`, or `content.senderCertificate.check`.
 */
export async function unseal(
  message: Uint8Array,
  recipientIdentity: KeyPair,
  options: ProviderOption = {},
): Promise<UnidentifiedSenderMessageContent> {
  assertBytes(message, 'message');
  return withKeyPair(recipientIdentity, 'recipientIdentity', async (recipient) => {
    const provider = resolveProvider(options.provider);
    checkInputLength(message, 'sealed message');
    if (message.length === 0) throw new DecodeError('invalid sealed sender message: Message was empty');
    const bytes = new Uint8Array(message); // a plain copy: never read the caller's memory twice
    const major = (bytes[0] as number) >> 4;
    if (major === 0 || major === 1) return openV1Envelope(bytes, recipient, provider);
    if (major === 2) return openV2Envelope(bytes, recipient, provider);
    throw new SealedSenderVersionError(major);
  });
}

/** The receiving device, for the self-send check. */
export interface LocalDevice {
  /** This account's ACI. */
  readonly serviceId: string;
  readonly e164?: string | undefined;
  readonly deviceId: number;
}

export interface OpenOptions extends ValidationOptions {
  /** Trust root(s) of the server that issues sender certificates. */
  readonly trustRoots: PublicKey | readonly PublicKey[];
  /** Validation time, ms since 1970: the server's timestamp of the envelope (as Signal does). */
  readonly now: Timestamp;
  readonly local: LocalDevice;
}

export interface OpenedSealedMessage {
  readonly content: UnidentifiedSenderMessageContent;
  /** The sender as the certificate names it: pass `{ name: sender.serviceId, deviceId }` to `SessionCipher`/`GroupCipher`. */
  readonly sender: {
    readonly serviceId: string;
    readonly e164: string | undefined;
    readonly deviceId: number;
    readonly identityKey: PublicKey;
  };
}

/**
 * `unseal`, then libsignal's checks before the inner decrypt (spec §5): the certificate validates
 * (else `InvalidSenderCertificateError` with the reason), and the message is not from this very
 * device (else `SealedSenderSelfSendError`). The inner content is then the app's to decrypt as a
 * message from `sender`. Nothing is stored or consumed by this call.
 */
export async function openSealedMessage(
  message: Uint8Array,
  recipientIdentity: KeyPair,
  options: OpenOptions,
): Promise<OpenedSealedMessage> {
  if (options === null || typeof options !== 'object') throw new TypeError('options must be an object');
  const { local } = options;
  if (local === null || typeof local !== 'object')
    throw new TypeError('options.local must name this device ({ serviceId, deviceId })');
  // Read once, before the first await: what is checked here is what the self-send test compares.
  const { serviceId, deviceId, e164 } = local;
  if (typeof serviceId !== 'string')
    throw new TypeError('options.local must name this device ({ serviceId, deviceId })');
  // Range-checked as libsignal's `sealedSenderDecryptMessage` checks its local device id: an id out of
  // range equals no certificate's, so the self-send check below would pass every message silently.
  if (typeof deviceId !== 'number') throw new TypeError('options.local.deviceId must be a number');
  if (!Number.isInteger(deviceId) || deviceId < 1 || deviceId > MAX_DEVICE_ID)
    throw new RangeError(`options.local.deviceId must be 1..${MAX_DEVICE_ID}`);
  if (e164 !== undefined && typeof e164 !== 'string')
    throw new TypeError('options.local.e164 must be a string');
  // The validation inputs too: an app reusing one options object for several envelopes may set the
  // next envelope's `now` (or other roots) while this one decrypts; this call checks what it was given.
  const validation = {
    trustRoots: trustRootList(options.trustRoots),
    now: toMillis(options.now, 'now'),
    revokedKeyIds: revokedSet(options.revokedKeyIds),
    provider: resolveProvider(options.provider),
  };
  const content = await unseal(message, recipientIdentity, validation);
  const cert = content.senderCertificate;
  const check = await cert.check(validation.trustRoots, validation.now, validation);
  if (!check.valid) throw new InvalidSenderCertificateError(check.reason);
  const sameAccount =
    serviceId === cert.senderUuid ||
    (e164 !== undefined && cert.senderE164 !== undefined && e164 === cert.senderE164);
  if (sameAccount && deviceId === cert.deviceId) throw new SealedSenderSelfSendError();
  return Object.freeze({
    content,
    sender: Object.freeze({
      serviceId: cert.senderUuid,
      e164: cert.senderE164,
      deviceId: cert.deviceId,
      identityKey: cert.identityKey,
    }),
  });
}
