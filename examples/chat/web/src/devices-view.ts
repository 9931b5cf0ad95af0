/**
 * Linked devices in the web client:
 * - on the welcome screen, "Link this browser": the relay gives a provisioning address, the page
 *   shows the link code as a QR code and as text, and waits for a device of the account to send it
 *   the account;
 * - in the main screen, "Devices": the account's devices (unlink the others) and "Link a device",
 *   which takes the new browser's code by a screenshot or photo of its QR code, or pasted.
 */
import { ChatClient, LinkRequest } from '@e2ee-kit/chat-client';
import { utf8 } from '@e2ee-kit/core';
import { safetyNumberQr } from '@e2ee-kit/safety-number/qr';
import { h } from './dom.js';
import { relayLinkedText } from './format.js';
import { webStorage } from './idb-storage.js';
import { scanQrImage } from './qr-image.js';
import { qrSvg } from './svg.js';

const errorText = (err: unknown) => (err instanceof Error ? err.message : String(err));

/** The new browser: shows the code until the account arrives, then starts the client. */
export async function renderLinkThisBrowser(
  el: HTMLElement,
  serverUrl: string,
  onLinked: (client: ChatClient) => Promise<void>,
  onCancel: () => void,
): Promise<void> {
  const status = h('p', { 'data-testid': 'link-status' }, 'Asking the relay for a link code…');
  el.replaceChildren(
    h('div', { class: 'welcome' }, h('div', { class: 'card' }, h('h2', {}, 'Link this browser'), status)),
  );
  let request: LinkRequest;
  try {
    request = await LinkRequest.create(serverUrl);
  } catch (err) {
    status.textContent = `Could not get a link code: ${errorText(err)}`;
    return;
  }
  const qr = h('div', { class: 'qr', 'data-testid': 'link-qr' });
  // The QR code holds the link text as bytes (ASCII): any scanner reads it back as the same text.
  qr.append(qrSvg(safetyNumberQr(utf8(request.uri), { ecc: 'low' }).modules));
  status.textContent = 'Waiting for your other device…';
  el.replaceChildren(
    h(
      'div',
      { class: 'welcome' },
      h(
        'div',
        { class: 'card' },
        h('h2', {}, 'Link this browser'),
        h(
          'p',
          {},
          'On a device where you are signed in, open Devices → Link a device, and scan this code (a screenshot or photo of it works) or paste the text below.',
        ),
        qr,
        h('label', {}, 'Link code'),
        h('textarea', { class: 'mono', readonly: true, rows: '3', 'data-testid': 'link-uri' }, request.uri),
        status,
        h(
          'div',
          { class: 'row' },
          h(
            'button',
            {
              onclick: () => {
                request.dispose();
                onCancel();
              },
            },
            'Cancel',
          ),
        ),
      ),
    ),
  );
  try {
    const client = await ChatClient.link(request, { serverUrl, ...webStorage() });
    await onLinked(client);
  } catch (err) {
    status.textContent = `Linking failed: ${errorText(err)}`;
  }
}

/** The signed-in browser: the account's devices, unlinking, and linking a new one. */
export function renderDevices(el: HTMLElement, client: ChatClient): void {
  const list = h('ul', { class: 'list devices', 'data-testid': 'device-list' });
  const result = h('div', { 'data-testid': 'link-result' });
  const refresh = async () => {
    try {
      const devices = await client.listDevices();
      list.replaceChildren(
        ...devices.map((d) =>
          h(
            'li',
            { 'data-testid': `device-${d.deviceId}` },
            `Device ${d.deviceId}${d.deviceId === 1 ? ' (primary)' : ''}${d.current ? ' — this browser' : ''}`,
            h('span', { class: 'status' }, ` — ${relayLinkedText(d.createdAt)}`),
            !d.current &&
              d.deviceId !== 1 &&
              h(
                'button',
                {
                  'data-testid': `unlink-${d.deviceId}`,
                  onclick: async () => {
                    try {
                      await client.unlinkDevice(d.deviceId);
                      result.replaceChildren(h('p', { class: 'ok' }, `Device ${d.deviceId} was unlinked.`));
                    } catch (err) {
                      result.replaceChildren(h('p', { class: 'bad' }, errorText(err)));
                    }
                    await refresh();
                  },
                },
                'Unlink',
              ),
          ),
        ),
      );
    } catch (err) {
      list.replaceChildren(h('li', { class: 'bad' }, errorText(err)));
    }
  };
  const code = h('textarea', {
    class: 'mono',
    rows: '3',
    placeholder: 'e2ee-chat://linkdevice?uuid=…',
    'data-testid': 'link-code-input',
  });
  const image = h('input', {
    type: 'file',
    accept: 'image/*',
    'data-testid': 'link-code-image',
    onchange: async () => {
      const file = image.files?.[0];
      if (!file) return;
      const scan = await scanQrImage(file);
      if ('problem' in scan) {
        result.replaceChildren(h('p', { class: 'bad', 'data-testid': 'link-scan-problem' }, scan.problem));
        return;
      }
      code.value = scan.data;
      result.replaceChildren();
    },
  });
  const confirm = () => {
    const uri = code.value.trim();
    if (!uri) return;
    // Whoever shows this code gets the account: the user confirms before anything is sent.
    result.replaceChildren(
      h(
        'p',
        { class: 'notice' },
        'The device showing this code will get your account: it reads and sends your messages. Link it only if it is yours and in front of you. ',
        h(
          'button',
          {
            class: 'primary',
            'data-testid': 'link-confirm',
            onclick: async () => {
              result.replaceChildren(h('p', {}, 'Sending your account to the new device…'));
              try {
                await client.linkDevice(uri);
                code.value = '';
                result.replaceChildren(
                  h('p', { class: 'ok' }, 'Sent. The new device appears in the list once it registered.'),
                );
                for (let i = 0; i < 10; i++) {
                  await new Promise((r) => setTimeout(r, 1000));
                  await refresh();
                }
              } catch (err) {
                result.replaceChildren(h('p', { class: 'bad' }, errorText(err)));
              }
            },
          },
          'Link this device',
        ),
      ),
    );
  };
  el.replaceChildren(
    h(
      'div',
      { class: 'panel' },
      h('h2', {}, 'Devices'),
      h(
        'p',
        {},
        'Every device of your account gets every message, including the ones you send from another device.',
      ),
      list,
      h('h2', {}, 'Link a device'),
      h(
        'p',
        {},
        'On the new device, choose "Link this browser". Then choose a screenshot or photo of its QR code, or paste its link code.',
      ),
      h('label', {}, 'QR code image'),
      image,
      h('label', {}, 'Link code'),
      code,
      h(
        'div',
        { class: 'row' },
        h('button', { 'data-testid': 'link-code-submit', onclick: confirm }, 'Link a device'),
      ),
      result,
    ),
  );
  void refresh();
}
