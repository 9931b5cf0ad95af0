/**
 * A relay of its own for every test of a file (in memory), client options for it (a new in-memory
 * store each call, the `ws` WebSocket), and the clients a test keeps, disconnected after it.
 * `reset` runs before each test (e.g. to bring a simulated network back).
 */
import { afterEach, beforeEach } from 'vitest';
import WebSocket from 'ws';
import { type Relay, silentLogger, startRelay } from '../../server/src/index.js';
import type { ChatClient, ChatClientOptions } from '../src/index.js';
import { memoryStore } from '../src/memory-store.js';

export interface PerTestRelay {
  readonly relay: Relay;
  readonly clients: ChatClient[];
  opts(extra?: Partial<ChatClientOptions>): ChatClientOptions;
}

export function perTestRelay(reset: () => void = () => {}): PerTestRelay {
  let current: Relay | undefined;
  const clients: ChatClient[] = [];
  beforeEach(async () => {
    reset();
    current = await startRelay({ logger: silentLogger });
  });
  afterEach(async () => {
    for (const c of clients.splice(0)) c.disconnect();
    await current?.close();
    current = undefined;
  });
  const bed: PerTestRelay = {
    get relay() {
      if (!current) throw new Error('no relay outside a test');
      return current;
    },
    clients,
    opts: (extra = {}) => ({
      serverUrl: bed.relay.url,
      webSocket: (url) => new WebSocket(url) as never,
      store: memoryStore(),
      ...extra,
    }),
  };
  return bed;
}
