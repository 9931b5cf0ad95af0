// The script a dedicated Web Worker runs (chromium-worker in workers.ts): the shared flows, each line
// posted to the page that started it, which logs it for the driver.
import { reportFlows } from './report.js';

declare const postMessage: (line: string) => void;

void reportFlows((line) => postMessage(line));
