/** Builds the web client with Vite into `outDir` (used by `pnpm chat` and the browser test). */
import { fileURLToPath } from 'node:url';
import { build } from 'vite';

export const webRoot = fileURLToPath(new URL('../web', import.meta.url));

export async function buildWeb(outDir: string): Promise<void> {
  await build({
    configFile: fileURLToPath(new URL('../web/vite.config.ts', import.meta.url)),
    root: webRoot,
    build: { outDir, emptyOutDir: true },
    logLevel: 'warn',
  });
}
