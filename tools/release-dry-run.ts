// Release dry run: `changeset version` on a copy of the repository in a temporary directory, then
// checks that every published package got a new version and a CHANGELOG.md entry for it, and that
// the packages of the fixed group share one version. The real checkout is never written to (checked
// with `git status` before and after).
//
//   npx tsx --tsconfig tsconfig.json tools/release-dry-run.ts [--keep]
import { execFileSync, spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, relative, sep } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const keep = process.argv.includes('--keep');
const problems: string[] = [];

interface Manifest {
  name: string;
  version: string;
  private?: boolean;
}
const manifest = (dir: string): Manifest => JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8'));
const major = (version: string): number => Number(version.split('.')[0]);
const status = () => execFileSync('git', ['status', '--porcelain'], { cwd: root, encoding: 'utf8' });

/** Published packages: every non-private package under packages/. */
const published = readdirSync(join(root, 'packages'))
  .map((d) => join('packages', d))
  .filter((d) => existsSync(join(root, d, 'package.json')) && manifest(join(root, d)).private !== true);

const pending = readdirSync(join(root, '.changeset')).filter((f) => f.endsWith('.md') && f !== 'README.md');
if (pending.length === 0) {
  console.log('release dry run: no pending changesets, nothing to version');
  process.exit(0);
}

const before = status();
const work = mkdtempSync(join(tmpdir(), 'e2ee-kit-release-'));
const copy = join(work, 'repo');
const skipped = new Set(['node_modules', 'dist', '.turbo', '.git', 'api']);
cpSync(root, copy, {
  recursive: true,
  filter: (src) => {
    const rel = relative(root, src);
    return rel === '' || !rel.split(sep).some((part) => skipped.has(part));
  },
});
// The CLI and the changelog generator resolve from the copy's node_modules: borrow the checkout's.
symlinkSync(join(root, 'node_modules'), join(copy, 'node_modules'), 'dir');

try {
  const cli = join(root, 'node_modules', '@changesets', 'cli', 'bin.js');
  const r = spawnSync('node', [cli, 'version'], { cwd: copy, encoding: 'utf8' });
  process.stdout.write(`${r.stdout}${r.stderr}`);
  if (r.status !== 0) problems.push(`changeset version exited with ${r.status}`);

  const versions = new Map<string, string>();
  for (const dir of published) {
    const old = manifest(join(root, dir));
    const next = manifest(join(copy, dir));
    versions.set(next.name, next.version);
    if (next.version === old.version) problems.push(`${old.name}: version not bumped (${old.version})`);
    // A 0.x package reaching 1.0 must be a decision, not a side effect: changesets makes a package
    // major when a peer's new version leaves its peer range (0.1 → 0.2 leaves ^0.1.0), which took the
    // store packages from 0.0.0 to 1.0.0 before their peer ranges became the 0.x line.
    if (major(old.version) === 0 && major(next.version) !== 0)
      problems.push(`${old.name}: ${old.version} → ${next.version} leaves 0.x (a peer-range bump?)`);
    const changelog = join(copy, dir, 'CHANGELOG.md');
    if (!existsSync(changelog)) {
      problems.push(`${old.name}: no CHANGELOG.md`);
      continue;
    }
    const text = readFileSync(changelog, 'utf8');
    if (!text.includes(`\n## ${next.version}\n`))
      problems.push(`${old.name}: CHANGELOG.md has no "## ${next.version}"`);
    console.log(
      `${old.name}: ${old.version} → ${next.version}, CHANGELOG.md ${text.split('\n').length} lines`,
    );
  }
  const left = readdirSync(join(copy, '.changeset')).filter((f) => f.endsWith('.md') && f !== 'README.md');
  if (left.length > 0) problems.push(`changesets not consumed: ${left.join(', ')}`);
  const config = JSON.parse(readFileSync(join(root, '.changeset', 'config.json'), 'utf8')) as {
    fixed?: string[][];
  };
  for (const group of config.fixed ?? []) {
    const inGroup = new Set(group.map((n) => versions.get(n)));
    if (inGroup.size !== 1) problems.push(`fixed group has several versions: ${[...inGroup].join(', ')}`);
  }
} finally {
  if (keep) console.log(`kept ${copy}`);
  else rmSync(work, { recursive: true, force: true });
}

if (status() !== before) problems.push('the real checkout changed during the dry run');
if (problems.length > 0) {
  console.error(`\n!!! RELEASE DRY RUN FAILED:\n  ${problems.join('\n  ')}`);
  process.exit(1);
}
console.log(
  `release dry run: ${pending.length} changesets → a CHANGELOG.md entry for each of ${published.length} packages`,
);
