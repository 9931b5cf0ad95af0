/**
 * The web client: plain TypeScript and DOM, no framework. All cryptography happens in this page
 * through @e2ee-kit/chat-client; the relay (same origin) only relays ciphertext.
 */
import { ChatClient, type ChatMessage, type Group, type SafetyNumberView } from '@e2ee-kit/chat-client';
import { E2eeError } from '@e2ee-kit/core';
import { attachButton, photoView } from './attachment-view.js';
import { addContactForm } from './contacts-view.js';
import { renderDevices, renderLinkThisBrowser } from './devices-view.js';
import { h } from './dom.js';
import { webStorage } from './idb-storage.js';
import { renderInvitations } from './invitations-view.js';
import { renderPrivacy } from './privacy-view.js';
import type { ViewContext } from './view-context.js';

type View =
  | { kind: 'none' }
  | { kind: 'dm'; contact: string }
  | { kind: 'group'; id: string }
  | { kind: 'safety'; contact: string }
  | { kind: 'new-group' }
  | { kind: 'backup' }
  | { kind: 'devices' }
  | { kind: 'privacy' }
  | { kind: 'invitations' };

const app = document.getElementById('app')!;
const serverUrl = location.origin;
const state = {
  client: undefined as ChatClient | undefined,
  view: { kind: 'none' } as View,
  contacts: [] as string[],
  /** People with a 1:1 conversation who are not contacts (someone who wrote first). */
  chats: [] as string[],
  groups: [] as Group[],
  invitations: 0,
  unread: new Map<string, number>(),
  connected: false,
  notice: '' as string,
  recoveryCodeToShow: '' as string,
};

const conversationOf = (v: View) =>
  v.kind === 'dm' ? `dm:${v.contact}` : v.kind === 'group' ? `group:${v.id}` : undefined;
const hex = (b: Uint8Array) => Array.from(b, (x) => x.toString(16).padStart(2, '0')).join('');
const fromHex = (s: string) => {
  const clean = s.replace(/[\s:]/g, '').toLowerCase();
  if (!/^([0-9a-f]{2})+$/.test(clean)) throw new Error('not hex');
  return Uint8Array.from(clean.match(/../g)!, (b) => Number.parseInt(b, 16));
};
const errorText = (err: unknown) =>
  E2eeError.is(err) ? `${err.code}: ${err.message}` : err instanceof Error ? err.message : String(err);

// ---------------------------------------------------------------------------------------------
// Welcome: register or restore

function renderWelcome(error = ''): void {
  const name = h('input', { 'data-testid': 'register-name', placeholder: 'alice', autocomplete: 'off' });
  const register = h(
    'form',
    {
      class: 'card',
      onsubmit: async (ev) => {
        ev.preventDefault();
        try {
          const client = await ChatClient.register(name.value.trim(), { serverUrl, ...webStorage() });
          state.recoveryCodeToShow = await client.recoveryCode();
          await start(client);
        } catch (err) {
          renderWelcome(errorText(err));
        }
      },
    },
    h('h2', {}, 'New account'),
    h('label', {}, 'Name (lowercase letters, digits, - and _)'),
    name,
    h(
      'div',
      { class: 'row' },
      h('button', { class: 'primary', 'data-testid': 'register-submit' }, 'Register'),
    ),
  );
  const rName = h('input', { 'data-testid': 'restore-name', autocomplete: 'off' });
  const rCode = h('input', {
    'data-testid': 'restore-code',
    autocomplete: 'off',
    placeholder: '32 hex digits',
  });
  const rSecret = h('input', {
    'data-testid': 'restore-secret',
    type: 'password',
    placeholder: 'password or 64-digit key',
  });
  const restore = h(
    'form',
    {
      class: 'card',
      onsubmit: async (ev) => {
        ev.preventDefault();
        try {
          const secret = rSecret.value.trim();
          const unlock = /^[\d\s-]{64,}$/.test(secret) ? { recoveryKey: secret } : { password: secret };
          renderWelcome('restoring… (deriving the key from your password takes a moment)');
          const { client } = await ChatClient.restore(rName.value.trim(), rCode.value.trim(), unlock, {
            serverUrl,
            ...webStorage(),
          });
          await start(client);
        } catch (err) {
          renderWelcome(errorText(err));
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
    h('div', { class: 'row' }, h('button', { 'data-testid': 'restore-submit' }, 'Restore')),
  );
  app.replaceChildren(
    h(
      'div',
      { class: 'welcome' },
      h('h1', {}, 'e2ee-kit chat'),
      h(
        'p',
        { class: 'lead' },
        'End-to-end encrypted: the relay stores public keys and ciphertext, never your messages.',
      ),
      error && h('p', { class: 'lead bad', 'data-testid': 'welcome-error' }, error),
      register,
      h(
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
              onclick: () => void renderLinkThisBrowser(app, serverUrl, start, () => renderWelcome()),
            },
            'Link this browser',
          ),
        ),
      ),
      restore,
    ),
  );
}

// ---------------------------------------------------------------------------------------------
// Main screen

const viewContext = (client: ChatClient): ViewContext => ({ h, client, refresh: refreshLists, errorText });
/** Made once, so the 3-second sidebar refresh keeps what is being typed. */
let addContact: HTMLFormElement | undefined;

async function start(client: ChatClient): Promise<void> {
  state.client = client;
  client.on('message', (m) => onMessage(m));
  client.on('group', () => void refreshLists());
  client.on('invitation', () => void refreshLists());
  client.on('identity-changed', (e) => {
    state.notice = `Your safety number with ${e.contact} changed. Verify it again before you send.`;
    render();
  });
  client.on('connection', (e) => {
    state.connected = e.state === 'open';
    renderSidebar();
    // Reconnect after a relay restart or a network drop; queued envelopes come again.
    if (e.state === 'closed') setTimeout(() => void client.connect().catch(() => {}), 3000);
  });
  await refreshLists();
  render();
  await client.connect();
  await refreshLists();
  setInterval(() => void refreshLists(), 3000);
}

async function refreshLists(): Promise<void> {
  const c = state.client;
  if (!c) return;
  state.contacts = await c.contacts();
  state.chats = (await c.chatPartners()).filter((n) => !state.contacts.includes(n));
  state.groups = await c.groups();
  state.invitations = (await c.invitations()).length;
  renderSidebar();
}

function onMessage(m: ChatMessage): void {
  if (m.conversation === conversationOf(state.view)) {
    void renderMessages();
  } else if (!m.outgoing) {
    state.unread.set(m.conversation, (state.unread.get(m.conversation) ?? 0) + 1);
    renderSidebar();
  }
}

function go(view: View): void {
  state.view = view;
  state.notice = '';
  const conv = conversationOf(view);
  if (conv) state.unread.delete(conv);
  render();
}

function render(): void {
  app.replaceChildren(
    h(
      'div',
      { class: 'layout' },
      h('aside', { class: 'sidebar', id: 'sidebar' }),
      h('main', { class: 'main', id: 'main' }),
    ),
  );
  renderSidebar();
  renderMain();
}

function renderSidebar(): void {
  const el = document.getElementById('sidebar');
  const c = state.client;
  if (!el || !c) return;
  const item = (label: string, conv: string, view: View, testid: string) => {
    const unread = state.unread.get(conv) ?? 0;
    const active = conversationOf(state.view) === conv;
    return h(
      'li',
      { class: active ? 'active' : '', 'data-testid': testid, onclick: () => go(view) },
      label,
      unread > 0 && h('span', { class: 'badge' }, String(unread)),
    );
  };
  addContact ??= addContactForm(viewContext(c));
  el.replaceChildren(
    h(
      'div',
      { class: 'me' },
      h('strong', { 'data-testid': 'me' }, c.name),
      h('div', { class: 'status', 'data-testid': 'connection' }, state.connected ? 'connected' : 'offline'),
    ),
    h('div', { class: 'section' }, 'Contacts'),
    addContact,
    h(
      'ul',
      { class: 'list' },
      ...state.contacts.map((n) => item(n, `dm:${n}`, { kind: 'dm', contact: n }, `contact-${n}`)),
    ),
    ...(state.chats.length > 0
      ? [
          h('div', { class: 'section' }, 'Other chats'),
          h(
            'ul',
            { class: 'list' },
            ...state.chats.map((n) => item(n, `dm:${n}`, { kind: 'dm', contact: n }, `chat-${n}`)),
          ),
        ]
      : []),
    h(
      'div',
      { class: 'section' },
      'Groups',
      h('button', { 'data-testid': 'new-group', onclick: () => go({ kind: 'new-group' }) }, '+'),
    ),
    h(
      'ul',
      { class: 'list' },
      ...state.groups
        .filter((g) => g.active)
        .map((g) => item(g.title, `group:${g.id}`, { kind: 'group', id: g.id }, `group-${g.title}`)),
    ),
    h(
      'div',
      { class: 'foot' },
      h(
        'button',
        { 'data-testid': 'open-backup', onclick: () => go({ kind: 'backup' }) },
        'Encrypted backup',
      ),
      h('button', { 'data-testid': 'open-devices', onclick: () => go({ kind: 'devices' }) }, 'Devices'),
      h('button', { 'data-testid': 'open-privacy', onclick: () => go({ kind: 'privacy' }) }, 'Privacy'),
      h(
        'button',
        { 'data-testid': 'open-invitations', onclick: () => go({ kind: 'invitations' }) },
        `Invitations${state.invitations > 0 ? ` (${state.invitations})` : ''}`,
      ),
    ),
  );
}

function renderMain(): void {
  const el = document.getElementById('main');
  if (!el) return;
  const v = state.view;
  const codeNotice =
    state.recoveryCodeToShow &&
    h(
      'div',
      { class: 'notice' },
      'Your recovery code (needed to restore this account on another device, with your backup): ',
      h('span', { class: 'mono', 'data-testid': 'recovery-code' }, state.recoveryCodeToShow),
      ' ',
      h(
        'button',
        {
          onclick: () => {
            state.recoveryCodeToShow = '';
            renderMain();
          },
        },
        'I wrote it down',
      ),
    );
  if (v.kind === 'none') {
    el.replaceChildren(
      h(
        'div',
        { class: 'panel' },
        codeNotice,
        h('p', { class: 'empty' }, 'Pick a contact to start a conversation.'),
      ),
    );
    return;
  }
  if (v.kind === 'dm' || v.kind === 'group') {
    const group = v.kind === 'group' ? state.groups.find((g) => g.id === v.id) : undefined;
    const input = h('input', { 'data-testid': 'composer', placeholder: 'Message', autocomplete: 'off' });
    const header = h(
      'div',
      { class: 'header' },
      h(
        'h2',
        { 'data-testid': 'conversation-title' },
        v.kind === 'dm' ? v.contact : (group?.title ?? 'group'),
      ),
      v.kind === 'dm' &&
        h(
          'button',
          { 'data-testid': 'open-safety', onclick: () => go({ kind: 'safety', contact: v.contact }) },
          'Safety number',
        ),
      group && h('span', { class: 'status' }, group.members.join(', ')),
      group &&
        group.admin === state.client?.name &&
        h(
          'select',
          {
            'data-testid': 'remove-member',
            onchange: async (ev) => {
              const who = (ev.target as HTMLSelectElement).value;
              if (who) await state.client?.removeMember(group.id, who);
              await refreshLists();
              renderMain();
            },
          },
          h('option', { value: '' }, 'Remove member…'),
          ...group.members.filter((m) => m !== state.client?.name).map((m) => h('option', { value: m }, m)),
        ),
    );
    const send = async () => {
      const text = input.value.trim();
      if (!text || !state.client) return;
      input.value = '';
      try {
        if (v.kind === 'dm') await state.client.sendText(v.contact, text);
        else await state.client.sendGroupText(v.id, text);
        state.notice = '';
      } catch (err) {
        input.value = text;
        state.notice =
          E2eeError.is(err, 'UNTRUSTED_IDENTITY') && v.kind === 'dm'
            ? `Not sent: ${v.contact}'s safety number changed since you verified it. Verify again, or accept the change.`
            : `Not sent: ${errorText(err)}`;
        renderNotice();
      }
      await renderMessages();
    };
    el.replaceChildren(
      header,
      h('div', { id: 'notice' }),
      h('div', { class: 'messages', 'data-testid': 'messages', id: 'messages' }),
      h(
        'form',
        {
          class: 'composer',
          onsubmit: (ev) => {
            ev.preventDefault();
            void send();
          },
        },
        input,
        attachButton({
          send: (bytes, meta) => state.client!.sendPhoto(conversationOf(v)!, bytes, meta),
          sent: () => void renderMessages(),
        }),
        h('button', { class: 'primary', 'data-testid': 'send' }, 'Send'),
      ),
    );
    renderNotice();
    void renderMessages();
    input.focus();
    return;
  }
  if (v.kind === 'safety') {
    el.replaceChildren(h('div', { class: 'panel', id: 'safety' }, 'Computing the safety number…'));
    void renderSafety(v.contact);
    return;
  }
  if (v.kind === 'new-group') {
    const title = h('input', { 'data-testid': 'group-title', placeholder: 'Friday lunch' });
    const boxes = state.contacts.map((n) => ({
      n,
      box: h('input', { type: 'checkbox', 'data-testid': `member-${n}` }),
    }));
    el.replaceChildren(
      h(
        'form',
        {
          class: 'panel',
          onsubmit: async (ev) => {
            ev.preventDefault();
            const members = boxes.filter((b) => b.box.checked).map((b) => b.n);
            if (!state.client || !title.value.trim() || members.length === 0) return;
            const g = await state.client.createGroup(title.value.trim(), members);
            await refreshLists();
            go({ kind: 'group', id: g.id });
          },
        },
        h('h2', {}, 'New group'),
        h('label', {}, 'Title'),
        title,
        h('label', {}, 'Members'),
        ...boxes.map((b) => h('div', {}, h('label', {}, b.box, ` ${b.n}`))),
        h(
          'div',
          { class: 'row' },
          h('button', { class: 'primary', 'data-testid': 'create-group' }, 'Create'),
        ),
      ),
    );
    return;
  }
  if (v.kind === 'devices') {
    if (state.client) renderDevices(el, state.client);
    return;
  }
  if (v.kind === 'privacy' && state.client) {
    void renderPrivacy(el, viewContext(state.client));
    return;
  }
  if (v.kind === 'invitations' && state.client) {
    void renderInvitations(el, viewContext(state.client), (g) => go({ kind: 'group', id: g.id }));
    return;
  }
  renderBackup(el);
}

function renderNotice(): void {
  const el = document.getElementById('notice');
  if (!el) return;
  const v = state.view;
  el.replaceChildren(
    ...(state.notice
      ? [
          h(
            'div',
            { class: 'notice', 'data-testid': 'notice' },
            state.notice,
            v.kind === 'dm' && ' ',
            v.kind === 'dm' &&
              h('button', { onclick: () => go({ kind: 'safety', contact: v.contact }) }, 'Verify'),
            v.kind === 'dm' &&
              h(
                'button',
                {
                  onclick: async () => {
                    await state.client?.acceptIdentityChange(v.contact);
                    state.notice = '';
                    renderNotice();
                  },
                },
                'Accept',
              ),
          ),
        ]
      : []),
  );
}

async function renderMessages(): Promise<void> {
  const c = state.client;
  const conv = conversationOf(state.view);
  const el = document.getElementById('messages');
  if (!c || !conv || !el) return;
  const list = await c.messages(conv);
  el.replaceChildren(
    ...list.map((m) =>
      h(
        'div',
        {
          class: `msg${m.outgoing ? ' out' : ''}${m.system ? ' system' : ''}`,
          'data-testid': m.system ? 'system-message' : 'message',
        },
        !m.system && !m.outgoing && conv.startsWith('group:') && h('div', { class: 'from' }, m.from),
        m.attachment ? photoView(c, m.attachment) : h('span', { class: 'text' }, m.text),
      ),
    ),
  );
  el.scrollTop = el.scrollHeight;
}

async function renderSafety(contact: string): Promise<void> {
  const el = document.getElementById('safety');
  const c = state.client;
  if (!el || !c) return;
  let view: SafetyNumberView;
  try {
    view = await c.safetyNumber(contact);
  } catch (err) {
    el.replaceChildren(
      h('p', {}, errorText(err)),
      h('button', { onclick: () => go({ kind: 'dm', contact }) }, 'Back'),
    );
    return;
  }
  const qr = h('div', { class: 'qr', 'data-testid': 'safety-qr' });
  qr.innerHTML = view.qrSvg; // SVG produced locally by @e2ee-kit/safety-number/qr from bytes, not user input
  const scan = h('textarea', {
    'data-testid': 'scan-input',
    rows: '3',
    placeholder: "the code read from the other phone's QR (hex)",
  });
  const result = h('p', { 'data-testid': 'scan-result' });
  el.replaceChildren(
    h('h2', {}, `Safety number with ${contact}`),
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
    h(
      'p',
      { class: 'status' },
      `Compare these 60 digits with ${contact}'s screen, or scan each other's code.`,
    ),
    qr,
    h('p', { class: 'status' }, 'This code as text (to paste into the other window): '),
    h('p', { class: 'mono', 'data-testid': 'safety-payload' }, hex(view.payload)),
    h('label', {}, `Scanned from ${contact}'s screen`),
    scan,
    h(
      'div',
      { class: 'row' },
      h(
        'button',
        {
          class: 'primary',
          'data-testid': 'scan-compare',
          onclick: async () => {
            try {
              const r = await c.verifySafetyNumber(contact, fromHex(scan.value));
              result.className = r.status === 'match' ? 'ok' : 'bad';
              result.textContent =
                r.status === 'match'
                  ? `Match: ${contact} is verified.`
                  : r.status === 'mismatch'
                    ? 'Mismatch: these are not the keys you are talking to. Do not trust this conversation.'
                    : r.status === 'version-mismatch'
                      ? `The other app uses safety number version ${r.theirs}, this one ${r.ours}.`
                      : 'That is not a safety number code.';
              if (r.status === 'match') setTimeout(() => void renderSafety(contact), 600);
            } catch (err) {
              result.className = 'bad';
              result.textContent = `Could not read the code: ${errorText(err)}`;
            }
          },
        },
        'Compare',
      ),
      h('button', { onclick: () => go({ kind: 'dm', contact }) }, 'Back to chat'),
    ),
    result,
  );
}

function renderBackup(el: HTMLElement): void {
  const c = state.client!;
  const pw = h('input', {
    type: 'password',
    'data-testid': 'backup-password',
    placeholder: 'at least 8 characters',
  });
  const withKey = h('input', { type: 'checkbox', checked: true, 'data-testid': 'backup-with-key' });
  const out = h('div', { 'data-testid': 'backup-result' });
  el.replaceChildren(
    h(
      'form',
      {
        class: 'panel',
        onsubmit: async (ev) => {
          ev.preventDefault();
          out.textContent = 'Encrypting (Argon2id with 64 MiB takes a moment)…';
          try {
            const r = await c.backup({ password: pw.value, recoveryKey: withKey.checked });
            out.replaceChildren(
              h(
                'p',
                { class: 'ok' },
                `Backup stored on the relay (${r.payloadBytes} bytes of ciphertext, ${r.slotsBytes} bytes of key slots).`,
              ),
              h(
                'p',
                {},
                'Recovery code (to download it): ',
                h('span', { class: 'mono', 'data-testid': 'backup-recovery-code' }, await c.recoveryCode()),
              ),
              r.recoveryKey
                ? h(
                    'p',
                    {},
                    '64-digit key (instead of the password; shown once): ',
                    h('span', { class: 'mono', 'data-testid': 'backup-key' }, r.recoveryKey),
                  )
                : '',
            );
          } catch (err) {
            out.replaceChildren(h('p', { class: 'bad' }, errorText(err)));
          }
        },
      },
      h('h2', {}, 'Encrypted backup'),
      h(
        'p',
        {},
        'Everything this browser holds for your account (keys, sessions, groups, messages) is encrypted here with your password and stored on the relay. The relay cannot open it.',
      ),
      h('label', {}, 'Backup password'),
      pw,
      h('label', {}, withKey, ' also create a 64-digit key'),
      h(
        'div',
        { class: 'row' },
        h('button', { class: 'primary', 'data-testid': 'backup-create' }, 'Create backup'),
      ),
      out,
    ),
  );
}

// ---------------------------------------------------------------------------------------------

async function boot(): Promise<void> {
  const storage = webStorage();
  if (await ChatClient.hasAccount(storage.store))
    await start(await ChatClient.open({ serverUrl, ...storage }));
  else renderWelcome();
}

void boot();
