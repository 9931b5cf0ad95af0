// Test-only: registers the two checks a package's README quick start gets — the README holds
// test/quickstart.ts verbatim in a ```ts block, and importing it logs exactly `expected`.
import { readFileSync } from 'node:fs';
import { afterEach, expect, it, vi } from 'vitest';

export function testReadmeQuickstart(
  testDir: URL,
  run: () => Promise<unknown>,
  expected: readonly string[],
): void {
  afterEach(() => {
    vi.restoreAllMocks();
  });

  it('the README quick start is test/quickstart.ts, verbatim', () => {
    const readme = readFileSync(new URL('../README.md', testDir), 'utf8');
    const code = readFileSync(new URL('./quickstart.ts', testDir), 'utf8');
    expect(readme).toContain(`\`\`\`ts\n${code}\`\`\``);
  });

  it('the quick start runs and logs what it should', async () => {
    const log = vi.spyOn(console, 'log').mockImplementation(() => {});
    await run();
    expect(log.mock.calls.map((c) => c.join(' '))).toEqual(expected);
  });
}
