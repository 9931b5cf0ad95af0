// The store conformance suite that consumers run against their own stores, run against ours.
import type { Address } from '@e2ee-kit/core';
import type { ProtocolStore, SessionRecord } from '@e2ee-kit/ratchet';
import { InMemoryProtocolStore, runProtocolStoreConformance } from '@e2ee-kit/ratchet/testing';
import { afterEach, describe, expect, it, vi } from 'vitest';

runProtocolStoreConformance(
  () => InMemoryProtocolStore.create(),
  { describe, it, expect },
  { replayDetection: true },
);

// The suite must be able to fail: a store that returns the record object it was given (aliasing).
describe('conformance suite catches a broken store', () => {
  it('aliasing store fails the "does not alias" check', async () => {
    const failures: string[] = [];
    const tests: { name: string; fn: () => Promise<void> }[] = [];
    // A store that keeps record objects instead of bytes: returns the very object it was given.
    const aliasing = async (): Promise<ProtocolStore> => {
      const base = await InMemoryProtocolStore.create();
      const store: Record<string, unknown> = {};
      for (const name of Object.getOwnPropertyNames(InMemoryProtocolStore.prototype)) {
        const f = (base as unknown as Record<string, unknown>)[name];
        if (name !== 'constructor' && typeof f === 'function') store[name] = f.bind(base);
      }
      const sessions = new Map<string, SessionRecord>();
      store['saveSession'] = async (a: Address, r: SessionRecord) => {
        sessions.set(`${a.name}.${a.deviceId}`, r);
      };
      store['getSession'] = async (a: Address) => sessions.get(`${a.name}.${a.deviceId}`) ?? null;
      return store as unknown as ProtocolStore;
    };
    runProtocolStoreConformance(aliasing, {
      describe: (_n, fn) => fn(),
      it: (name, fn) => tests.push({ name, fn }),
      expect,
    });
    for (const t of tests) {
      try {
        await t.fn();
      } catch {
        failures.push(t.name);
      }
    }
    expect(failures).toContain('does not let a returned record alias the stored one');
  });
});

// A store built on the other copy of the packages (an app that loads two: its `import` and a
// dependency's `require`) hands back that copy's keys and records. The second copy is a second
// module instance of the same sources (vi.resetModules), as in dual-copies-keys.test.ts.
describe('a store of the other copy of the packages', () => {
  afterEach(() => void vi.resetModules());

  it('passes this copy’s conformance suite', async () => {
    vi.resetModules();
    const other = await import('@e2ee-kit/ratchet/testing');
    expect(other.InMemoryProtocolStore).not.toBe(InMemoryProtocolStore);
    const tests: { name: string; fn: () => Promise<void> }[] = [];
    runProtocolStoreConformance(
      () => other.InMemoryProtocolStore.create() as unknown as Promise<ProtocolStore>,
      { describe: (_n, fn) => fn(), it: (name, fn) => tests.push({ name, fn }), expect },
      { replayDetection: true },
    );
    expect(tests.length).toBeGreaterThan(5);
    const failures: string[] = [];
    for (const t of tests) {
      try {
        await t.fn();
      } catch {
        failures.push(t.name);
      }
    }
    expect(failures).toEqual([]);
  });
});
