/**
 * What the linked-device tests (devices.test.ts, devices-groups.test.ts) share: a fresh relay per
 * test, Node clients on in-memory stores with the `ws` WebSocket, every client kept for the test
 * disconnected after it, and linking a new device the way the UI does (the QR code's text handed to
 * the existing device).
 */
import { afterEach, beforeEach, expect } from 'vitest';
import WebSocket from 'ws';
import { ChatClient, type ChatClientOptions, LinkRequest } from '../client/src/index.js';
import { memoryStore } from '../client/src/memory-store.js';
import { type Relay, silentLogger, startRelay } from '../server/src/index.js';

export interface DeviceTestbed {
  /** This test's relay. */
  readonly relay: Relay;
  /** Client options for this test's relay: a new in-memory store each call, unless overridden. */
  opts(extra?: Partial<ChatClientOptions>): ChatClientOptions;
  /** Keeps `c` to disconnect after the test. */
  keep(c: ChatClient): ChatClient;
  /** Links a new device to `existing`'s account from its link code's text. */
  link(existing: ChatClient): Promise<ChatClient>;
}

/** Registers the per-test relay and the clean-up; call at the top of the test file. */
export function deviceTestbed(): DeviceTestbed {
  let current: Relay | undefined;
  const clients: ChatClient[] = [];
  const relay = (): Relay => {
    if (!current) throw new Error('no relay outside a test');
    return current;
  };
  beforeEach(async () => {
    current = await startRelay({ logger: silentLogger });
  });
  afterEach(async () => {
    for (const c of clients.splice(0)) c.disconnect();
    await current?.close();
    current = undefined;
  });
  const bed: DeviceTestbed = {
    get relay() {
      return relay();
    },
    opts: (extra = {}) => ({
      serverUrl: relay().url,
      store: memoryStore(),
      webSocket: (url) => new WebSocket(url) as never,
      ...extra,
    }),
    keep: (c) => {
      clients.push(c);
      return c;
    },
    link: async (existing) => {
      const request = await LinkRequest.create(relay().url);
      expect(request.uri).toMatch(/^e2ee-chat:\/\/linkdevice\?uuid=[A-Za-z0-9_-]{22}&pub_key=/);
      const linked = ChatClient.link(request, bed.opts());
      await existing.linkDevice(request.uri);
      return bed.keep(await linked);
    },
  };
  return bed;
}

/** A conversation's texts, `>` for sent and `<` for received (notes left out). */
export const texts = async (c: ChatClient, conv: string) =>
  (await c.messages(conv)).filter((m) => !m.system).map((m) => `${m.outgoing ? '>' : '<'} ${m.text}`);
