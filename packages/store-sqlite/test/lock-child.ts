// Child process of sqlite-lock.test.ts: `times` read-modify-write increments of one row, under
// SqliteLockManager or not. Prints the values it wrote as JSON.
//
// The interleaving is forced, not left to chance: after each read the process records it in the
// `progress` table and waits until the other process has read in the same round too — both then write
// what they read + 1, an update is lost. It skips that wait only while the lock manager's own row for
// the key is in the database (it is inside the lock, so the other cannot read until it releases).
// A lock manager that does nothing writes no row, so its run loses updates exactly like the run
// without a lock.
import Database from 'better-sqlite3';
import { SqliteLockManager } from '../src/sqlite-lock.js';

const [path, times, mode, me] = process.argv.slice(2) as [string, string, string, string];
const self = Number(me);
const other = 1 - self;
const db = new Database(path);
db.pragma('journal_mode = WAL');
db.pragma('busy_timeout = 5000');
const locks = new SqliteLockManager(db, { pollMs: 1 });
const read = db.prepare<[], { n: number }>('SELECT n FROM counter WHERE id = 1');
const write = db.prepare<[number]>('UPDATE counter SET n = ? WHERE id = 1');
const recordRead = db.prepare<[number, number]>('UPDATE progress SET reads = ? WHERE who = ?');
const readsOf = db.prepare<[number], { reads: number }>('SELECT reads FROM progress WHERE who = ?');
const lockRow = db.prepare<[], { k: string }>("SELECT k FROM locks WHERE k = 'counter'");
const pause = () => new Promise((r) => setTimeout(r, 1));

/** After this process's `round`-th read: until the other has read as often, or the lock row is held. */
async function barrier(round: number): Promise<void> {
  recordRead.run(round, self);
  while ((readsOf.get(other) as { reads: number }).reads < round && lockRow.get() === undefined)
    await pause();
}

const seen: number[] = [];
let round = 0;
const step = async () => {
  const n = (read.get() as { n: number }).n;
  await barrier(++round);
  await pause();
  write.run(n + 1);
  seen.push(n + 1);
};
for (let i = 0; i < Number(times); i++) await (mode === 'lock' ? locks.run('counter', step) : step());
// Done: the other's barrier must not wait for reads this process will never make.
recordRead.run(Number.MAX_SAFE_INTEGER, self);
db.close();
process.stdout.write(JSON.stringify(seen));
