/**
 * Sealed sender for the chat client (Signal's unidentified delivery).
 *
 * Each account has a random 32-byte profile key. Its access key (16 bytes, libsignal's
 * `ProfileKey.deriveAccessKey`: AES-256 of the block 00…02 under the profile key) is registered with
 * the relay; the profile key itself travels only inside end-to-end encrypted 1:1 messages (field `pk`
 * of the content), so only contacts can present the access key. A message to a contact whose access
 * key we know is sealed (v1) with a short-lived certificate the relay issued us and posted without our
 * token; otherwise it goes the authenticated way and `stats.unsealed` counts it.
 */
import {
  type CryptoProvider,
  copyBytes,
  fromBase64,
  type IdentityKeyPair,
  PublicKey,
  toBase64,
} from '@e2ee-kit/core';
import {
  InvalidSenderCertificateError,
  openSealedMessage,
  SenderCertificate,
  sealV1,
  UnidentifiedSenderMessageContent,
} from '@e2ee-kit/sealed-sender';
import { ecb } from '@noble/ciphers/aes.js';
import type { Envelope, EnvelopeKind, RelayApi } from './api.js';
import type { ChatData } from './app-data.js';

const PROFILE_KEY = 'sealed:profile-key';
const TRUST_ROOT = 'sealed:trust-root';
/** Keyed by the contact's ServiceId. */
export const accessKeyOf = (aci: string) => `sealed:access-key:${aci}`;
/** The app rows of this account's own sealed-sender state (a backup carries them). */
export const SEALED_KEYS = [PROFILE_KEY, TRUST_ROOT] as const;
/** Refresh the certificate this long before it expires. */
const CERTIFICATE_MARGIN_MS = 3600 * 1000;

/** libsignal `ProfileKey.deriveAccessKey()`. */
export function deriveAccessKey(profileKey: Uint8Array): Uint8Array {
  if (profileKey.length !== 32) throw new RangeError('a profile key is 32 bytes');
  const block = new Uint8Array(16);
  block[15] = 2;
  return ecb(copyBytes(profileKey), { disablePadding: true }).encrypt(block);
}

export interface Outgoing {
  /** The recipient's ServiceId. */
  readonly to: string;
  readonly deviceId: number;
  readonly kind: EnvelopeKind;
  readonly body: Uint8Array;
}

export interface SealedDeps {
  readonly api: RelayApi;
  readonly identity: IdentityKeyPair;
  readonly provider: CryptoProvider;
  /** Our own ServiceId (what sealed envelopes are addressed to). */
  readonly serviceId: () => string;
  readonly deviceId: () => number;
  readonly now: () => number;
  /** The identity key we hold for ServiceId `aci`, device `deviceId` (from our sessions), or null. */
  readonly identityOf: (aci: string, deviceId: number) => Promise<PublicKey | null>;
}

export class SealedSender {
  #certificate: SenderCertificate | undefined;
  readonly stats = { sealed: 0, unsealed: 0 };

  constructor(readonly deps: SealedDeps) {}

  /**
   * At registration: a fresh profile key, its access key registered, the trust root pinned. A linked
   * device passes the account's profile key (the primary registered its access key already).
   */
  async enroll(tx: ChatData, accountProfileKey?: Uint8Array): Promise<void> {
    const profileKey =
      (accountProfileKey && copyBytes(accountProfileKey)) ?? this.deps.provider.randomBytes(32);
    if (!accountProfileKey) await this.deps.api.setAccessKey(deriveAccessKey(profileKey));
    const reply = await this.deps.api.certificate();
    await tx.put(PROFILE_KEY, profileKey);
    await tx.put(TRUST_ROOT, PublicKey.deserialize(fromBase64(reply.trustRoot)).serialize());
  }

  /** The account's profile key (handed to a device being linked). */
  async profileKey(tx: ChatData): Promise<Uint8Array | undefined> {
    // A copy (a backend may answer a view of a buffer it reuses; `Buffer#slice` would keep it).
    const stored = await tx.get(PROFILE_KEY);
    return stored && copyBytes(stored);
  }

  /**
   * Seals every message of a fan-out send to ServiceId `to` (one per device), or null when this send cannot go
   * sealed (no access key, an unknown identity, no trust root pinned).
   */
  async sealAll(
    tx: ChatData,
    to: string,
    messages: readonly { deviceId: number; registrationId: number; kind: EnvelopeKind; body: Uint8Array }[],
  ): Promise<{
    accessKey: Uint8Array;
    messages: { deviceId: number; registrationId: number; body: Uint8Array }[];
  } | null> {
    const accessKey = await tx.get(accessKeyOf(to));
    if (!accessKey || messages.length === 0 || !(await tx.get(TRUST_ROOT))) return null;
    const out = [];
    for (const m of messages) {
      const identityKey = await this.deps.identityOf(to, m.deviceId);
      if (!identityKey) return null;
      const content = UnidentifiedSenderMessageContent.create({
        type: m.kind,
        senderCertificate: await this.#senderCertificate(),
        content: m.body,
      });
      const body = await sealV1(content, this.deps.identity, identityKey, { provider: this.deps.provider });
      out.push({ deviceId: m.deviceId, registrationId: m.registrationId, body });
    }
    return { accessKey, messages: out };
  }

  /** The relay refused the access key: the contact changed its profile key. */
  async forgetAccessKey(tx: ChatData, to: string): Promise<void> {
    await tx.delete(accessKeyOf(to));
  }

  /** The `pk` field added to our pairwise contents (absent for an account enrolled without it). */
  async profileKeyField(tx: ChatData): Promise<{ pk?: string }> {
    const pk = await tx.get(PROFILE_KEY);
    return pk ? { pk: toBase64(pk) } : {};
  }

  /** Learns a contact's access key from the `pk` field of a pairwise content from ServiceId `from`. */
  async learn(tx: ChatData, from: string, plaintext: Uint8Array): Promise<void> {
    let pk: unknown;
    try {
      pk = (JSON.parse(new TextDecoder().decode(plaintext)) as Record<string, unknown>)['pk'];
    } catch {
      return; // the content decoder reports it
    }
    if (typeof pk !== 'string' || pk.length !== 44) return;
    let bytes: Uint8Array;
    try {
      bytes = fromBase64(pk);
    } catch {
      return;
    }
    if (bytes.length === 32) await tx.put(accessKeyOf(from), deriveAccessKey(bytes));
  }

  async #senderCertificate(): Promise<SenderCertificate> {
    const now = this.deps.now();
    const cached = this.#certificate;
    if (cached && Number(cached.expiresAt) - CERTIFICATE_MARGIN_MS > now) return cached;
    const reply = await this.deps.api.certificate();
    const cert = SenderCertificate.deserialize(fromBase64(reply.certificate));
    this.#certificate = cert;
    return cert;
  }

  /**
   * Sends `messages` in order: sealed where we know the recipient's access key and identity key,
   * authenticated otherwise (and when the relay refuses the access key).
   */
  async send(
    tx: ChatData,
    messages: readonly Outgoing[],
    sendAuthenticated: (m: Outgoing[]) => Promise<unknown>,
  ): Promise<void> {
    for (const m of messages) {
      const accessKey = await tx.get(accessKeyOf(m.to));
      const identityKey = accessKey ? await this.deps.identityOf(m.to, m.deviceId) : null;
      if (accessKey && identityKey && (await tx.get(TRUST_ROOT))) {
        const content = UnidentifiedSenderMessageContent.create({
          type: m.kind,
          senderCertificate: await this.#senderCertificate(),
          content: m.body,
        });
        const sealed = await sealV1(content, this.deps.identity, identityKey, {
          provider: this.deps.provider,
        });
        try {
          await this.deps.api.sendSealed(m.to, accessKey, [{ deviceId: m.deviceId, body: sealed }]);
          this.stats.sealed++;
          continue;
        } catch (err) {
          if ((err as { status?: number }).status !== 401) throw err;
          // The contact changed its profile key: forget the stale access key, send identified.
          await tx.delete(accessKeyOf(m.to));
        }
      }
      this.stats.unsealed++;
      await sendAuthenticated([m]);
    }
  }

  /**
   * Opens a sealed envelope: decrypts it, validates the certificate against the pinned trust root at
   * the relay's timestamp, and returns the inner envelope from the certified sender plus the
   * certified identity key (the caller checks it against the session's identity).
   */
  async open(tx: ChatData, env: Envelope): Promise<{ inner: Envelope; identityKey: PublicKey }> {
    const root = await tx.get(TRUST_ROOT);
    if (!root) throw new Error('no pinned trust root: this account cannot open sealed messages');
    const opened = await openSealedMessage(env.body, this.deps.identity, {
      trustRoots: PublicKey.deserialize(root),
      now: env.serverTimestamp,
      local: { serviceId: this.deps.serviceId(), deviceId: this.deps.deviceId() },
      provider: this.deps.provider,
    });
    const type = opened.content.type;
    if (type !== 'prekey' && type !== 'whisper' && type !== 'senderkey') {
      throw new Error('unsupported sealed content type');
    }
    return {
      inner: {
        id: env.id,
        from: opened.sender.serviceId,
        fromDevice: opened.sender.deviceId,
        kind: type,
        body: opened.content.content(),
        serverTimestamp: env.serverTimestamp,
      },
      identityKey: opened.content.senderCertificate.identityKey,
    };
  }
}

/** Why a sealed envelope was dropped, for the conversation note (no secret in it). */
export function dropReason(err: unknown): string {
  if (err instanceof InvalidSenderCertificateError) return `certificate ${err.reason}`;
  const code = (err as { code?: unknown }).code;
  return typeof code === 'string' ? code : 'invalid';
}
