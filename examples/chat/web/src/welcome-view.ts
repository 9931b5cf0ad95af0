/**
 * The first screen: a new account, a re-install of an existing one with its recovery code (new
 * keys; contacts see a new safety number), linking this browser as another device of an account,
 * or a restore from the encrypted backup.
 */
import { ChatClient, RelayError } from '@e2ee-kit/chat-client';
import { unlockOf } from './backup-view.js';
import { renderLinkThisBrowser } from './devices-view.js';
import { h } from './dom.js';
import { errorText } from './format.js';
import { icon } from './icons.js';
import { restoreAttempts, webStorage } from './idb-storage.js';

export interface WelcomeOptions {
  /** Message shown on top (an error, or what is going on). */
  message?: string;
  /** Prefilled account name (after this device lost its registration). */
  name?: string;
  /** Open the re-install fields right away. */
  reinstall?: boolean;
  /** What went wrong, shown in the form it concerns. */
  error?: { readonly in: 'register' | 'restore'; readonly text: string };
  /** The recovery code typed into the restore form (kept after a failed try). */
  restoreCode?: string;
}

export function renderWelcome(
  app: HTMLElement,
  serverUrl: string,
  started: (client: ChatClient, recoveryCode?: string) => Promise<void>,
  opts: WelcomeOptions = {},
): void {
  const again = (o: WelcomeOptions) => renderWelcome(app, serverUrl, started, o);
  const errorFor = (form: 'register' | 'restore') =>
    opts.error?.in === form &&
    h('p', { class: 'bad', 'data-testid': 'welcome-error', role: 'alert' }, opts.error.text);
  const name = h('input', {
    'data-testid': 'register-name',
    placeholder: 'alice',
    autocomplete: 'off',
    value: opts.name ?? '',
  });
  const code = h('input', {
    'data-testid': 'register-code',
    autocomplete: 'off',
    placeholder: '32 hex digits',
  });
  const reinstall = h(
    'details',
    { 'data-testid': 'reinstall', ...(opts.reinstall ? { open: true } : {}) },
    h('summary', {}, 'This name is already mine (re-install)'),
    h('label', {}, 'Recovery code (shown when you registered, and with your backup)'),
    code,
    h(
      'p',
      { class: 'status' },
      'Re-installing creates new keys: your contacts see that your safety number changed. Old messages stay only in a backup.',
    ),
  );
  const register = h(
    'form',
    {
      class: 'card',
      onsubmit: async (ev) => {
        ev.preventDefault();
        const n = name.value.trim();
        const rc = code.value.trim();
        try {
          const client = await ChatClient.register(n, {
            serverUrl,
            ...webStorage(),
            ...(rc ? { recoveryCode: rc } : {}),
          });
          await started(client, rc ? undefined : await client.recoveryCode());
        } catch (err) {
          const taken = err instanceof RelayError && err.code === 'name_taken';
          again({ error: { in: 'register', text: errorText(err) }, name: n, reinstall: taken || rc !== '' });
        }
      },
    },
    h('h2', {}, 'New account'),
    h('label', {}, 'Name (lowercase letters, digits, - and _)'),
    name,
    reinstall,
    errorFor('register'),
    h(
      'div',
      { class: 'row' },
      h('button', { class: 'primary', 'data-testid': 'register-submit' }, 'Register'),
    ),
  );
  const link = h(
    'div',
    { class: 'card' },
    h('h2', {}, 'Already have an account?'),
    h(
      'p',
      {},
      'Link this browser as another device of it: your messages appear here and on your other devices.',
    ),
    h(
      'div',
      { class: 'row' },
      h(
        'button',
        {
          'data-testid': 'link-this-browser',
          onclick: () => void renderLinkThisBrowser(app, serverUrl, started, () => again(opts)),
        },
        'Link this browser',
      ),
    ),
  );
  const rName = h('input', { 'data-testid': 'restore-name', autocomplete: 'off', value: opts.name ?? '' });
  const rCode = h('input', {
    'data-testid': 'restore-code',
    autocomplete: 'off',
    placeholder: '32 hex digits',
    value: opts.restoreCode ?? '',
  });
  const rSecret = h('input', {
    'data-testid': 'restore-secret',
    type: 'password',
    placeholder: 'password or 64-digit key',
  });
  const restore: HTMLFormElement = h(
    'form',
    {
      class: 'card',
      onsubmit: async (ev) => {
        ev.preventDefault();
        const n = rName.value.trim();
        restore.querySelectorAll('button').forEach((b) => {
          b.disabled = true;
        });
        status.textContent = 'Restoring… (deriving the key from your password takes a few seconds)';
        try {
          const { client } = await ChatClient.restore(n, rCode.value.trim(), unlockOf(rSecret.value.trim()), {
            serverUrl,
            ...webStorage(),
            backupAttempts: restoreAttempts(),
          });
          await started(client);
        } catch (err) {
          again({ error: { in: 'restore', text: errorText(err) }, name: n, restoreCode: rCode.value.trim() });
        }
      },
    },
    h('h2', {}, 'Restore from backup'),
    h('label', {}, 'Name'),
    rName,
    h('label', {}, 'Recovery code'),
    rCode,
    h('label', {}, 'Backup password or 64-digit key'),
    rSecret,
    errorFor('restore'),
    h(
      'p',
      { class: 'status' },
      'Five wrong tries pause further tries on this device for a while, also after a reload.',
    ),
    h('div', { class: 'row' }, h('button', { 'data-testid': 'restore-submit' }, 'Restore')),
  );
  const status = h('p', { class: 'lead', 'data-testid': 'welcome-status', role: 'status' });
  app.replaceChildren(
    h(
      'div',
      { class: 'welcome' },
      h('h1', {}, 'e2ee-kit chat'),
      h(
        'p',
        { class: 'lead' },
        icon('lock'),
        ' End-to-end encrypted: the relay stores public keys and ciphertext, never your messages.',
      ),
      opts.message && h('p', { class: 'lead' }, opts.message),
      status,
      register,
      link,
      restore,
    ),
  );
}
