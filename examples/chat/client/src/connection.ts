/**
 * The relay connection: the WebSocket (auth, envelopes processed one at a time and acknowledged
 * only after they committed, "queue-empty", "prekeys-low"), what a reconnect sends (outbox,
 * receipts), the close codes that mean this device lost its registration, and the HTTP fetch of
 * queued envelopes the demo uses to deliver them out of order.
 */
import { defaultWebSocketFactory, type Envelope } from './api.js';
import type { ClientCore } from './core.js';
import { flushReceipts } from './direct.js';
import { parseEnvelope, parseFrame, parsePreKeyCounts } from './frames.js';
import { flushOutbox } from './outbox-send.js';
import { refillPreKeys } from './prekeys.js';
import { receive } from './receive.js';
import type { ChatMessage } from './types.js';

/** WebSocket close codes of the relay that mean this device's registration is gone. */
const CLOSE_UNAUTHORIZED = 4401;
const CLOSE_DEVICE_REPLACED = 4410;
/** `WebSocket.OPEN` (not read from a global: Node 20 has no WebSocket). */
const OPEN = 1;

/** Opens the WebSocket; resolves once the queued envelopes were all received and processed. */
export function connect(c: ClientCore): Promise<void> {
  const factory = c.webSocket ?? defaultWebSocketFactory();
  c.drained = false;
  return new Promise<void>((resolve, reject) => {
    const ws = factory(c.api.webSocketUrl());
    c.socket = ws;
    let ready = false;
    c.queueEmpty.push(resolve);
    ws.onopen = () => ws.send(JSON.stringify({ type: 'auth', token: c.api.token }));
    ws.onerror = () => {
      if (!ready) reject(new Error('could not connect to the relay'));
    };
    ws.onclose = (ev) => {
      if (c.socket === ws) c.socket = undefined;
      if (!ready) reject(new Error(`the relay closed the connection (${ev.code})`));
      c.emitNow('connection', { state: 'closed', code: ev.code });
      if (ev.code === CLOSE_UNAUTHORIZED || ev.code === CLOSE_DEVICE_REPLACED) {
        c.emitNow('registration-lost', {
          reason: ev.code === CLOSE_DEVICE_REPLACED ? 'replaced' : 'unauthorized',
        });
      }
    };
    ws.onmessage = (ev) => {
      // Frames of a shape the relay does not send are ignored (an envelope that cannot be read is
      // not acknowledged): nothing may throw out of this handler.
      let frame: ReturnType<typeof parseFrame>;
      let env: Envelope | undefined;
      try {
        frame = parseFrame(ev.data);
        if (frame.type === 'envelope') env = parseEnvelope(frame);
      } catch {
        return;
      }
      switch (frame.type) {
        case 'ready':
          ready = true;
          c.emitNow('connection', { state: 'open' });
          // The relay is back: what waited offline goes now.
          void flushOutbox(c).catch(() => {});
          void flushReceipts(c).catch(() => {});
          break;
        case 'envelope': {
          if (!env) return;
          receive(c, env)
            .then(() => {
              // A socket that closed meanwhile gets no ack (browsers log sends on closed sockets
              // as console errors); the envelope comes again on the next connection.
              if (ws.readyState === OPEN) ws.send(JSON.stringify({ type: 'ack', id: env.id }));
            })
            .catch(() => {
              /* not acknowledged: the relay sends it again on the next connection */
            });
          break;
        }
        case 'queue-empty':
          // Processed in order after every envelope before it.
          c.queue.then(() => {
            c.drained = true;
            for (const r of c.queueEmpty.splice(0)) r();
          });
          break;
        case 'prekeys-low': {
          const counts = parsePreKeyCounts(frame);
          if (counts) refillPreKeys(c, counts).catch(() => {});
          break;
        }
      }
    };
  });
}

/** Resolves when every envelope received so far has been processed. */
export async function idle(c: ClientCore): Promise<void> {
  await c.queue;
  if (!c.drained && c.socket) await new Promise<void>((r) => c.queueEmpty.push(r));
  await c.queue;
}

export function disconnect(c: ClientCore): void {
  c.socket?.close(1000, 'bye');
  c.socket = undefined;
}

/**
 * Fetches queued envelopes over HTTP instead of the WebSocket and processes them in the order
 * `reorder` returns (the demo uses it to simulate a network that delivers out of order).
 * Each one is acknowledged after it was processed and committed.
 */
export async function syncOnce(
  c: ClientCore,
  reorder: (envs: Envelope[]) => Envelope[] = (e) => e,
): Promise<ChatMessage[]> {
  const envs = reorder(await c.api.fetchQueued());
  const got: ChatMessage[] = [];
  const off = c.on('message', (m) => got.push(m));
  try {
    for (const env of envs) {
      await receive(c, env);
      await c.api.ack(env.id);
    }
  } finally {
    off();
  }
  return got;
}
