/**
 * `pnpm chat`: builds the web client and serves it together with the relay on one localhost port.
 * Open the printed address in two browser windows (a normal and a private one, or two profiles:
 * each profile is one device) and chat. The relay keeps its data in .demo-data/chat.db.
 *
 *   pnpm chat [--port 8787] [--host 127.0.0.1]
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { startRelay } from '@e2ee-kit/chat-server';
import { buildWeb, webRoot } from './web.js';

const { values } = parseArgs({
  options: { port: { type: 'string', default: '8787' }, host: { type: 'string', default: '127.0.0.1' } },
});
const dataDir = join(process.cwd(), '.demo-data');
mkdirSync(dataDir, { recursive: true });
const outDir = join(webRoot, 'dist');
process.stdout.write('building the web client… ');
await buildWeb(outDir);
process.stdout.write('done\n');
const relay = await startRelay({
  port: Number(values.port),
  host: values.host,
  dbPath: join(dataDir, 'chat.db'),
  staticDir: outDir,
});
console.log(`\n  e2ee-kit chat on ${relay.url}\n`);
console.log('  Open it in two browser profiles (e.g. a normal and a private window), register two names,');
console.log(
  "  chat, and compare safety numbers. The relay's log below shows what it sees: never a message.\n",
);
const stop = () => {
  relay.close().then(() => process.exit(0));
};
process.on('SIGINT', stop);
process.on('SIGTERM', stop);
