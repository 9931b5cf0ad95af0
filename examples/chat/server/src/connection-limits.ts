/**
 * Limits on TCP connections, before HTTP parses a byte: without them a client could open any number
 * of connections and hold each with headers or a body sent a byte at a time (slowloris) — Node
 * allows 60 s for headers and 5 min for a request by default, and any number of connections.
 *
 * - `maxConnections`: the process's cap (Node refuses connections past it);
 * - `maxConnectionsPerRemote`: one remote's share, counted until each socket closes (WebSockets
 *   included, so it must exceed `maxSocketsPerRemote`). Behind a trusted proxy every connection is
 *   the proxy's, so there the per-remote share is left to the proxy;
 * - `headersTimeoutMs` / `requestTimeoutMs`: the deadlines for a request's headers and whole body,
 *   checked every `CHECK_INTERVAL_MS`.
 */
import type { Server, ServerOptions } from 'node:http';
import type { RelayLimits } from './limits.js';
import type { Logger } from './log.js';
import { RemoteCounter, remoteKey } from './remote.js';

const CHECK_INTERVAL_MS = 1000;

/** The node:http server options that carry the deadlines. */
export function deadlineOptions(limits: RelayLimits): ServerOptions {
  return {
    headersTimeout: limits.headersTimeoutMs,
    requestTimeout: limits.requestTimeoutMs,
    connectionsCheckingInterval: CHECK_INTERVAL_MS,
  };
}

/** Caps the server's connections in all and per remote (see above). */
export function limitConnections(
  server: Server,
  limits: RelayLimits,
  trustProxy: boolean,
  log: Logger,
): void {
  server.maxConnections = limits.maxConnections;
  if (trustProxy) return;
  const open = new RemoteCounter(Number.POSITIVE_INFINITY, limits.maxConnectionsPerRemote);
  server.on('connection', (socket) => {
    const remote = remoteKey(socket.remoteAddress);
    if (open.take(remote)) {
      log.info('tcp.refused', { full: 'remote' });
      socket.destroy();
      return;
    }
    socket.once('close', () => open.release(remote));
  });
}
