// Child process of sqlite-lock.test.ts: `times` read-modify-write increments of one row, under
// SqliteLockManager or not. Prints the values it wrote as JSON.
import Database from 'better-sqlite3';
import { SqliteLockManager } from '../src/sqlite-lock.js';

const [path, times, mode] = process.argv.slice(2) as [string, string, string];
const db = new Database(path);
db.pragma('journal_mode = WAL');
db.pragma('busy_timeout = 5000');
const locks = new SqliteLockManager(db, { pollMs: 1 });
const read = db.prepare<[], { n: number }>('SELECT n FROM counter WHERE id = 1');
const write = db.prepare<[number]>('UPDATE counter SET n = ? WHERE id = 1');
const seen: number[] = [];
const step = async () => {
  const n = (read.get() as { n: number }).n;
  await new Promise((r) => setTimeout(r, 1));
  write.run(n + 1);
  seen.push(n + 1);
};
for (let i = 0; i < Number(times); i++) await (mode === 'lock' ? locks.run('counter', step) : step());
db.close();
process.stdout.write(JSON.stringify(seen));
