/**
 * SqliteLockManager while another connection holds the file's write lock longer than the busy
 * timeout: taking the lock keeps waiting (a busy file is "not yet", not a failure), and a release that
 * hits the busy file neither turns `fn`'s success into a rejection nor leaves the lock row to go stale.
 */
import { SqliteLockManager } from '@e2ee-kit/store-sqlite';
import { describe, expect, it } from 'vitest';
import { tempDatabases } from './helpers.js';

const dbs = tempDatabases();
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function pair() {
  const path = dbs.path();
  const a = dbs.open(path);
  a.pragma('journal_mode = WAL');
  a.pragma('busy_timeout = 20');
  const locks = new SqliteLockManager(a, { staleMs: 600_000, timeoutMs: 10_000 });
  const other = dbs.open(path);
  other.pragma('busy_timeout = 20');
  return { locks, other };
}

describe('SqliteLockManager on a busy file', () => {
  it('waits for a write lock held past the busy timeout instead of throwing', async () => {
    const { locks, other } = pair();
    other.exec('BEGIN IMMEDIATE');
    setTimeout(() => other.exec('COMMIT'), 150);
    expect(await locks.run('k', async () => 'ran')).toBe('ran');
  });

  it("a release that finds the file busy keeps fn's result and still frees the lock", async () => {
    const { locks, other } = pair();
    const result = await locks.run('k', async () => {
      other.exec('BEGIN IMMEDIATE');
      setTimeout(() => other.exec('COMMIT'), 150);
      return 'committed';
    });
    expect(result).toBe('committed');
    await sleep(300);
    // Freed by the retried release, not by going stale (staleMs is ten minutes).
    const start = Date.now();
    expect(await locks.run('k', async () => 'again')).toBe('again');
    expect(Date.now() - start).toBeLessThan(2_000);
  });
});
