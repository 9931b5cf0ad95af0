/**
 * Runs the relay: `tsx examples/chat/server/src/main.ts [--port 8787] [--host 127.0.0.1] [--db relay.db] [--static dir]
 * [--trust-proxy]`. Logs are JSON lines on stderr. `--trust-proxy` only behind a reverse proxy that appends the
 * client's address to X-Forwarded-For: without it every client behind the proxy is one remote, and the
 * per-remote caps (64 sockets, 30 registrations an hour) are shared by all of them.
 */
import { parseArgs } from 'node:util';
import { startRelay } from './relay.js';

const { values } = parseArgs({
  options: {
    port: { type: 'string', default: '8787' },
    host: { type: 'string', default: '127.0.0.1' },
    db: { type: 'string', default: 'relay.db' },
    static: { type: 'string' },
    'trust-proxy': { type: 'boolean', default: false },
  },
});

const relay = await startRelay({
  port: Number(values.port),
  host: values.host,
  dbPath: values.db,
  trustProxy: values['trust-proxy'],
  ...(values.static ? { staticDir: values.static } : {}),
});
process.stdout.write(`relay listening on ${relay.url} (WebSocket ${relay.wsUrl}), database ${values.db}\n`);
const stop = () => {
  relay.close().then(() => process.exit(0));
};
process.on('SIGINT', stop);
process.on('SIGTERM', stop);
