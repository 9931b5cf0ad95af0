// The ES module worker workerd runs (workerd.ts bundles it): every request runs the shared flows and
// answers with their lines, one per line of the body. The flows run inside the handler because
// Workers refuse random values and I/O in a module's global scope.
import { reportFlows } from './report.js';

export default {
  async fetch(): Promise<Response> {
    const lines: string[] = [];
    await reportFlows((line) => lines.push(line));
    return new Response(`${lines.join('\n')}\n`, { headers: { 'content-type': 'text/plain' } });
  },
};
