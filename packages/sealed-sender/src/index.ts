// @e2ee-kit/sealed-sender — hide the sender from the server, wire-compatible with libsignal's sealed sender.
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
