/** The shapes the relay's store reads and writes, and its size limits. */

export interface SignedPreKeyRow {
  readonly keyId: number;
  readonly publicKey: Uint8Array;
  readonly signature: Uint8Array;
}
export interface PreKeyRow {
  readonly keyId: number;
  readonly publicKey: Uint8Array;
}
export type KyberPreKeyRow = SignedPreKeyRow;

export interface DeviceKeys {
  readonly registrationId: number;
  readonly identityKey: Uint8Array;
  readonly signedPreKey: SignedPreKeyRow;
  readonly lastResortKyberPreKey: KyberPreKeyRow;
  readonly preKeys: readonly PreKeyRow[];
  readonly kyberPreKeys: readonly KyberPreKeyRow[];
}

export interface KeyUpload {
  readonly signedPreKey?: SignedPreKeyRow | undefined;
  readonly lastResortKyberPreKey?: KyberPreKeyRow | undefined;
  readonly preKeys?: readonly PreKeyRow[] | undefined;
  readonly kyberPreKeys?: readonly KyberPreKeyRow[] | undefined;
}

export interface DeviceRow {
  /** The account's ServiceId (ACI): what messages, bundles and sessions are addressed by. */
  readonly aci: string;
  /** The account's display name (directory lookups only). */
  readonly name: string;
  readonly deviceId: number;
  readonly registrationId: number;
  readonly identityKey: Uint8Array;
}

/** One account as the directory shows it. */
export interface DirectoryEntry {
  readonly aci: string;
  readonly name: string;
  readonly devices: readonly number[];
}

export interface Bundle {
  readonly deviceId: number;
  readonly registrationId: number;
  readonly identityKey: Uint8Array;
  readonly signedPreKey: SignedPreKeyRow;
  readonly preKey: PreKeyRow | null;
  readonly kyberPreKey: KyberPreKeyRow & { readonly lastResort: boolean };
}

export interface EnvelopeRow {
  readonly id: number;
  readonly toAci: string;
  readonly toDevice: number;
  /** '' for a sealed envelope (no sender known). */
  readonly fromAci: string;
  readonly fromDevice: number;
  readonly type: string;
  readonly body: Uint8Array;
  readonly serverTimestamp: number;
}

export interface OutgoingMessage {
  /** The recipient's ServiceId. */
  readonly to: string;
  readonly deviceId: number;
  readonly type: string;
  readonly body: Uint8Array;
}

export interface PreKeyCounts {
  readonly preKeys: number;
  readonly kyberPreKeys: number;
}

export interface StoreLimits {
  /** Most one-time EC prekeys stored per device. */
  readonly maxPreKeys: number;
  /** Most one-time Kyber prekeys stored per device. */
  readonly maxKyberPreKeys: number;
  /** Most queued envelopes per device; beyond, senders get 429. */
  readonly maxQueuedPerDevice: number;
  /**
   * Most envelopes one sender may have queued for one device: a share of `maxQueuedPerDevice`, so one
   * flooding account fills its share and gets 429 while everyone else's messages still queue. All
   * sealed envelopes from one remote address count as one sender (the relay cannot tell their
   * senders apart, but each arrives from an address).
   */
  readonly maxQueuedPerSender: number;
}

export const DEFAULT_STORE_LIMITS: StoreLimits = {
  maxPreKeys: 1000,
  maxKyberPreKeys: 200,
  maxQueuedPerDevice: 10_000,
  maxQueuedPerSender: 1_000,
};
