/**
 * Test helpers for the relay: real key material made with @e2ee-kit/core (so signatures verify), a
 * tiny HTTP client and a WebSocket client that records frames.
 */
import { Buffer } from 'node:buffer';
import { request } from 'node:http';
import { generateKemKeyPair, IdentityKeyPair, KeyPair, nobleProvider, xeddsaSign } from '@e2ee-kit/core';
import WebSocket from 'ws';

const p = nobleProvider;
export const b64 = (b: Uint8Array) => Buffer.from(b).toString('base64');

export interface TestDevice {
  readonly identity: IdentityKeyPair;
  readonly registration: Record<string, unknown>;
}

let nextKeyId = 1;

export async function signedEc(identity: IdentityKeyPair) {
  const kp = await KeyPair.generate(p);
  const publicKey = kp.publicKey.serialize();
  return {
    keyId: nextKeyId++,
    publicKey: b64(publicKey),
    signature: b64(xeddsaSign(identity.privateKey, publicKey, p)),
  };
}

export function signedKem(identity: IdentityKeyPair) {
  const publicKey = generateKemKeyPair(p).publicKey.serialize();
  return {
    keyId: nextKeyId++,
    publicKey: b64(publicKey),
    signature: b64(xeddsaSign(identity.privateKey, publicKey, p)),
  };
}

export async function ecPreKeys(n: number) {
  const out = [];
  for (let i = 0; i < n; i++) {
    out.push({ keyId: nextKeyId++, publicKey: b64((await KeyPair.generate(p)).publicKey.serialize()) });
  }
  return out;
}

export async function makeDevice(
  opts: { preKeys?: number; kyberPreKeys?: number; identity?: IdentityKeyPair } = {},
) {
  const identity = opts.identity ?? (await IdentityKeyPair.generate(p));
  const kyber = [];
  for (let i = 0; i < (opts.kyberPreKeys ?? 2); i++) kyber.push(signedKem(identity));
  return {
    identity,
    registration: {
      registrationId: 1234,
      identityKey: b64(identity.publicKey.serialize()),
      signedPreKey: await signedEc(identity),
      lastResortKyberPreKey: signedKem(identity),
      preKeys: await ecPreKeys(opts.preKeys ?? 3),
      kyberPreKeys: kyber,
    },
  } satisfies TestDevice;
}

export interface Reply {
  readonly status: number;
  readonly body: Record<string, unknown>;
  readonly headers: Headers;
}

export async function call(
  base: string,
  method: string,
  path: string,
  opts: { token?: string; json?: unknown; raw?: string; headers?: Record<string, string> } = {},
): Promise<Reply> {
  const headers: Record<string, string> = { ...opts.headers };
  if (opts.token) headers['authorization'] = `Bearer ${opts.token}`;
  let body: string | undefined;
  if (opts.json !== undefined) {
    headers['content-type'] ??= 'application/json';
    body = JSON.stringify(opts.json);
  } else if (opts.raw !== undefined) {
    body = opts.raw;
  }
  const res = await fetch(base + path, { method, headers, ...(body !== undefined ? { body } : {}) });
  const text = await res.text();
  let parsed: Record<string, unknown> = {};
  try {
    parsed = JSON.parse(text) as Record<string, unknown>;
  } catch {
    parsed = { text };
  }
  return { status: res.status, body: parsed, headers: res.headers };
}

export async function register(base: string, name: string, device: TestDevice, recoveryCode?: string) {
  const r = await call(base, 'POST', '/v1/accounts', {
    json: { name, device: device.registration, ...(recoveryCode ? { recoveryCode } : {}) },
  });
  if (r.status !== 201 && r.status !== 200)
    throw new Error(`register failed: ${r.status} ${JSON.stringify(r.body)}`);
  return r.body as {
    aci: string;
    name: string;
    deviceId: number;
    token: string;
    recoveryCode?: string;
    queueDropped: boolean;
  };
}

/**
 * POST /v1/sealed/<to> under `key` with `count` envelopes for device 1, from the local address `from`
 * (127.0.0.x: a remote of its own to the relay); the status and, when refused, the error code.
 */
export const postSealedFrom = (url: string, from: string, to: string, key: Uint8Array, count = 1) =>
  new Promise<{ status: number; error?: string }>((resolve, reject) => {
    const messages = Array.from({ length: count }, () => ({
      deviceId: 1,
      body: b64(Uint8Array.of(1, 2, 3)),
    }));
    const body = JSON.stringify({ messages });
    const req = request(`${url}/v1/sealed/${to}`, {
      method: 'POST',
      localAddress: from,
      headers: {
        'content-type': 'application/json',
        'content-length': Buffer.byteLength(body),
        'unidentified-access-key': b64(key),
      },
    });
    req.on('response', (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const status = res.statusCode ?? 0;
        if (status === 200) return resolve({ status });
        resolve({ status, error: (JSON.parse(Buffer.concat(chunks).toString()) as { error: string }).error });
      });
    });
    req.on('error', reject);
    req.end(body);
  });

export interface Frame {
  type: string;
  [k: string]: unknown;
}

/** A WebSocket client that records frames and can wait for one matching a predicate. */
export class FrameClient {
  readonly frames: Frame[] = [];
  readonly ws: WebSocket;
  closeCode: number | undefined;
  #waiters: { pred: (f: Frame) => boolean; resolve: (f: Frame) => void }[] = [];
  #closeWaiters: ((code: number) => void)[] = [];

  constructor(url: string) {
    this.ws = new WebSocket(url);
    this.ws.on('message', (data) => {
      const f = JSON.parse(String(data)) as Frame;
      this.frames.push(f);
      this.#waiters = this.#waiters.filter((w) => {
        if (w.pred(f)) {
          w.resolve(f);
          return false;
        }
        return true;
      });
    });
    this.ws.on('close', (code) => {
      this.closeCode = code;
      for (const w of this.#closeWaiters) w(code);
    });
  }

  static async open(url: string, token?: string): Promise<FrameClient> {
    const c = new FrameClient(url);
    await new Promise<void>((resolve, reject) => {
      c.ws.once('open', () => resolve());
      c.ws.once('error', reject);
    });
    if (token) {
      c.send({ type: 'auth', token });
      await c.next((f) => f.type === 'ready');
    }
    return c;
  }

  send(frame: unknown): void {
    this.ws.send(typeof frame === 'string' ? frame : JSON.stringify(frame));
  }

  next(pred: (f: Frame) => boolean, timeoutMs = 5000): Promise<Frame> {
    const seen = this.frames.find(pred);
    if (seen) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => reject(new Error('timed out waiting for a frame')), timeoutMs);
      this.#waiters.push({
        pred,
        resolve: (f) => {
          clearTimeout(t);
          resolve(f);
        },
      });
    });
  }

  closed(timeoutMs = 5000): Promise<number> {
    if (this.closeCode !== undefined) return Promise.resolve(this.closeCode);
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => reject(new Error('timed out waiting for close')), timeoutMs);
      this.#closeWaiters.push((c) => {
        clearTimeout(t);
        resolve(c);
      });
    });
  }

  envelopes(): Frame[] {
    return this.frames.filter((f) => f.type === 'envelope');
  }

  close(): void {
    this.ws.close();
  }
}
