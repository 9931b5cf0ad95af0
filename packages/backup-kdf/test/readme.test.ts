// The README's quick start is test/quickstart.ts verbatim, and it runs.
import { readFileSync } from 'node:fs';
import { afterEach, describe, expect, it, vi } from 'vitest';

describe('README quick start', () => {
  afterEach(() => {
    vi.restoreAllMocks();
  });

  it('is the tested file, verbatim', () => {
    const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');
    const code = readFileSync(new URL('./quickstart.ts', import.meta.url), 'utf8');
    expect(readme).toContain(`\`\`\`ts\n${code}\`\`\``);
  });

  it('runs: creates a backup with a 64-digit key and opens it with the password', async () => {
    const log = vi.spyOn(console, 'log').mockImplementation(() => {});
    await import('./quickstart.js');
    const lines = log.mock.calls.map((c) => c.join(' '));
    expect(lines[0]).toMatch(/^Write this down: (\d{4} ){15}\d{4}$/);
    expect(lines[1]).toBe('…your SQLite file or export…');
  });
});
