/**
 * A contact's encryption screen: the 60 digits, the QR code, and three ways to verify — compare the
 * digits, scan (pick or paste a photo/screenshot of the other screen's QR code, decoded here with
 * jsQR), or paste the code as text.
 */
import type { SafetyNumberView } from '@e2ee-kit/chat-client';
import { safetyNumberQr } from '@e2ee-kit/safety-number/qr';
import { nav, state } from './app-state.js';
import { fromHex, h, hex } from './dom.js';
import { errorText } from './format.js';
import { type QrScan, scanQrImage } from './qr-image.js';
import { qrSvg } from './svg.js';

/** `shown`: a comparison result to keep on screen after the re-render that follows a match. */
export async function renderSafety(
  el: HTMLElement,
  contact: string,
  shown?: { ok: boolean; text: string },
): Promise<void> {
  const c = state.client;
  if (!c) return;
  el.replaceChildren(h('p', {}, 'Computing the safety number…'));
  let view: SafetyNumberView;
  try {
    view = await c.safetyNumber(contact);
  } catch (err) {
    el.replaceChildren(
      h('p', { 'data-testid': 'safety-error' }, errorText(err)),
      h('button', { onclick: () => nav.go({ kind: 'dm', contact }) }, 'Back'),
    );
    return;
  }
  const qr = h('div', { class: 'qr', 'data-testid': 'safety-qr' });
  // The same QR code as `view.qrSvg`, drawn from its modules with DOM APIs (no markup: Trusted Types).
  qr.append(qrSvg(safetyNumberQr(view.payload).modules));
  const result = h(
    'p',
    { 'data-testid': 'scan-result', role: 'status', class: shown ? (shown.ok ? 'ok' : 'bad') : '' },
    shown?.text ?? '',
  );
  const compare = async (scanned: Uint8Array) => {
    try {
      const r = await c.verifySafetyNumber(contact, scanned);
      result.className = r.status === 'match' ? 'ok' : 'bad';
      result.textContent =
        r.status === 'match'
          ? `Match: ${contact} is verified.`
          : r.status === 'mismatch'
            ? 'Mismatch: these are not the keys you are talking to. Do not trust this conversation.'
            : r.status === 'version-mismatch'
              ? `The other app uses safety number version ${r.theirs}, this one ${r.ours}: update the older app.`
              : 'That is not a safety number code.';
      if (r.status === 'match') {
        state.identityChanged.delete(contact);
        const text = result.textContent ?? '';
        setTimeout(() => void renderSafety(el, contact, { ok: true, text }), 600);
      }
    } catch (err) {
      result.className = 'bad';
      result.textContent = `Could not read the code. ${errorText(err)}`;
    }
  };
  const compareScan = async (file: Blob) => {
    const scan: QrScan = await scanQrImage(file);
    if ('bytes' in scan) return compare(scan.bytes);
    result.className = 'bad';
    result.textContent = scan.problem;
  };
  const scan = h('textarea', {
    'data-testid': 'scan-input',
    rows: '3',
    placeholder: "Paste the other screen's code (text), or a screenshot of its QR code",
    onpaste: (ev) => {
      const items = (ev as ClipboardEvent).clipboardData?.items;
      const item = items ? Array.from(items).find((i) => i.type.startsWith('image/')) : undefined;
      const file = item?.getAsFile();
      if (!file) return;
      ev.preventDefault();
      void compareScan(file);
    },
  });
  const picker = h('input', {
    type: 'file',
    accept: 'image/*',
    'data-testid': 'scan-image',
    'aria-label': 'Scan a screenshot or photo of the QR code',
    onchange: () => {
      const file = picker.files?.[0];
      if (file) void compareScan(file);
    },
  });
  el.replaceChildren(
    h(
      'div',
      { class: 'row head-row' },
      h(
        'button',
        { 'data-testid': 'safety-back', onclick: () => nav.go({ kind: 'dm', contact }) },
        '‹ Back to chat',
      ),
    ),
    h('h2', {}, `Encryption with ${contact}`),
    h(
      'p',
      {},
      `Messages with ${contact} are end-to-end encrypted. To be sure you are talking to ${contact} and nobody is in between, compare this safety number with the one on ${contact}'s screen, or scan each other's code.`,
    ),
    h(
      'p',
      { 'data-testid': 'safety-status', class: view.verified ? 'ok' : '' },
      view.verified ? 'Verified' : 'Not verified yet',
    ),
    h(
      'div',
      { class: 'digits', 'data-testid': 'safety-digits' },
      ...view.groups.map((g) => h('span', {}, g)),
    ),
    qr,
    h(
      'details',
      {},
      h('summary', {}, 'This code as text (to paste into the other window)'),
      h('p', { class: 'mono', 'data-testid': 'safety-payload' }, hex(view.payload)),
    ),
    h('label', {}, `Scan ${contact}'s code: pick a screenshot or photo of it`),
    picker,
    h('label', {}, `…or paste ${contact}'s code`),
    scan,
    h(
      'div',
      { class: 'row' },
      h(
        'button',
        {
          class: 'primary',
          'data-testid': 'scan-compare',
          onclick: () => {
            let bytes: Uint8Array;
            try {
              bytes = fromHex(scan.value);
            } catch {
              result.className = 'bad';
              result.textContent =
                'That is not a safety number code (expected the text under the other QR code).';
              return;
            }
            void compare(bytes);
          },
        },
        'Compare',
      ),
    ),
    result,
  );
}
