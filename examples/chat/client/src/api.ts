/**
 * The relay's wire API as seen by a client: JSON over fetch for the key directory, message
 * submission and backups; a WebSocket (from `globalThis` or injected) for delivery. Only public keys
 * and ciphertext cross this boundary.
 */
import { fromBase64, toBase64 } from '@e2ee-kit/core';

export type EnvelopeKind = 'prekey' | 'whisper' | 'senderkey';

export interface Envelope {
  readonly id: number;
  /** Empty for a sealed envelope (the relay does not know the sender); opening it names the sender. */
  readonly from: string;
  readonly fromDevice: number;
  readonly kind: EnvelopeKind | 'sealed';
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
export interface PreKeyCounts {
  preKeys: number;
  kyberPreKeys: number;
  low: boolean;
}

/** A 4xx/5xx answer of the relay, with its stable `code`. */
export class RelayError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(`relay answered ${status} ${code}: ${message}`);
    this.name = 'RelayError';
  }
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
  ): Promise<T> {
    const h: Record<string, string> = { ...headers };
    if (auth && this.token) h['authorization'] = `Bearer ${this.token}`;
    const init: RequestInit = { method, headers: h };
    if (body !== undefined) {
      h['content-type'] = 'application/json';
      init.body = JSON.stringify(body);
    }
    const res = await this.#fetch(this.baseUrl + path, init);
    const text = await res.text();
    let json: Record<string, unknown> = {};
    try {
      json = text ? (JSON.parse(text) as Record<string, unknown>) : {};
    } catch {
      json = {};
    }
    if (!res.ok) {
      throw new RelayError(
        res.status,
        String(json['error'] ?? 'error'),
        String(json['message'] ?? res.statusText),
      );
    }
    return json as T;
  }

  register(body: { name: string; recoveryCode?: string; device: DeviceRegistrationJson }) {
    return this.#call<{
      name: string;
      deviceId: number;
      token: string;
      recoveryCode?: string;
      queueDropped: boolean;
    }>('POST', '/v1/accounts', body, {}, false);
  }

  directory() {
    return this.#call<{ accounts: { name: string; devices: number[] }[] }>('GET', '/v1/accounts');
  }

  bundles(name: string) {
    return this.#call<{ name: string; devices: BundleJson[] }>('GET', `/v1/keys/${encodeURIComponent(name)}`);
  }

  uploadKeys(upload: KeyUploadJson) {
    return this.#call<PreKeyCounts>('PUT', '/v1/keys', upload);
  }

  preKeyStatus() {
    return this.#call<PreKeyCounts>('GET', '/v1/prekey-status');
  }

  send(messages: { to: string; deviceId: number; kind: EnvelopeKind; body: Uint8Array }[]) {
    return this.#call<{ ids: number[] }>('POST', '/v1/messages', {
      messages: messages.map((m) => ({ ...m, body: toBase64(m.body) })),
    });
  }

  /** A short-lived sender certificate for this device, and the relay's trust root. */
  certificate() {
    return this.#call<{ certificate: string; expires: number; trustRoot: string }>('GET', '/v1/certificate');
  }

  setAccessKey(accessKey: Uint8Array) {
    return this.#call<{ stored: true }>('PUT', '/v1/access-key', { accessKey: toBase64(accessKey) });
  }

  /** Unidentified delivery: no Authorization header, only the recipient's access key. */
  sendSealed(to: string, accessKey: Uint8Array, messages: { deviceId: number; body: Uint8Array }[]) {
    return this.#call<{ ids: number[] }>(
      'POST',
      `/v1/sealed/${encodeURIComponent(to)}`,
      { messages: messages.map((m) => ({ deviceId: m.deviceId, body: toBase64(m.body) })) },
      { 'unidentified-access-key': toBase64(accessKey) },
      false,
    );
  }

  async fetchQueued(): Promise<Envelope[]> {
    const r = await this.#call<{ envelopes: EnvelopeJson[] }>('GET', '/v1/messages');
    return r.envelopes.map(parseEnvelope);
  }

  async ack(id: number): Promise<void> {
    await this.#call('DELETE', `/v1/messages/${id}`);
  }

  putBackup(slots: Uint8Array, payload: Uint8Array) {
    return this.#call('PUT', '/v1/backup', { slots: toBase64(slots), payload: toBase64(payload) });
  }

  putBackupSlots(slots: Uint8Array) {
    return this.#call('PUT', '/v1/backup/slots', { slots: toBase64(slots) });
  }

  async getBackup(name: string, recoveryCode?: string): Promise<{ slots: Uint8Array; payload: Uint8Array }> {
    const r = await this.#call<{ slots: string; payload: string }>(
      'GET',
      `/v1/backup/${encodeURIComponent(name)}`,
      undefined,
      recoveryCode ? { 'x-recovery-code': recoveryCode } : {},
      !recoveryCode,
    );
    return { slots: fromBase64(r.slots), payload: fromBase64(r.payload) };
  }

  /** Uploads an encrypted attachment blob; the relay answers with its id. */
  putAttachment(blob: Uint8Array) {
    return this.#call<{ id: string }>('POST', '/v1/attachments', { body: toBase64(blob) });
  }

  async getAttachment(id: string): Promise<Uint8Array> {
    const r = await this.#call<{ body: string }>('GET', `/v1/attachments/${encodeURIComponent(id)}`);
    return fromBase64(r.body);
  }

  webSocketUrl(): string {
    return `${this.baseUrl.replace(/^http/, 'ws')}/v1/ws`;
  }
}

export interface EnvelopeJson {
  id: number;
  from?: string;
  fromDevice?: number;
  kind: EnvelopeKind | 'sealed';
  body: string;
  serverTimestamp: number;
}

export function parseEnvelope(e: EnvelopeJson): Envelope {
  return {
    id: e.id,
    from: e.from ?? '',
    fromDevice: e.fromDevice ?? 0,
    kind: e.kind,
    body: fromBase64(e.body),
    serverTimestamp: e.serverTimestamp,
  };
}
