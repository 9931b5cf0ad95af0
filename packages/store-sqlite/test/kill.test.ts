/**
 * A process killed (SIGKILL: no cleanup, no rollback run by the process) while it commits: the file,
 * reopened by another connection, holds every transaction whole or not at all. crash.test.ts checks
 * copies of the file taken after each statement; this checks what a real kill leaves behind.
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { utf8 } from '@e2ee-kit/core';
import { SqliteStore } from '@e2ee-kit/store-sqlite';
import { describe, expect, it } from 'vitest';
import { tempDatabases } from './helpers.js';

const dbs = tempDatabases();
const child = fileURLToPath(new URL('./kill-child.ts', import.meta.url));

/** Runs the child; `onReady` sees it print "ready"; resolves with its exit signal and output. */
function runChild(path: string, mode: 'mid' | 'loop', onReady?: (kill: () => void) => void) {
  return new Promise<{ signal: NodeJS.Signals | null; out: string }>((resolve, reject) => {
    const p = spawn(process.execPath, ['--import', 'tsx', child, path, mode], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    p.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      if (out.includes('ready')) onReady?.(() => p.kill('SIGKILL'));
    });
    p.stderr.on('data', (d: Buffer) => {
      err += d.toString();
    });
    p.on('error', reject);
    p.on('exit', (_code, signal) =>
      signal === null && err !== '' ? reject(new Error(err)) : resolve({ signal, out }),
    );
  });
}

describe('SqliteStore in a process that is killed mid-commit', () => {
  it('killed inside the commit after its first write: reopened, neither row of the transaction is there', async () => {
    const path = dbs.path();
    const { signal, out } = await runChild(path, 'mid');
    expect(signal).toBe('SIGKILL');
    expect(out).not.toContain('not killed');
    const store = await SqliteStore.open(dbs.open(path));
    expect(await store.app.get('a:0')).toBeUndefined();
    expect(await store.app.get('b:0')).toBeUndefined();
    // The file is usable: the same transaction commits now.
    await store.transaction(async (tx) => {
      await tx.app.put('a:0', utf8('value 0'));
      await tx.app.put('b:0', utf8('value 0'));
    });
    expect(await store.app.get('b:0')).toEqual(utf8('value 0'));
  });

  it('killed at an arbitrary moment while committing in a loop: every transaction is whole or absent', async () => {
    const path = dbs.path();
    const { signal } = await runChild(path, 'loop', (kill) => setTimeout(kill, 300));
    expect(signal).toBe('SIGKILL');
    const db = dbs.open(path);
    const store = await SqliteStore.open(db);
    const count = (db.prepare("SELECT count(*) AS n FROM kv WHERE t = 'app'").get() as { n: number }).n;
    expect(count).toBeGreaterThanOrEqual(2); // at least the first transaction committed
    let whole = 0;
    for (let i = 0; i < count; i++) {
      const [a, b] = [await store.app.get(`a:${i}`), await store.app.get(`b:${i}`)];
      expect(a === undefined).toBe(b === undefined);
      if (a !== undefined) {
        expect(a).toEqual(utf8(`value ${i}`));
        expect(b).toEqual(a);
        whole++;
      }
    }
    expect(whole * 2).toBe(count); // no row outside a whole pair
  });
});
