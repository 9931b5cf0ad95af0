/**
 * Backups as people know them from messengers: create one with a password and/or a 64-digit key,
 * see the key once with a plain warning, change the password later (only the key slots are
 * uploaded again; the encrypted payload stays), and know what replacing a backup does.
 */
import type { BackupInfo, BackupUnlock } from '@e2ee-kit/chat-client';
import { state } from './app-state.js';
import { h } from './dom.js';
import { errorText } from './format.js';

const when = (ms: number) =>
  new Date(ms).toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'short' });

/** A 64-digit key (groups, spaces or dashes allowed) rather than a password. */
export const looksLikeKey = (s: string) => /^[\d\s-]+$/.test(s) && s.replace(/\D/g, '').length >= 64;

export const unlockOf = (secret: string): BackupUnlock =>
  looksLikeKey(secret) ? { recoveryKey: secret } : { password: secret };

function describe(info: BackupInfo | undefined): string {
  if (!info) return 'No backup yet. Without one, losing this browser profile loses your account and chats.';
  const how = [info.withPassword && 'a password', info.withRecoveryKey && 'a 64-digit key']
    .filter(Boolean)
    .join(' and ');
  return `Last backup: ${when(info.createdAt)}, opened with ${how}.`;
}

function busy(form: HTMLFormElement, on: boolean): void {
  form.querySelectorAll('button').forEach((b) => {
    b.disabled = on;
  });
}

export async function renderBackup(el: HTMLElement): Promise<void> {
  const c = state.client;
  if (!c) return;
  const info = await c.backupInfo();
  const pw = h('input', {
    type: 'password',
    'data-testid': 'backup-password',
    placeholder: 'at least 8 characters',
    autocomplete: 'new-password',
  });
  const withKey = h('input', { type: 'checkbox', checked: true, 'data-testid': 'backup-with-key' });
  const out = h('div', { 'data-testid': 'backup-result', role: 'status' });
  const create: HTMLFormElement = h(
    'form',
    {
      class: 'card',
      onsubmit: async (ev) => {
        ev.preventDefault();
        busy(create, true);
        out.replaceChildren(
          h('p', {}, 'Encrypting… (deriving the key from your password takes a few seconds)'),
        );
        try {
          const r = await c.backup({
            ...(pw.value ? { password: pw.value } : {}),
            recoveryKey: withKey.checked,
          });
          pw.value = '';
          const code = await c.recoveryCode();
          out.replaceChildren(
            h(
              'p',
              { class: 'ok' },
              `Backup stored on the relay (${Math.ceil(r.payloadBytes / 1024)} KiB, encrypted).`,
            ),
            h('p', { 'data-testid': 'backup-photos' }, photosLine(r.photos, r.photosLeftOut)),
            r.recoveryKey
              ? h(
                  'div',
                  { class: 'warning', 'data-testid': 'backup-key-box' },
                  h('strong', {}, 'Write this 64-digit key down now. It is shown only this once.'),
                  h('p', { class: 'mono key', 'data-testid': 'backup-key' }, r.recoveryKey),
                  h(
                    'p',
                    {},
                    'If you lose this key and forget your password, the backup is gone: nobody — not the relay, not us — can open it.',
                  ),
                  h(
                    'button',
                    {
                      type: 'button',
                      'data-testid': 'backup-key-done',
                      onclick: () => {
                        out
                          .querySelector('[data-testid="backup-key-box"]')
                          ?.replaceWith(
                            h('p', {}, 'The key is no longer shown. Keep your written copy safe.'),
                          );
                      },
                    },
                    'I wrote it down',
                  ),
                )
              : '',
            h(
              'p',
              {},
              'To restore on a new device you also need your recovery code: ',
              h('span', { class: 'mono', 'data-testid': 'backup-recovery-code' }, code),
            ),
          );
          change.hidden = false;
          const summary = el.querySelector('[data-testid="backup-info"]');
          if (summary) summary.textContent = describe(await c.backupInfo());
        } catch (err) {
          out.replaceChildren(h('p', { class: 'bad', 'data-testid': 'backup-error' }, errorText(err)));
        } finally {
          busy(create, false);
        }
      },
    },
    h('h3', {}, info ? 'Replace the backup' : 'Create a backup'),
    info &&
      h(
        'p',
        { class: 'notice', 'data-testid': 'backup-replace-warning' },
        `This replaces the backup of ${when(info.createdAt)}. Its password and 64-digit key will no longer open anything; a new key is shown once. To only change the password, use the form below.`,
      ),
    h('label', {}, 'Backup password'),
    pw,
    h('label', {}, withKey, ' also create a 64-digit key (works instead of the password)'),
    h(
      'div',
      { class: 'row' },
      h(
        'button',
        { class: 'primary', 'data-testid': 'backup-create' },
        info ? 'Replace backup' : 'Create backup',
      ),
    ),
    out,
  );

  const current = h('input', {
    type: 'password',
    'data-testid': 'change-current',
    placeholder: 'current password or 64-digit key',
    autocomplete: 'current-password',
  });
  const next = h('input', {
    type: 'password',
    'data-testid': 'change-new',
    placeholder: 'at least 8 characters',
    autocomplete: 'new-password',
  });
  const again = h('input', { type: 'password', 'data-testid': 'change-again', autocomplete: 'new-password' });
  const changeOut = h('div', { 'data-testid': 'change-result', role: 'status' });
  const change: HTMLFormElement = h(
    'form',
    {
      class: 'card',
      onsubmit: async (ev) => {
        ev.preventDefault();
        if (next.value !== again.value) {
          changeOut.replaceChildren(h('p', { class: 'bad' }, 'The two new passwords differ.'));
          return;
        }
        busy(change, true);
        changeOut.replaceChildren(h('p', {}, 'Checking the current password…'));
        try {
          await c.changeBackupPassword(unlockOf(current.value.trim()), next.value);
          current.value = next.value = again.value = '';
          changeOut.replaceChildren(
            h(
              'p',
              { class: 'ok' },
              'Password changed. Only the key slots were uploaded; your 64-digit key still works.',
            ),
          );
        } catch (err) {
          changeOut.replaceChildren(h('p', { class: 'bad', 'data-testid': 'change-error' }, errorText(err)));
        } finally {
          busy(change, false);
        }
      },
    },
    h('h3', {}, 'Change the backup password'),
    h('label', {}, 'Current password or 64-digit key'),
    current,
    h('label', {}, 'New password'),
    next,
    h('label', {}, 'New password again'),
    again,
    h(
      'div',
      { class: 'row' },
      h('button', { class: 'primary', 'data-testid': 'change-submit' }, 'Change password'),
    ),
    changeOut,
  );
  change.hidden = !info;

  el.replaceChildren(
    h(
      'div',
      { class: 'panel narrow' },
      h('h2', {}, 'Encrypted backup'),
      h(
        'p',
        {},
        'Everything this browser holds for your account (keys, sessions, groups, messages) is encrypted here, with your password or 64-digit key, and stored on the relay. The relay cannot open it.',
      ),
      h('p', { 'data-testid': 'backup-info' }, describe(info)),
      create,
      change,
    ),
  );
}

/** What the backup holds of the chats' photos (they are restored with it, within its size cap). */
function photosLine(included: number, leftOut: number): string {
  const n = (k: number) => (k === 1 ? '1 photo' : `${k} photos`);
  if (leftOut === 0) return included === 0 ? 'No photos to include.' : `It includes ${n(included)}.`;
  return `It includes ${n(included)}; ${n(leftOut)} did not fit (or had expired on the relay) and open only while the relay keeps them.`;
}
