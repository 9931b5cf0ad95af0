// The program every runtime runs: the shared flows, one line each on stdout, then the done line.
// Hermes' CLI has `print` and no console; everything else has console.log (and a browser's `print`
// opens the print dialog, so console comes first).
import { reportFlows } from './report.js';

declare const print: (line: string) => void;
const out =
  typeof console === 'object' && typeof console.log === 'function'
    ? (line: string) => console.log(line)
    : (line: string) => print(line);

void reportFlows(out);
