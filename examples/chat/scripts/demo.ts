/**
 * `pnpm demo`: starts the relay on a free localhost port and runs Alice, Bob and Carol through the
 * story, printing what the relay stored next to what the clients read. Exits 0 when every step
 * behaved as it should.
 */
import { runStory } from './story.js';

const started = performance.now();
const dim = (s: string) => (process.stdout.isTTY ? `\x1b[2m${s}\x1b[0m` : s);
const bold = (s: string) => (process.stdout.isTTY ? `\x1b[1m${s}\x1b[0m` : s);

const facts = await runStory({
  reporter: {
    step: (title) => console.log(`\n${bold(title)}`),
    server: (line) => console.log(`  ${dim('relay stored')}  ${line}`),
    client: (who, line) => console.log(`  ${who.padEnd(12)}  ${line}`),
  },
});

const checks: [string, boolean][] = [
  ['out-of-order messages all decrypted', facts.bobReadInOrder.length === 3],
  ['group message encrypted once for all members', facts.groupCiphertextIdentical],
  ['removed member cannot read', facts.carolAfterRemoval.startsWith('cannot read')],
  ['safety numbers match on both phones', facts.safetyNumberAlice === facts.safetyNumberBob],
  ['re-install detected as a mismatch', facts.afterReinstall === 'mismatch'],
  ['restored phone read the queued message', facts.restoredReadQueued.includes('Are you still there?')],
  ['relay database holds no plaintext', facts.plaintextHitsInDatabase === 0],
];
console.log(`\n${bold('Checks')}`);
for (const [what, ok] of checks) console.log(`  ${ok ? 'ok  ' : 'FAIL'}  ${what}`);
console.log(dim(`\ndone in ${((performance.now() - started) / 1000).toFixed(1)} s`));
process.exit(checks.every(([, ok]) => ok) ? 0 : 1);
