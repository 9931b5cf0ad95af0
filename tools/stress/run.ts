// Stress run (issue 11.2, "no provider can hang"): for every provider in tools/providers.ts, a child
// process generates key pairs and then plays a ratchet ping-pong (every message a DH step), under a
// watchdog. This is not a timed test: a provider may be slow, but a child that reports no progress for
// --stall-ms (default 120 s; progress lines come every ~1,000 keys / 200 messages) is a hang; it is
// killed and the run fails saying where it stopped. The Node 20 hang this guards against freezes the
// whole process (no timer inside it can fire), hence the separate process.
//
// Usage (from the repository root):
//   npx tsx --tsconfig tsconfig.json tools/stress/run.ts            # 500,000 keys + 200,000 messages each
//   npx tsx --tsconfig tsconfig.json tools/stress/run.ts --short    # 10,000 keys + 1,000 messages (CI)
//   --providers=node,platform picks providers; --generations=N / --messages=N override the counts;
//   --stall-ms=N changes the watchdog's patience.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { allProviders } from '../providers.js';
import { FREEZE_SELF_TEST } from './self-test.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const args = process.argv.slice(2);
const option = (name: string): string | undefined =>
  args.find((a) => a.startsWith(`--${name}=`))?.slice(name.length + 3);
const short = args.includes('--short');
const generations = Number(option('generations') ?? (short ? 10_000 : 500_000));
const messages = Number(option('messages') ?? (short ? 1_000 : 200_000));
const stallMs = Number(option('stall-ms') ?? 120_000);
const only = option('providers')?.split(',');
const labels = allProviders.map((p) => p.label).filter((l) => !only || only.includes(l));

interface Outcome {
  label: string;
  ok: boolean;
  detail: string;
  seconds: number;
}

function runOne(label: string, stallMs: number): Promise<Outcome> {
  const started = Date.now();
  const tsx = join(root, 'node_modules', '.bin', 'tsx');
  const bin = existsSync(tsx) ? tsx : 'tsx';
  const workerArgs = ['--tsconfig', join(root, 'tsconfig.json'), join(root, 'tools', 'stress', 'worker.ts')];
  // Its own process group: tsx runs the worker in a grandchild process, and a frozen grandchild keeps
  // the pipes open, so the whole group is killed.
  const child = spawn(bin, [...workerArgs, label, String(generations), String(messages)], {
    cwd: root,
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  const killGroup = () => {
    try {
      if (child.pid !== undefined) process.kill(-child.pid, 'SIGKILL');
    } catch {
      // already gone
    }
  };
  process.once('exit', killGroup);
  let last = 'starting';
  let stderr = '';
  let hung = false;
  let timer: NodeJS.Timeout | undefined;
  const arm = () => {
    clearTimeout(timer);
    timer = setTimeout(() => {
      hung = true;
      killGroup();
    }, stallMs);
  };
  arm();
  let pending = '';
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
    pending += chunk;
    const lines = pending.split('\n');
    pending = lines.pop() ?? '';
    for (const line of lines) {
      if (line.startsWith('progress ') || line.startsWith('done ')) {
        last = line;
        arm();
        if (line.startsWith('done ')) console.log(`  [${label}] ${line} (${secondsSince(started)} s)`);
      }
    }
  });
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
    stderr = (stderr + chunk).slice(-4000);
  });
  return new Promise((resolve) => {
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      process.removeListener('exit', killGroup);
      const seconds = secondsSince(started);
      if (hung)
        resolve({
          label,
          ok: false,
          seconds,
          detail: `HANG: no progress for ${stallMs / 1000} s; last report "${last}"; child killed`,
        });
      else if (code !== 0)
        resolve({ label, ok: false, seconds, detail: `exit ${code ?? signal}: ${stderr.trim() || last}` });
      else resolve({ label, ok: true, seconds, detail: `${generations} keys, ${messages} messages` });
    });
  });
}

function secondsSince(t: number): number {
  return Math.round((Date.now() - t) / 100) / 10;
}

// First the watchdog itself (--short and --self-test): a child that freezes must be reported as a hang.
if (short || args.includes('--self-test')) {
  const frozen = await runOne(FREEZE_SELF_TEST, 5_000);
  if (frozen.ok || !frozen.detail.startsWith('HANG')) {
    console.error(`stress: the watchdog did not report a frozen child as a hang (${frozen.detail})`);
    process.exit(1);
  }
  console.log(`watchdog self-test: a frozen child was reported as a hang after ${frozen.seconds} s`);
  if (args.includes('--self-test')) process.exit(0);
}
console.log(
  `stress: ${generations} key generations + ${messages} ping-pong messages per provider (${labels.join(', ')}); ` +
    `a child silent for ${stallMs / 1000} s is a hang`,
);
const outcomes: Outcome[] = [];
for (const label of labels) outcomes.push(await runOne(label, stallMs));
for (const o of outcomes) console.log(`${o.ok ? 'ok  ' : 'FAIL'} ${o.label}: ${o.detail} (${o.seconds} s)`);
const failed = outcomes.filter((o) => !o.ok);
if (failed.length > 0) {
  console.error(`stress: ${failed.length} provider(s) failed: ${failed.map((o) => o.label).join(', ')}`);
  process.exit(1);
}
