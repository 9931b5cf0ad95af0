// The README's "Retry receipts" example is test/healing-readme-example.ts verbatim: typechecked with
// the package and run here.
import { readFileSync } from 'node:fs';
import { describe, expect, it, vi } from 'vitest';

describe('README retry receipts example', () => {
  it('is exactly test/healing-readme-example.ts', () => {
    const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');
    const section = readme.slice(readme.indexOf('\n## Retry receipts\n'));
    const block = /```ts\n([\s\S]*?)```/.exec(section)?.[1];
    expect(block).toBe(readFileSync(new URL('./healing-readme-example.ts', import.meta.url), 'utf8'));
  });

  it('runs and delivers the lost message', async () => {
    const log = vi.spyOn(console, 'log').mockImplementation(() => {});
    try {
      await import('./healing-readme-example.js');
      expect(log.mock.calls.map((c) => c[0])).toEqual(['hi Bob', 'are you there?', 'yes!']);
    } finally {
      log.mockRestore();
    }
  });
});
