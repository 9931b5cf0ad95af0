// Stress run (issue 11.2, "no provider can hang"): for every provider in tools/providers.ts, a child
// process generates key pairs and then plays a ratchet ping-pong (every message a DH step), under a
// watchdog. This is not a timed test: a provider may be slow, but a child that reports no progress for
// STRESS_STALL_MS (default 120 s; progress lines come every ~1,000 keys / 200 messages) is a hang; it is
// killed and the run fails saying where it stopped. The Node 20 hang this guards against freezes the
// whole process (no timer inside it can fire), hence the separate process.
//
// Usage (from the repository root):
//   npx tsx --tsconfig tsconfig.json tools/stress/run.ts            # 500,000 keys + 200,000 messages each
//   npx tsx --tsconfig tsconfig.json tools/stress/run.ts --short    # 20,000 keys + 2,000 messages (CI)
//   STRESS_PROVIDERS=node,platform ... picks providers; STRESS_GENERATIONS / STRESS_MESSAGES override counts.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { allProviders } from '../providers.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const short = process.argv.includes('--short');
const generations = Number(process.env['STRESS_GENERATIONS'] ?? (short ? 20_000 : 500_000));
const messages = Number(process.env['STRESS_MESSAGES'] ?? (short ? 2_000 : 200_000));
const stallMs = Number(process.env['STRESS_STALL_MS'] ?? 120_000);
const only = process.env['STRESS_PROVIDERS']?.split(',');
const labels = allProviders.map((p) => p.label).filter((l) => !only || only.includes(l));

interface Outcome {
  label: string;
  ok: boolean;
  detail: string;
  seconds: number;
}

function runOne(label: string): Promise<Outcome> {
  const started = Date.now();
  const tsx = join(root, 'node_modules', '.bin', 'tsx');
  const bin = existsSync(tsx) ? tsx : 'tsx';
  const args = ['--tsconfig', join(root, 'tsconfig.json'), join(root, 'tools', 'stress', 'worker.ts')];
  const child = spawn(bin, [...args, label, String(generations), String(messages)], {
    cwd: root,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let last = 'starting';
  let stderr = '';
  let hung = false;
  let timer: NodeJS.Timeout | undefined;
  const arm = () => {
    clearTimeout(timer);
    timer = setTimeout(() => {
      hung = true;
      child.kill('SIGKILL');
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

console.log(
  `stress: ${generations} key generations + ${messages} ping-pong messages per provider (${labels.join(', ')}); ` +
    `a child silent for ${stallMs / 1000} s is a hang`,
);
const outcomes: Outcome[] = [];
for (const label of labels) outcomes.push(await runOne(label));
for (const o of outcomes) console.log(`${o.ok ? 'ok  ' : 'FAIL'} ${o.label}: ${o.detail} (${o.seconds} s)`);
const failed = outcomes.filter((o) => !o.ok);
if (failed.length > 0) {
  console.error(`stress: ${failed.length} provider(s) failed: ${failed.map((o) => o.label).join(', ')}`);
  process.exit(1);
}
