/**
 * Runs the relay: `tsx examples/chat/server/src/main.ts [--port 8787] [--host 127.0.0.1] [--db relay.db] [--static dir]`.
 * Logs are JSON lines on stderr.
 */
import { parseArgs } from 'node:util';
import { startRelay } from './relay.js';

const { values } = parseArgs({
  options: {
    port: { type: 'string', default: '8787' },
    host: { type: 'string', default: '127.0.0.1' },
    db: { type: 'string', default: 'relay.db' },
    static: { type: 'string' },
  },
});

const relay = await startRelay({
  port: Number(values.port),
  host: values.host,
  dbPath: values.db,
  ...(values.static ? { staticDir: values.static } : {}),
});
process.stdout.write(`relay listening on ${relay.url} (WebSocket ${relay.wsUrl}), database ${values.db}\n`);
const stop = () => {
  relay.close().then(() => process.exit(0));
};
process.on('SIGINT', stop);
process.on('SIGTERM', stop);
