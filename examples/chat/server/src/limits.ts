import type { WindowLimit } from './rate-limit.js';

/**
 * Size, count and rate limits of the relay. Anything above a size limit is refused with 413, above a
 * rate limit with 429; either way nothing changes.
 */
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
  /** Envelopes one account may submit (all recipients together) per window. */
  readonly sendRate: WindowLimit;
  /** Bundles one account may fetch (all targets together) per window. */
  readonly bundleRate: WindowLimit;
  /**
   * One-time prekeys one device hands out per window, whoever asks. Past it a bundle carries only the
   * signed and last-resort keys (as Signal's server does), so a crowd of requesters cannot drain it.
   */
  readonly oneTimeKeyRate: WindowLimit;
  /**
   * One-time prekeys one requesting account gets from one device per window (a session needs one;
   * asking again soon after is a drain, not a contact).
   */
  readonly oneTimeKeyPairRate: WindowLimit;
  /** Most WebSocket connections open at once (authenticated or not); past it an upgrade gets 503. */
  readonly maxSockets: number;
  /**
   * Most WebSocket connections open at once from one remote address (an IPv6 /64); past it 429. A
   * device holds one socket, so this is how many devices may share one address (a NAT).
   */
  readonly maxSocketsPerRemote: number;
  /**
   * Registrations (`POST /v1/accounts`, accepted or refused) one remote address may attempt per
   * window: they need no account, and each stores an account with its prekeys.
   */
  readonly registrationRate: WindowLimit;
  /** Most TCP connections open at once (HTTP and WebSocket); Node refuses more (connection-limits.ts). */
  readonly maxConnections: number;
  /** Most TCP connections of one remote address (not applied behind a trusted proxy). */
  readonly maxConnectionsPerRemote: number;
  /** A request's headers must arrive within this long of its start (else 408 and closed). */
  readonly headersTimeoutMs: number;
  /** A whole request, body included, must arrive within this long (a 44 MB backup on a slow link). */
  readonly requestTimeoutMs: number;
  /** A socket that has not sent a valid auth frame this long after opening is closed (4401). */
  readonly authTimeoutMs: number;
  /**
   * Bytes of request bodies being read at once, all requests together; a body that would pass it is
   * refused with 503 (request-body.ts). At least one largest body (a backup's JSON, ~44 MB).
   */
  readonly maxInFlightBodyBytes: number;
  /** The same, for the requests of one remote address (429 past it). */
  readonly maxInFlightBodyBytesPerRemote: number;
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
  sendRate: { count: 1200, windowMs: 60_000 },
  bundleRate: { count: 100, windowMs: 3_600_000 },
  oneTimeKeyRate: { count: 10, windowMs: 3_600_000 },
  oneTimeKeyPairRate: { count: 2, windowMs: 3_600_000 },
  registrationRate: { count: 30, windowMs: 3_600_000 },
  maxConnections: 20_000,
  maxConnectionsPerRemote: 128,
  headersTimeoutMs: 10_000,
  requestTimeoutMs: 300_000,
  maxSockets: 10_000,
  maxSocketsPerRemote: 64,
  authTimeoutMs: 10_000,
  maxInFlightBodyBytes: 128 * 1024 * 1024,
  maxInFlightBodyBytesPerRemote: 48 * 1024 * 1024,
};
