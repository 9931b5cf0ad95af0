/**
 * The shared flows in workers, where the packages' pure and Web paths run with no Node API:
 *
 *   workerd          Cloudflare's Workers runtime (npm `workerd`, its Linux binary from
 *                    @cloudflare/workerd-linux-64), an ES module worker with a fetch handler, no
 *                    nodejs_compat; served on a free localhost port, fetched once, stopped
 *   chromium-worker  a dedicated Web Worker (`new Worker`) in Debian's Chromium, lines posted to the page
 *   node-worker      a Node worker_threads Worker running the ESM entry
 */
import { execFileSync, spawn } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { runInChromium } from './chromium.js';
import { app, bundleAll, checkOutput, runProcess } from './scratch-app.js';

/** workerd refuses a date after its own build; the pinned release (run.ts TOOLS) is 2026-11-17's. */
const WORKERD_COMPATIBILITY_DATE = '2026-11-17';
const WORKERD_WAIT_MS = 50_000;

/** A port nothing listens on now (the kernel's pick); workerd binds it a moment later. */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() =>
        typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port')),
      );
    });
  });
}

function workerdConfig(port: number): string {
  return `using Workerd = import "/workerd/workerd.capnp";

const config :Workerd.Config = (
  services = [(name = "flows", worker = .flowsWorker)],
  sockets = [(name = "http", address = "127.0.0.1:${port}", http = (), service = "flows")],
);

const flowsWorker :Workerd.Worker = (
  modules = [(name = "worker.mjs", esModule = embed "worker.mjs")],
  compatibilityDate = "${WORKERD_COMPATIBILITY_DATE}",
);
`;
}

export async function workerd(): Promise<boolean> {
  const dir = join(app, 'workerd');
  mkdirSync(dir, { recursive: true });
  // As wrangler bundles a worker without nodejs_compat: the workerd/worker/browser conditions.
  bundleAll({
    entry: 'workerd-entry.ts',
    outfile: join(dir, 'worker.mjs'),
    platform: 'browser',
    target: 'es2022',
    format: 'esm',
    conditions: ['workerd', 'worker', 'import'],
  });
  const port = await freePort();
  writeFileSync(join(dir, 'config.capnp'), workerdConfig(port));
  // The platform package's binary itself: workerd's own bin is set up by a postinstall we do not run.
  const binary = join(app, 'node_modules', '@cloudflare', 'workerd-linux-64', 'bin', 'workerd');
  console.log(execFileSync(binary, ['--version'], { encoding: 'utf8' }).trim());
  const server = spawn(binary, ['serve', 'config.capnp'], { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
  let log = '';
  server.stdout.on('data', (chunk: Buffer) => (log += chunk));
  server.stderr.on('data', (chunk: Buffer) => (log += chunk));
  const exited = new Promise<void>((resolve) => server.once('exit', () => resolve()));
  try {
    const body = await fetchWhenUp(`http://127.0.0.1:${port}/`, () => server.exitCode !== null);
    const ok = checkOutput('workerd', body);
    if (!ok && log) console.error(`--- workerd's log\n${log}`);
    return ok;
  } catch (error) {
    console.error(`runtime workerd: ${String(error)}\n--- workerd's log\n${log}`);
    return false;
  } finally {
    server.kill('SIGTERM');
    await exited;
  }
}

/** Fetches `url` once the server accepts connections (refused until it listens); the body's text. */
async function fetchWhenUp(url: string, gone: () => boolean): Promise<string> {
  // One deadline for starting and answering, so a stuck run ends within a minute.
  const deadline = Date.now() + WORKERD_WAIT_MS;
  for (;;) {
    try {
      const response = await fetch(url, { signal: AbortSignal.timeout(Math.max(1, deadline - Date.now())) });
      const body = await response.text();
      if (!response.ok) throw new Error(`HTTP ${response.status}: ${body}`);
      return body;
    } catch (error) {
      const refused = (error as { cause?: { code?: string } }).cause?.code === 'ECONNREFUSED';
      if (!refused || gone() || Date.now() > deadline) throw error;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
}

export function chromiumWorker(): Promise<boolean> {
  const script = join(app, 'web-worker.js');
  bundleAll({ entry: 'web-worker-entry.ts', outfile: script, platform: 'browser', target: 'es2022' });
  // The page runs no flow itself: it starts the worker and logs what the worker posts.
  const html = `<!doctype html><script>
const worker = new Worker('/web-worker.js');
worker.onmessage = (event) => console.log(event.data);
worker.onerror = (event) => console.log('pageerror: in the worker: ' + event.message);
</script>`;
  return runInChromium('chromium-worker', {
    html,
    scripts: { '/web-worker.js': script },
    inspect: (page) =>
      page.workers().some((w) => w.url().endsWith('/web-worker.js'))
        ? undefined
        : 'the page has no /web-worker.js worker',
  });
}

export function nodeWorker(esmMain: string): boolean {
  // The worker's console is forwarded to this process's stdout by Node.
  const start = `import { Worker } from 'node:worker_threads';
new Worker(new URL(${JSON.stringify(pathToFileURL(esmMain).href)}), { execArgv: [] });`;
  return runProcess('node-worker', process.execPath, ['--input-type=module', '-e', start]);
}
