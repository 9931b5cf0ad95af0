import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { extname, join, normalize, resolve, sep } from 'node:path';
import { backupRoutes } from './backup-routes.js';
import { type BlobLimits, blobRoutes, DEFAULT_BLOB_LIMITS, ensureBlobTable } from './blobs.js';
import { loadCertificateAuthority } from './certificates.js';
import { deadlineOptions, limitConnections } from './connection-limits.js';
import { RelayStore, type StoreLimits } from './db.js';
import { DeliveryHub } from './delivery.js';
import { deviceRoutes } from './devices.js';
import { createHttpHandler } from './http.js';
import { IdempotencyLog } from './idempotency.js';
import { DEFAULT_LIMITS, type RelayLimits } from './limits.js';
import { createLogger, type Logger } from './log.js';
import { messageRoutes } from './messages.js';
import {
  DEFAULT_PROVISIONING_LIMITS,
  type ProvisioningLimits,
  ProvisioningState,
  provisioningRoutes,
} from './provisioning.js';
import { RelayQuotas } from './quotas.js';
import { WindowLimiter } from './rate-limit.js';
import { ensureRateWindowTable, sqliteWindows } from './rate-windows.js';
import { RemoteCounter } from './remote.js';
import { DEFAULT_SEALED_LIMITS, ensureAccessKeyTable, type SealedLimits, sealedRoutes } from './sealed.js';

export interface RelayOptions {
  /** SQLite file (default ':memory:'; a file is needed for queues to survive a restart). */
  dbPath?: string;
  /** Port (default 0: a free one). */
  port?: number;
  /** Interface (default 127.0.0.1). */
  host?: string;
  logger?: Logger;
  limits?: Partial<RelayLimits>;
  storeLimits?: Partial<StoreLimits>;
  /** A directory of built web-client files served for GET requests outside /v1. */
  staticDir?: string;
  now?: () => number;
  /** Rate limit of the unauthenticated sealed-sender endpoint. */
  sealedLimits?: Partial<SealedLimits>;
  /** Size and quota limits of attachment blobs. */
  blobLimits?: Partial<BlobLimits>;
  /** Lifetime and caps of device-linking addresses and codes. */
  provisioningLimits?: Partial<ProvisioningLimits>;
  /**
   * The relay runs behind a reverse proxy that appends the client's address to `X-Forwarded-For`:
   * per-remote limits then use that address. Off by default — without a proxy the header is the
   * client's to choose, so trusting it would let anyone escape those limits.
   */
  trustProxy?: boolean;
}

export interface Relay {
  readonly url: string;
  readonly wsUrl: string;
  readonly port: number;
  readonly store: RelayStore;
  readonly server: Server;
  /** Bytes of request bodies being read right now (see `maxInFlightBodyBytes`). */
  readonly bodyBytesInFlight: number;
  close(): Promise<void>;
}

const MIME: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.wasm': 'application/wasm',
  '.json': 'application/json',
  '.ico': 'image/x-icon',
};

/**
 * The policy every file of the web client is served with. The page holds the IndexedDB of keys, so an
 * injected script is the worst case: it may not run (scripts only from the relay's own files — no
 * inline script, no eval; 'wasm-unsafe-eval' lets hash-wasm compile Argon2 for backups and nothing
 * else), nor send anything anywhere but the relay (connect-src 'self' covers its same-origin
 * WebSocket), nor be framed by another site (frame-ancestors). Photos are decrypted into blob: URLs;
 * the QR codes are inline SVG without style attributes, so styles come from the stylesheet only.
 * Trusted Types with no policy allowed: no string reaches innerHTML or another HTML or script sink
 * (the page builds every element, SVG included, with DOM APIs), so an injection has no parser.
 */
const CONTENT_SECURITY_POLICY = [
  "default-src 'none'",
  "script-src 'self' 'wasm-unsafe-eval'",
  "style-src 'self'",
  "img-src 'self' blob:",
  "connect-src 'self'",
  "object-src 'none'",
  "base-uri 'none'",
  "form-action 'none'",
  "frame-ancestors 'none'",
  "require-trusted-types-for 'script'",
  "trusted-types 'none'",
].join('; ');

const SECURITY_HEADERS = {
  'content-security-policy': CONTENT_SECURITY_POLICY,
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  // A window of another site that opens this page (or that it opens) gets no handle on it.
  'cross-origin-opener-policy': 'same-origin',
  // frame-ancestors for browsers that predate it.
  'x-frame-options': 'DENY',
} as const;

function staticServer(dir: string) {
  const root = resolve(dir);
  return async (req: IncomingMessage, res: ServerResponse): Promise<boolean> => {
    let pathname: string;
    try {
      pathname = decodeURIComponent(new URL(req.url ?? '/', 'http://relay.invalid').pathname);
    } catch {
      return false; // malformed percent-encoding: no such file (the API router answers 404)
    }
    const rel = normalize(pathname === '/' ? '/index.html' : pathname);
    const file = join(root, rel);
    if (file !== root && !file.startsWith(root + sep)) return false;
    try {
      const s = await stat(file);
      if (!s.isFile()) return false;
      res.writeHead(200, {
        ...SECURITY_HEADERS,
        'content-type': MIME[extname(file)] ?? 'application/octet-stream',
        'content-length': s.size,
      });
      createReadStream(file).pipe(res);
      return true;
    } catch {
      return false;
    }
  };
}

/** Starts the relay: HTTP API + WebSocket delivery on one port. */
export async function startRelay(options: RelayOptions = {}): Promise<Relay> {
  const limits: RelayLimits = { ...DEFAULT_LIMITS, ...options.limits };
  const log = options.logger ?? createLogger();
  const now = options.now ?? Date.now;
  const store = new RelayStore(options.dbPath ?? ':memory:', options.storeLimits);
  const hub = new DeliveryHub(store, limits, log, options.trustProxy ?? false);
  const ca = await loadCertificateAuthority(store.db);
  ensureAccessKeyTable(store);
  ensureBlobTable(store);
  // Rate-limit windows live in the database: a restart does not reset anyone's allowance.
  ensureRateWindowTable(store.db);
  const sealedLimits = { ...DEFAULT_SEALED_LIMITS, ...options.sealedLimits };
  const limiter = new WindowLimiter(
    { count: sealedLimits.perRecipient, windowMs: sealedLimits.windowMs },
    sealedLimits.trackedRecipients,
    sqliteWindows(store.db, 'sealed-per-recipient'),
  );
  const bodies = new RemoteCounter(limits.maxInFlightBodyBytes, limits.maxInFlightBodyBytesPerRemote);
  const server = createServer(
    deadlineOptions(limits),
    createHttpHandler(
      {
        bodies,
        trustProxy: options.trustProxy ?? false,
        store,
        limits,
        log,
        now,
        quotas: new RelayQuotas(limits, store.db),
        idempotency: new IdempotencyLog(store.db),
        onQueued: (aci, deviceId) => hub.queued(aci, deviceId),
        onPreKeysTaken: (aci, deviceId) => hub.notifyPreKeys(aci, deviceId),
        onDeviceReplaced: (aci) => hub.deviceReplaced(aci),
        serveStatic: options.staticDir ? staticServer(options.staticDir) : undefined,
      },
      [
        ...messageRoutes,
        ...backupRoutes,
        ...sealedRoutes(
          ca,
          limiter,
          new WindowLimiter(
            { count: sealedLimits.failuresPerRemote, windowMs: sealedLimits.windowMs },
            sealedLimits.trackedRecipients,
            sqliteWindows(store.db, 'sealed-failures-per-remote'),
          ),
          // Not kept in the database: its keys pair a recipient with a sender's address tag.
          new WindowLimiter(
            { count: sealedLimits.perRemote, windowMs: sealedLimits.windowMs },
            sealedLimits.trackedRecipients,
          ),
        ),
        ...blobRoutes({ ...DEFAULT_BLOB_LIMITS, ...options.blobLimits }),
        ...deviceRoutes((aci, deviceId) => hub.deviceRemoved(aci, deviceId)),
        ...provisioningRoutes(
          new ProvisioningState({ ...DEFAULT_PROVISIONING_LIMITS, ...options.provisioningLimits }),
        ),
      ],
    ),
  );
  limitConnections(server, limits, options.trustProxy ?? false, log);
  hub.attach(server);
  const host = options.host ?? '127.0.0.1';
  await new Promise<void>((resolveListen, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, host, () => resolveListen());
  });
  const port = (server.address() as AddressInfo).port;
  log.info('relay.started', { host, port, persistent: (options.dbPath ?? ':memory:') !== ':memory:' });
  let closed = false;
  return {
    url: `http://${host}:${port}`,
    wsUrl: `ws://${host}:${port}/v1/ws`,
    port,
    store,
    server,
    get bodyBytesInFlight() {
      return bodies.total;
    },
    async close() {
      if (closed) return;
      closed = true;
      hub.close();
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
      store.close();
      log.info('relay.stopped', { port });
    },
  };
}
