import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll } from 'vitest';

/** Fresh database files in one temp dir per test file, closed and deleted after the file's tests. */
export function tempDatabases(): { path(): string; open(path?: string): Database.Database } {
  const dir = mkdtempSync(join(tmpdir(), 'e2ee-store-sqlite-'));
  const open: Database.Database[] = [];
  let n = 0;
  afterAll(() => {
    for (const db of open) if (db.open) db.close();
    rmSync(dir, { recursive: true, force: true });
  });
  const path = () => join(dir, `db-${n++}.sqlite`);
  return {
    path,
    open(p = path()) {
      const db = new Database(p);
      open.push(db);
      return db;
    },
  };
}
