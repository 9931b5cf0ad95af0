// Child process of kill.test.ts: opens a SqliteStore on the file and commits transactions of two app
// rows each (`a:<i>` and `b:<i>`, the same value), printing "ready" once the first one has
// committed. `mid` mode kills the process itself (SIGKILL, no cleanup) inside the first transaction's
// commit, after its first statement ran; `loop` mode commits until the parent kills it.
import { utf8 } from '@e2ee-kit/core';
import Database from 'better-sqlite3';
import { SqliteStore } from '../src/index.js';

const [path, mode] = process.argv.slice(2) as [string, 'mid' | 'loop'];
const db = new Database(path);
const store = await SqliteStore.open(db, {
  onStatement: (i) => {
    if (mode === 'mid' && i === 0) process.kill(process.pid, 'SIGKILL');
  },
});
const pair = (i: number) =>
  store.transaction(async (tx) => {
    await tx.app.put(`a:${i}`, utf8(`value ${i}`));
    await tx.app.put(`b:${i}`, utf8(`value ${i}`));
  });
if (mode === 'mid') {
  await pair(0);
  process.stdout.write('not killed\n');
} else {
  for (let i = 0; ; i++) {
    await pair(i);
    if (i === 0) process.stdout.write('ready\n');
  }
}
