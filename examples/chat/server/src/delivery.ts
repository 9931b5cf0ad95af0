/**
 * Delivery over WebSocket (`ws`), path /v1/ws. Frames are JSON text:
 *
 *   client → {"type":"auth","token":"…"}          first frame, within `authTimeoutMs` (10 s)
 *   server → {"type":"ready","aci":"…","name":"…","deviceId":1}
 *   server → {"type":"envelope","id":7,"from":"<sender ServiceId>","fromDevice":1,"kind":"whisper","body":"…","serverTimestamp":…}
 *   client → {"type":"ack","id":7}                  after the client stored the decrypted message
 *   server → {"type":"queue-empty"}                 everything queued at connect time has been sent
 *   server → {"type":"prekeys-low","preKeys":3,"kyberPreKeys":0,"low":true}
 *
 * An envelope stays queued until acknowledged; unacknowledged ones are sent again on the next
 * connection. At most `deliveryWindow` envelopes are in flight per connection. One connection per
 * device: a newer one closes the older (4409). A malformed frame closes the socket (4400).
 *
 * Sockets are admitted before the upgrade: at most `maxSockets` open in the process (503 past it) and
 * `maxSocketsPerRemote` from one remote (429), counted until the TCP socket closes, so a crowd of
 * sockets that never authenticate — or that do — cannot hold the process's memory and descriptors.
 */
import type { Server as HttpServer, IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { type WebSocket, WebSocketServer } from 'ws';
import type { DeviceRow, RelayStore } from './db.js';
import { deviceForToken } from './http.js';
import { prekeyStatus } from './keys.js';
import type { RelayLimits } from './limits.js';
import type { Logger } from './log.js';
import { envelopeJson } from './messages.js';
import { RemoteCounter, remoteOf } from './remote.js';

export const WS_PATH = '/v1/ws';
const MAX_FRAME = 4096;

export const CloseCode = {
  BadFrame: 4400,
  Unauthorized: 4401,
  Replaced: 4409,
  DeviceReplaced: 4410,
  ServerClosing: 1001,
} as const;

class Connection {
  #inFlight = new Set<number>();
  #lastSent = 0;
  #drainedOnce = false;

  constructor(
    readonly socket: WebSocket,
    readonly device: DeviceRow,
    readonly hub: DeliveryHub,
  ) {}

  send(frame: unknown): void {
    if (this.socket.readyState === this.socket.OPEN) this.socket.send(JSON.stringify(frame));
  }

  pump(): void {
    const { store, limits } = this.hub;
    const room = limits.deliveryWindow - this.#inFlight.size;
    if (room <= 0) return;
    const batch = store.pending(this.device.aci, this.device.deviceId, this.#lastSent, room);
    for (const env of batch) {
      this.#inFlight.add(env.id);
      this.#lastSent = env.id;
      this.send({ type: 'envelope', ...envelopeJson(env) });
    }
    if (!this.#drainedOnce && batch.length < room) {
      this.#drainedOnce = true;
      this.send({ type: 'queue-empty' });
    }
  }

  ack(id: number): void {
    if (!this.#inFlight.delete(id)) return; // not sent on this connection: ignore
    this.hub.store.ack(this.device.aci, this.device.deviceId, id);
    this.pump();
  }
}

export class DeliveryHub {
  readonly wss: WebSocketServer;
  readonly #connections = new Map<string, Connection>();
  readonly #admitted: RemoteCounter;

  constructor(
    readonly store: RelayStore,
    readonly limits: RelayLimits,
    readonly log: Logger,
    readonly trustProxy = false,
  ) {
    this.wss = new WebSocketServer({ noServer: true, maxPayload: MAX_FRAME });
    this.#admitted = new RemoteCounter(limits.maxSockets, limits.maxSocketsPerRemote);
  }

  /** Counts the socket against its remote's share and the process's; false (and an answer) when full. */
  #admit(req: IncomingMessage, socket: Duplex): boolean {
    const remote = remoteOf(req, this.trustProxy);
    const full = this.#admitted.take(remote);
    if (full) {
      const status = full === 'total' ? '503 Service Unavailable' : '429 Too Many Requests';
      socket.end(`HTTP/1.1 ${status}\r\nConnection: close\r\nRetry-After: 10\r\nContent-Length: 0\r\n\r\n`);
      this.log.info('ws.refused', { full });
      return false;
    }
    // Released when the TCP socket closes, whatever ends it (a failed handshake, a close, an error).
    socket.once('close', () => this.#admitted.release(remote));
    return true;
  }

  attach(server: HttpServer): void {
    server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
      let path: string;
      try {
        path = new URL(req.url ?? '/', 'http://relay.invalid').pathname;
      } catch {
        // A target URL cannot parse (e.g. `http://[`): refused, never thrown out of the listener.
        socket.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
        return;
      }
      if (path !== WS_PATH) {
        socket.end('HTTP/1.1 404 Not Found\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
        return;
      }
      if (!this.#admit(req, socket)) return;
      this.wss.handleUpgrade(req, socket, head, (ws) => this.#accept(ws));
    });
  }

  #accept(ws: WebSocket): void {
    let conn: Connection | undefined;
    const timer = setTimeout(
      () => ws.close(CloseCode.Unauthorized, 'no auth frame'),
      this.limits.authTimeoutMs,
    );
    ws.on('error', () => ws.terminate());
    ws.on('close', () => {
      clearTimeout(timer);
      if (conn) {
        const key = keyOf(conn.device.aci, conn.device.deviceId);
        if (this.#connections.get(key) === conn) this.#connections.delete(key);
        this.log.info('ws.closed', { account: conn.device.aci, deviceId: conn.device.deviceId });
      }
    });
    ws.on('message', (data, isBinary) => {
      let frame: { type?: unknown; token?: unknown; id?: unknown };
      try {
        if (isBinary) throw new Error('binary');
        frame = JSON.parse(String(data)) as typeof frame;
        if (frame === null || typeof frame !== 'object') throw new Error('not an object');
      } catch {
        ws.close(CloseCode.BadFrame, 'frames must be JSON objects');
        return;
      }
      if (!conn) {
        if (frame.type !== 'auth') {
          ws.close(CloseCode.Unauthorized, 'the first frame must be auth');
          return;
        }
        const device = deviceForToken(this.store, frame.token);
        if (!device) {
          ws.close(CloseCode.Unauthorized, 'unknown or revoked device token');
          return;
        }
        clearTimeout(timer);
        conn = new Connection(ws, device, this);
        const key = keyOf(device.aci, device.deviceId);
        this.#connections.get(key)?.socket.close(CloseCode.Replaced, 'a newer connection took over');
        this.#connections.set(key, conn);
        this.log.info('ws.authenticated', { account: device.aci, deviceId: device.deviceId });
        conn.send({ type: 'ready', aci: device.aci, name: device.name, deviceId: device.deviceId });
        this.notifyPreKeys(device.aci, device.deviceId, true);
        conn.pump();
        return;
      }
      if (frame.type === 'ack' && typeof frame.id === 'number' && Number.isSafeInteger(frame.id)) {
        conn.ack(frame.id);
        return;
      }
      ws.close(CloseCode.BadFrame, 'unknown frame');
    });
  }

  /** New envelopes were queued for this device. */
  queued(aci: string, deviceId: number): void {
    this.#connections.get(keyOf(aci, deviceId))?.pump();
  }

  /** Tells a connected device that it should upload more prekeys (only when it is low, unless `always`). */
  notifyPreKeys(aci: string, deviceId: number, onlyIfLow = true): void {
    const conn = this.#connections.get(keyOf(aci, deviceId));
    if (!conn) return;
    const status = prekeyStatus(this.store.preKeyCounts(aci, deviceId), this.limits);
    if (status.low || !onlyIfLow) conn.send({ type: 'prekeys-low', ...status });
  }

  /** All devices of account `aci` were replaced by a new registration: their sockets are closed. */
  deviceReplaced(aci: string): void {
    for (const [key, conn] of this.#connections) {
      if (conn.device.aci === aci) {
        conn.socket.close(CloseCode.DeviceReplaced, 'this device was replaced by a new registration');
        this.#connections.delete(key);
      }
    }
  }

  /** An unlinked device: its connection ends (its token no longer authenticates). */
  deviceRemoved(aci: string, deviceId: number): void {
    for (const [key, conn] of this.#connections) {
      if (conn.device.aci === aci && conn.device.deviceId === deviceId) {
        conn.socket.close(CloseCode.DeviceReplaced, 'this device was unlinked');
        this.#connections.delete(key);
      }
    }
  }

  close(): void {
    for (const conn of this.#connections.values())
      conn.socket.close(CloseCode.ServerClosing, 'server closing');
    for (const ws of this.wss.clients) ws.terminate();
    this.#connections.clear();
    this.wss.close();
  }
}

const keyOf = (aci: string, deviceId: number) => `${aci}\u0000${deviceId}`;
