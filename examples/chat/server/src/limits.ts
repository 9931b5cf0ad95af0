/** Size and count limits of the relay. Anything above them is refused with 413 and changes nothing. */
export interface RelayLimits {
  /** Largest JSON request body in bytes. */
  readonly maxJsonBody: number;
  /** Largest single ciphertext envelope body in bytes. */
  readonly maxEnvelopeBody: number;
  /** Most envelopes in one POST /v1/messages. */
  readonly maxMessagesPerRequest: number;
  /** Most one-time EC prekeys in one upload. */
  readonly maxPreKeysPerUpload: number;
  /** Most one-time Kyber prekeys in one upload. */
  readonly maxKyberPreKeysPerUpload: number;
  /** Largest encrypted backup payload in bytes. */
  readonly maxBackupPayload: number;
  /** Largest backup slot section in bytes. */
  readonly maxBackupSlots: number;
  /** A device whose one-time EC prekeys fall below this count is told to refill. */
  readonly lowPreKeys: number;
  /** A device whose one-time Kyber prekeys fall below this count is told to refill. */
  readonly lowKyberPreKeys: number;
  /** Envelopes sent over one WebSocket before acknowledgements must come back. */
  readonly deliveryWindow: number;
}

export const DEFAULT_LIMITS: RelayLimits = {
  maxJsonBody: 512 * 1024,
  maxEnvelopeBody: 64 * 1024,
  maxMessagesPerRequest: 200,
  maxPreKeysPerUpload: 100,
  maxKyberPreKeysPerUpload: 100,
  maxBackupPayload: 32 * 1024 * 1024,
  maxBackupSlots: 64 * 1024,
  lowPreKeys: 10,
  lowKyberPreKeys: 10,
  deliveryWindow: 100,
};
