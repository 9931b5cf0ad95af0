// The flows as every runner reports them: each line handed to `out`, then DONE_LINE, or one
// "flows: FAILED" line with the error (the drivers stop waiting on either). Shared by main.ts and the
// worker entries, which differ only in where a line goes (stdout, a Response, postMessage).
import { DONE_LINE } from './expected.js';
import { runFlows } from './flows.js';

export async function reportFlows(out: (line: string) => void): Promise<void> {
  try {
    await runFlows(out);
    out(DONE_LINE);
  } catch (error: unknown) {
    out(
      `flows: FAILED ${error instanceof Error ? `${error.name}: ${error.message}\n${error.stack}` : String(error)}`,
    );
  }
}
