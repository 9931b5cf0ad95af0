// The README's quick start is test/readme-example.ts verbatim: typechecked with the package and run here.
import { readFileSync } from 'node:fs';
import { describe, expect, it, vi } from 'vitest';

describe('README quick start', () => {
  it('is exactly test/readme-example.ts', () => {
    const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');
    const block = /```ts\n([\s\S]*?)```/.exec(readme)?.[1];
    expect(block).toBe(readFileSync(new URL('./readme-example.ts', import.meta.url), 'utf8'));
  });

  it('runs and prints both messages', async () => {
    const log = vi.spyOn(console, 'log').mockImplementation(() => {});
    try {
      await import('./readme-example.js');
      expect(log.mock.calls.map((c) => c[0])).toEqual(['hi Bob', 'hi Alice']);
    } finally {
      log.mockRestore();
    }
  });
});
