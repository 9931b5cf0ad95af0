// @e2ee-kit/sealed-sender — hide the sender from the server, wire-compatible with libsignal's sealed sender.
// Re-exported from @e2ee-kit/core so apps need only this package (same classes, not copies): every
// error class a code of this package's `ErrorCode` can name, and the crypto providers.
export {
  type CryptoProvider,
  createPlatformProvider,
  DecodeError,
  DuplicateMessageError,
  E2eeError,
  type E2eeErrorCode,
  type E2eeErrorCodeMap,
  IdentityKeyPair,
  InvalidKeyError,
  LockedOutError,
  MessageGapError,
  nobleProvider,
  type PlatformProviderOptions,
  PrivateKey,
  PublicKey,
  platformProvider,
  SessionNotFoundError,
  StoreError,
  UnsupportedError,
  UntrustedIdentityError,
  VerificationError,
  WrongPasswordError,
} from '@e2ee-kit/core';
export {
  MAX_SEALED_MESSAGE_LENGTH,
  REVOKED_SERVER_KEY_IDS,
  SEALED_SENDER_V1_VERSION,
  SEALED_SENDER_V2_SERVICE_ID_VERSION,
  SEALED_SENDER_V2_UUID_VERSION,
  SEALED_SENDER_V2_VERSION,
} from './constants.js';
export {
  CIPHERTEXT_MESSAGE_TYPE,
  type ContentFields,
  ContentHint,
  type SealedContentType,
  UnidentifiedSenderMessageContent,
} from './content.js';
export {
  type CertificateFailure,
  ErrorCode,
  InvalidSenderCertificateError,
  SealedSenderErrorCode,
  SealedSenderSelfSendError,
  SealedSenderVersionError,
} from './errors.js';
export { KNOWN_SERVER_CERTIFICATE_IDS } from './known-certificates.js';
export {
  type MultiRecipient,
  type MultiRecipientDevices,
  SealedSenderMultiRecipientMessage,
} from './multi-recipient.js';
export {
  type LocalDevice,
  type MultiRecipientOptions,
  type OpenedSealedMessage,
  type OpenOptions,
  openSealedMessage,
  sealMultiRecipient,
  sealV1,
  sealV2,
  unseal,
} from './seal.js';
export {
  type CertificateCheck,
  SenderCertificate,
  type SenderCertificateFields,
  type ValidationOptions,
} from './sender-certificate.js';
export { type ProviderOption, ServerCertificate } from './server-certificate.js';
export { normalizeServiceId } from './service-id.js';
export type { Timestamp } from './time.js';
