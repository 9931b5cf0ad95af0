// Atomic delivery on a real SQLite file survives a crash at every commit: after each commit of the
// delivery run the database image (`serialize`, the committed state main file + WAL would recover to)
// is kept; each restart writes that image to a new file, opens it with a fresh `Database` and store,
// and the server redelivers what is not acknowledged. ≥ 1,000 crash points of mixed 1:1, PreKey and
// group traffic end with every message delivered exactly once; without transactions messages are lost.
import { writeFileSync } from 'node:fs';
import type Database from 'better-sqlite3';
import { type CrashDatabase, testCrashDelivery } from '../../store-kv/test/delivery-crash.js';
import { SqliteBackend } from '../src/index.js';
import { tempDatabases } from './helpers.js';

const files = tempDatabases();

function sqliteDatabase(): CrashDatabase<Buffer> {
  let live: Database.Database | undefined;
  const open = new Map<object, Database.Database>();
  return {
    live: (afterCommit) => {
      live = files.open();
      // 'normal': one fsync per WAL checkpoint instead of per commit (atomicity is the same).
      const backend = new SqliteBackend(live, { durability: 'normal' });
      const commit = backend.commit.bind(backend);
      backend.commit = async (writes) => {
        await commit(writes);
        afterCommit();
      };
      return backend;
    },
    snapshot: () => (live as Database.Database).serialize(),
    restore: (image) => {
      const path = files.path();
      writeFileSync(path, image);
      const db = files.open(path);
      const backend = new SqliteBackend(db, { durability: 'normal' });
      open.set(backend, db);
      return backend;
    },
    release: (backend) => {
      open.get(backend)?.close();
      open.delete(backend);
    },
  };
}

testCrashDelivery(sqliteDatabase);
