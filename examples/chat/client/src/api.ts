/**
 * The relay's wire API as seen by a client: JSON over fetch for the key directory, message
 * submission and backups; a WebSocket (from `globalThis` or injected) for delivery. Only public keys
 * and ciphertext cross this boundary.
 */
import { copyBytes, DecodeError, fromBase64, toBase64 } from '@e2ee-kit/core';
import { AttachmentError, AttachmentErrorCode } from './attachments.js';
import { parseEnvelope } from './frames.js';
import {
  answer,
  MAX_BACKUP_ANSWER_BYTES,
  MAX_QUEUE_ANSWER_BYTES,
  RelayError,
  readBounded,
} from './relay-answer.js';

export { RelayError } from './relay-answer.js';

export type EnvelopeKind = 'prekey' | 'whisper' | 'senderkey';

export interface Envelope {
  readonly id: number;
  /**
   * The sender's ServiceId (ACI). Empty for a sealed envelope (the relay does not know the sender);
   * opening it names the sender.
   */
  readonly from: string;
  readonly fromDevice: number;
  /** `plaintext`: a retry receipt (unencrypted by design). */
  readonly kind: EnvelopeKind | 'sealed' | 'plaintext';
  readonly body: Uint8Array;
  readonly serverTimestamp: number;
}

export interface SignedKeyJson {
  keyId: number;
  publicKey: string;
  signature: string;
}
export interface PreKeyJson {
  keyId: number;
  publicKey: string;
}
export interface KeyUploadJson {
  signedPreKey?: SignedKeyJson;
  lastResortKyberPreKey?: SignedKeyJson;
  preKeys?: PreKeyJson[];
  kyberPreKeys?: SignedKeyJson[];
}
export interface DeviceRegistrationJson extends KeyUploadJson {
  registrationId: number;
  identityKey: string;
  signedPreKey: SignedKeyJson;
  lastResortKyberPreKey: SignedKeyJson;
}
export interface BundleJson {
  deviceId: number;
  registrationId: number;
  identityKey: string;
  signedPreKey: SignedKeyJson;
  preKey: PreKeyJson | null;
  kyberPreKey: SignedKeyJson & { lastResort: boolean };
}
/** One account in the relay's directory: its ServiceId, display name and device ids. */
export interface DirectoryEntryJson {
  aci: string;
  name: string;
  devices: number[];
}
export interface PreKeyCounts {
  preKeys: number;
  kyberPreKeys: number;
  low: boolean;
}

/** 16 random bytes, base64url (22 characters): what `send` puts in `Idempotency-Key`. */
export function randomIdempotencyKey(): string {
  const bytes = globalThis.crypto.getRandomValues(new Uint8Array(16));
  return toBase64(bytes).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

export type FetchLike = (input: string, init?: RequestInit) => Promise<Response>;

/** The subset of the WebSocket API used here (browsers' and the `ws` package's both fit). */
export interface WebSocketLike {
  readonly readyState: number;
  send(data: string): void;
  close(code?: number, reason?: string): void;
  onopen: ((ev: unknown) => void) | null;
  onmessage: ((ev: { data: unknown }) => void) | null;
  onclose: ((ev: { code: number; reason: string }) => void) | null;
  onerror: ((ev: unknown) => void) | null;
}
export type WebSocketFactory = (url: string) => WebSocketLike;

export function defaultWebSocketFactory(): WebSocketFactory {
  const WS = (globalThis as { WebSocket?: new (url: string) => WebSocketLike }).WebSocket;
  if (typeof WS !== 'function') {
    throw new TypeError(
      'no global WebSocket in this runtime: pass `webSocket` (e.g. the ws package) in the options',
    );
  }
  return (url) => new WS(url);
}

export class RelayApi {
  readonly baseUrl: string;
  readonly #fetch: FetchLike;
  token: string | undefined;
  /**
   * Awaited before any ciphertext is handed to the relay, and told after the relay took one: the
   * client commits the ratchet steps that made it first (operation.ts), so no rollback can reuse them.
   */
  beforeSend: () => Promise<void> = async () => {};
  afterSend: () => void = () => {};

  constructor(baseUrl: string, options: { fetch?: FetchLike; token?: string } = {}) {
    this.baseUrl = baseUrl.replace(/\/+$/, '');
    this.#fetch = options.fetch ?? ((input, init) => globalThis.fetch(input, init));
    this.token = options.token;
  }

  async #call<T>(
    method: string,
    path: string,
    body?: unknown,
    headers: Record<string, string> = {},
    auth = true,
    maxAnswerBytes?: number,
  ): Promise<T> {
    const h: Record<string, string> = { ...headers };
    if (auth && this.token) h['authorization'] = `Bearer ${this.token}`;
    const init: RequestInit = { method, headers: h };
    if (body !== undefined) {
      h['content-type'] = 'application/json';
      init.body = JSON.stringify(body);
    }
    return (await answer(await this.#fetch(this.baseUrl + path, init), maxAnswerBytes)) as T;
  }

  /** Uploads an encrypted attachment blob (opaque bytes); the relay answers with its id. */
  /**
   * Uploads an encrypted blob. `digest` (base64 SHA-256 of the blob, as in its pointer) goes in a
   * `Content-Digest` header, so a relay at this account's quota can still answer a re-upload of a
   * blob it already stores (a retried upload) without being sent a blob it would refuse.
   */
  async uploadAttachment(blob: Uint8Array, digest?: string): Promise<{ id: string }> {
    const headers: Record<string, string> = { 'content-type': 'application/octet-stream' };
    if (digest !== undefined) headers['content-digest'] = `sha-256=:${digest}:`;
    if (this.token) headers['authorization'] = `Bearer ${this.token}`;
    // A copy: the request never holds a view of the caller's bytes (`Buffer#slice` would be one).
    const body = copyBytes(blob) as Uint8Array<ArrayBuffer>; // a fresh ArrayBuffer, as fetch wants
    const res = await this.#fetch(`${this.baseUrl}/v1/attachments`, { method: 'POST', headers, body });
    const json = await answer(res);
    if (typeof json['id'] !== 'string') throw new RelayError(res.status, 'bad_answer', 'no attachment id');
    return { id: json['id'] };
  }

  /**
   * Downloads an attachment blob. Bounded: a blob longer than `maxBytes` is refused from its
   * Content-Length, or as soon as the stream passes the bound, without reading the rest.
   */
  async downloadAttachment(id: string, maxBytes: number): Promise<Uint8Array> {
    const headers: Record<string, string> = {};
    if (this.token) headers['authorization'] = `Bearer ${this.token}`;
    const res = await this.#fetch(`${this.baseUrl}/v1/attachments/${encodeURIComponent(id)}`, { headers });
    if (!res.ok) await answer(res);
    const tooLong = () =>
      new AttachmentError(
        AttachmentErrorCode.Malformed,
        'the relay sent a longer file than this photo can be: the download was stopped',
      );
    return readBounded(res, maxBytes, tooLong);
  }

  register(body: { name: string; recoveryCode?: string; device: DeviceRegistrationJson }) {
    return this.#call<{
      aci: string;
      name: string;
      deviceId: number;
      token: string;
      recoveryCode?: string;
      queueDropped: boolean;
    }>('POST', '/v1/accounts', body, {}, false);
  }

  /** The account registered under a display name (the relay lists no one: 404 when there is none). */
  lookupName(name: string) {
    return this.#call<DirectoryEntryJson>('GET', `/v1/accounts/name/${encodeURIComponent(name)}`);
  }

  /** The account with this ServiceId. */
  lookupServiceId(aci: string) {
    return this.#call<DirectoryEntryJson>('GET', `/v1/accounts/aci/${encodeURIComponent(aci)}`);
  }

  /** A bundle per device of the account `aci` (a ServiceId). */
  bundles(aci: string) {
    return this.#call<{ aci: string; devices: BundleJson[] }>('GET', `/v1/keys/${encodeURIComponent(aci)}`);
  }

  uploadKeys(upload: KeyUploadJson) {
    return this.#call<PreKeyCounts>('PUT', '/v1/keys', upload);
  }

  preKeyStatus() {
    return this.#call<PreKeyCounts>('GET', '/v1/prekey-status');
  }

  /**
   * Submits envelopes with an `Idempotency-Key` (random unless given). When the request fails before
   * an answer arrives (a dropped connection), it is sent once more with the same key: the relay
   * answers the first answer if it had queued them, so nothing is queued twice.
   */
  async send(
    messages: { to: string; deviceId: number; kind: EnvelopeKind; body: Uint8Array }[],
    idempotencyKey: string = randomIdempotencyKey(),
  ) {
    const body = { messages: messages.map((m) => ({ ...m, body: toBase64(m.body) })) };
    const headers = { 'idempotency-key': idempotencyKey };
    if (messages.length > 0) await this.beforeSend();
    let answer: { ids: number[]; replayed?: boolean };
    try {
      answer = await this.#call('POST', '/v1/messages', body, headers);
    } catch (err) {
      if (err instanceof RelayError) throw err; // the relay answered: nothing to retry
      answer = await this.#call('POST', '/v1/messages', body, headers);
    }
    if (messages.length > 0) this.afterSend();
    return answer;
  }

  /** A short-lived sender certificate for this device, and the relay's trust root. */
  certificate() {
    return this.#call<{ certificate: string; expires: number; trustRoot: string }>('GET', '/v1/certificate');
  }

  setAccessKey(accessKey: Uint8Array) {
    return this.#call<{ stored: true }>('PUT', '/v1/access-key', { accessKey: toBase64(accessKey) });
  }

  /**
   * Unidentified delivery to the ServiceId `to`: no Authorization header, only the recipient's access
   * key. With a `registrationId` on every message it is a fan-out send: the relay answers 409/410
   * unless it names exactly the account's devices.
   */
  async sendSealed(
    to: string,
    accessKey: Uint8Array,
    messages: { deviceId: number; registrationId?: number; body: Uint8Array }[],
  ) {
    if (messages.length > 0) await this.beforeSend();
    const answer = await this.#call<{ ids: number[]; serverTimestamp?: number }>(
      'POST',
      `/v1/sealed/${encodeURIComponent(to)}`,
      { messages: messages.map((m) => ({ ...m, body: toBase64(m.body) })) },
      { 'unidentified-access-key': toBase64(accessKey) },
      false,
    );
    if (messages.length > 0) this.afterSend();
    return answer;
  }

  /** One bundle of one device of ServiceId `aci` (a one-time prekey of that device only is used up). */
  async bundle(aci: string, deviceId: number): Promise<BundleJson | undefined> {
    try {
      const r = await this.#call<{ devices: BundleJson[] }>(
        'GET',
        `/v1/keys/${encodeURIComponent(aci)}/${deviceId}`,
      );
      return r.devices.find((d) => d.deviceId === deviceId);
    } catch (err) {
      if (err instanceof RelayError && err.status === 404) return undefined;
      throw err;
    }
  }

  /** A fan-out send to every device of ServiceId `to` (409/410 unless it names exactly those devices). */
  async fanout(
    to: string,
    messages: { deviceId: number; registrationId: number; kind: EnvelopeKind; body: Uint8Array }[],
    idempotencyKey: string = randomIdempotencyKey(),
  ) {
    const path = `/v1/fanout/${encodeURIComponent(to)}`;
    const body = { messages: messages.map((m) => ({ ...m, body: toBase64(m.body) })) };
    const headers = { 'idempotency-key': idempotencyKey };
    type Answer = { ids: number[]; serverTimestamp: number; replayed?: boolean };
    if (messages.length > 0) await this.beforeSend();
    let answer: Answer;
    try {
      answer = await this.#call<Answer>('PUT', path, body, headers);
    } catch (err) {
      if (err instanceof RelayError) throw err; // the relay answered (a 409/410 included): nothing to retry
      answer = await this.#call<Answer>('PUT', path, body, headers); // the answer was lost: once more, same key
    }
    if (messages.length > 0) this.afterSend();
    return answer;
  }

  /** A retry receipt (`PlaintextContent`) to one device of ServiceId `to`. */
  receipt(to: string, deviceId: number, body: Uint8Array) {
    return this.#call<{ ids: number[] }>('POST', '/v1/receipts', { to, deviceId, body: toBase64(body) });
  }

  devices() {
    return this.#call<{
      deviceId: number;
      devices: { deviceId: number; registrationId: number; createdAt: number }[];
    }>('GET', '/v1/devices');
  }

  unlinkDevice(deviceId: number) {
    return this.#call<{ unlinked: number }>('DELETE', `/v1/devices/${deviceId}`);
  }

  provisioningCode() {
    return this.#call<{ code: string }>('GET', '/v1/devices/provisioning-code');
  }

  depositProvisioning(address: string, envelope: Uint8Array) {
    return this.#call<{ deposited: true }>('PUT', `/v1/provisioning/${encodeURIComponent(address)}`, {
      body: toBase64(envelope),
    });
  }

  /** New device, no account yet: a provisioning address. */
  openProvisioning() {
    return this.#call<{ address: string }>('POST', '/v1/provisioning', {}, {}, false);
  }

  /** New device: the envelope the existing device left at `address`, or null (not yet). */
  async collectProvisioning(address: string): Promise<Uint8Array | null> {
    const r = await this.#call<{ envelope: string | null }>(
      'GET',
      `/v1/provisioning/${encodeURIComponent(address)}`,
      undefined,
      {},
      false,
    );
    return r.envelope === null ? null : fromBase64(r.envelope);
  }

  linkDevice(body: { aci: string; provisioningCode: string; device: DeviceRegistrationJson }) {
    return this.#call<{ aci: string; name: string; deviceId: number; token: string }>(
      'POST',
      '/v1/devices/link',
      body,
      {},
      false,
    );
  }

  async fetchQueued(): Promise<Envelope[]> {
    const r = await this.#call<{ envelopes?: unknown }>(
      'GET',
      '/v1/messages',
      undefined,
      {},
      true,
      MAX_QUEUE_ANSWER_BYTES,
    );
    if (!Array.isArray(r.envelopes)) throw new DecodeError('the relay answered no envelope list');
    return r.envelopes.map(parseEnvelope);
  }

  async ack(id: number): Promise<void> {
    await this.#call('DELETE', `/v1/messages/${id}`);
  }

  putBackup(slots: Uint8Array, payload: Uint8Array) {
    return this.#call('PUT', '/v1/backup', { slots: toBase64(slots), payload: toBase64(payload) });
  }

  /**
   * Replaces the slot section, only if the relay still holds the slots whose SHA-256 is `ifSlotsDigest`
   * (the ones this change rewrapped): otherwise 409 `backup_changed` (a new backup, another change).
   */
  putBackupSlots(slots: Uint8Array, ifSlotsDigest: Uint8Array) {
    return this.#call('PUT', '/v1/backup/slots', {
      slots: toBase64(slots),
      ifSlotsDigest: toBase64(ifSlotsDigest),
    });
  }

  async getBackup(name: string, recoveryCode?: string): Promise<{ slots: Uint8Array; payload: Uint8Array }> {
    const r = await this.#call<{ slots: string; payload: string }>(
      'GET',
      `/v1/backup/${encodeURIComponent(name)}`,
      undefined,
      recoveryCode ? { 'x-recovery-code': recoveryCode } : {},
      !recoveryCode,
      MAX_BACKUP_ANSWER_BYTES,
    );
    return { slots: fromBase64(r.slots), payload: fromBase64(r.payload) };
  }

  webSocketUrl(): string {
    return `${this.baseUrl.replace(/^http/, 'ws')}/v1/ws`;
  }
}
