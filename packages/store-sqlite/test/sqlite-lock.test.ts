/**
 * SqliteLockManager across processes: two Node processes on one SQLite file increment one counter 100
 * times each with an await between read and write. Under the lock: 1..200, each once; without it the
 * same run loses updates (so the check can fail). The losing interleaving is forced (lock-child.ts:
 * after each read a process waits until the other has read too, unless the lock's row is held), so
 * the run without the lock — or under a lock manager that does nothing — loses updates every time.
 */
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { expect, it } from 'vitest';
import { tempDatabases } from './helpers.js';

const dbs = tempDatabases();
const run = promisify(execFile);
const child = fileURLToPath(new URL('./lock-child.ts', import.meta.url));

async function twoProcesses(mode: 'lock' | 'none'): Promise<{ values: number[]; final: number }> {
  const path = dbs.path();
  const db = dbs.open(path);
  db.pragma('journal_mode = WAL');
  db.exec(
    'CREATE TABLE counter (id INTEGER PRIMARY KEY, n INTEGER NOT NULL); INSERT INTO counter VALUES (1, 0);' +
      'CREATE TABLE progress (who INTEGER PRIMARY KEY, reads INTEGER NOT NULL); INSERT INTO progress VALUES (0, 0), (1, 0)',
  );
  const outs = await Promise.all(
    [0, 1].map((who) =>
      run(process.execPath, ['--import', 'tsx', child, path, '100', mode, String(who)], { timeout: 60_000 }),
    ),
  );
  const values = outs.flatMap((o) => JSON.parse(o.stdout) as number[]);
  const final = (db.prepare('SELECT n FROM counter').get() as { n: number }).n;
  return { values, final };
}

it('two processes under SqliteLockManager: 200 increments give 1..200, each once', async () => {
  const { values, final } = await twoProcesses('lock');
  expect(new Set(values).size).toBe(200);
  expect(final).toBe(200);
});

it('the same two processes without the lock lose updates', async () => {
  const { values, final } = await twoProcesses('none');
  expect(final).toBeLessThan(200);
  expect(new Set(values).size).toBeLessThan(200);
  // Both first reads come before either first write: both processes wrote 1.
  expect(values.filter((v) => v === 1)).toHaveLength(2);
});
