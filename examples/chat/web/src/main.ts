/**
 * The web client: plain TypeScript and DOM, no framework. All cryptography happens in this page
 * through @e2ee-kit/chat-client; the relay (same origin) only relays ciphertext. The views live in
 * their own modules (chat-view, safety-view, backup-view, welcome-view, devices-view, lost-view,
 * the consent views); this one holds the page together: start, sidebar, navigation, reconnects, and
 * noticing that the device was replaced.
 */
import { ChatClient, type ChatMessage } from '@e2ee-kit/chat-client';
import { conversationOf, nav, state, type View } from './app-state.js';
import { renderBackup } from './backup-view.js';
import { onOutboxRefused, renderBanners, renderChat, renderHeader, renderMessages } from './chat-view.js';
import { addContactForm } from './contacts-view.js';
import { renderDevices } from './devices-view.js';
import { h } from './dom.js';
import { errorText, isUnauthorized } from './format.js';
import { webStorage } from './idb-storage.js';
import { renderInvitations } from './invitations-view.js';
import { renderLost } from './lost-view.js';
import { renderPrivacy } from './privacy-view.js';
import { eraseIfAsked } from './reset.js';
import { renderSafety } from './safety-view.js';
import type { ViewContext } from './view-context.js';
import { renderWelcome } from './welcome-view.js';

const app = document.getElementById('app')!;
const serverUrl = location.origin;
const RECONNECT_MS = 3000;
/** The relay's close code when a newer connection of the same device took over (server/src/delivery.ts). */
const CLOSE_REPLACED_BY_NEWER = 4409;

// Nothing may end up as an uncaught error in the console: anything that slips through is shown.
window.addEventListener('unhandledrejection', (ev) => {
  ev.preventDefault();
  showToast(errorText(ev.reason));
});

function showToast(text: string): void {
  const t = h('div', { class: 'toast', role: 'alert', 'data-testid': 'toast' }, text);
  document.body.append(t);
  setTimeout(() => t.remove(), 6000);
}

// ---------------------------------------------------------------------------------------------
// Main screen

const viewContext = (client: ChatClient): ViewContext => ({ h, client, refresh: refreshLists, errorText });
/** Made once, so the 3-second sidebar refresh keeps what is being typed. */
let addContact: HTMLFormElement | undefined;

async function start(client: ChatClient, recoveryCode?: string): Promise<void> {
  state.client = client;
  state.recoveryCodeToShow = recoveryCode ?? '';
  client.on('message', (m) => onMessage(m));
  client.on('message-status', (m) => {
    if (m.conversation !== conversationOf(state.view)) return;
    void renderMessages();
    onOutboxRefused(m);
  });
  client.on('group', () => void refreshLists());
  client.on('invitation', () => void refreshLists());
  client.on('identity-changed', (e) => {
    state.identityChanged.add(e.contact);
    renderBanners();
  });
  client.on('registration-lost', (e) => registrationLost(e.reason));
  client.on('connection', (e) => {
    state.connected = e.state === 'open';
    // The relay keeps one connection per device, and every tab of this profile is the same device:
    // a newer tab's connection closes this one (4409). Taking it back on a timer made two open tabs
    // take it from each other every few seconds, so this tab waits until the user returns to it.
    state.elsewhere = e.state === 'closed' && e.code === CLOSE_REPLACED_BY_NEWER;
    renderSidebar();
    // Reconnect after a relay restart or a network drop; queued envelopes come again, and the
    // outbox is sent once the relay says "ready".
    if (e.state === 'closed' && !state.lost && !state.elsewhere)
      setTimeout(() => void connect(), RECONNECT_MS);
  });
  const comeBack = () => {
    if (state.elsewhere && !state.connected) void connect();
  };
  window.addEventListener('focus', comeBack);
  document.addEventListener('visibilitychange', () => {
    if (document.visibilityState !== 'visible') return;
    comeBack();
    void renderMessages();
  });
  await refreshLists();
  render();
  await connect();
  await refreshLists();
  setInterval(() => void refreshLists(), RECONNECT_MS);
}

async function connect(): Promise<void> {
  const c = state.client;
  if (!c || state.lost) return;
  try {
    await c.connect();
  } catch {
    // offline: the 'connection' closed event schedules the next try
  }
}

async function refreshLists(): Promise<void> {
  const c = state.client;
  if (!c || state.lost) return;
  try {
    state.contacts = await c.contacts();
    state.chats = (await c.chatPartners()).filter((n) => !state.contacts.includes(n));
    state.invitations = (await c.invitations()).length;
    if (state.connected) await c.flushOutbox();
  } catch (err) {
    if (isUnauthorized(err)) return registrationLost('unauthorized');
    // offline: keep the last list; the outbox waits for the relay
  }
  state.groups = await c.groups();
  renderSidebar();
  renderHeader();
}

function onMessage(m: ChatMessage): void {
  if (m.conversation === conversationOf(state.view)) {
    void renderMessages();
  } else if (!m.outgoing && !m.system) {
    state.unread.set(m.conversation, (state.unread.get(m.conversation) ?? 0) + 1);
    renderSidebar();
  }
}

function go(view: View): void {
  state.view = view;
  state.sendError = undefined; // a failed send's banner belongs to the moment it happened
  const conv = conversationOf(view);
  if (conv) state.unread.delete(conv);
  render();
}

function registrationLost(reason: 'replaced' | 'unauthorized'): void {
  if (state.lost) return;
  state.lost = reason;
  state.client?.disconnect();
  renderLost(app);
}

nav.go = go;
nav.refreshLists = refreshLists;
nav.registrationLost = registrationLost;

function render(): void {
  if (state.lost) {
    renderLost(app);
    return;
  }
  app.replaceChildren(
    h(
      'div',
      { class: `layout${state.view.kind === 'none' ? '' : ' in-view'}` },
      h('aside', { class: 'sidebar', id: 'sidebar' }),
      h('main', { class: 'main', id: 'main' }),
    ),
  );
  renderSidebar();
  renderMain();
}

/** What the sidebar last showed: a refresh that changes none of it leaves the DOM alone. */
let sidebarShown = '';

function renderSidebar(): void {
  const el = document.getElementById('sidebar');
  const c = state.client;
  if (!el || !c) return;
  // Rebuilding every few seconds would move the add-contact field out of the document and back,
  // which drops its focus (and a click landing during the swap): redraw only what changed.
  const shown = JSON.stringify([
    c.name,
    state.connected,
    state.elsewhere,
    state.contacts,
    state.chats,
    state.groups.filter((g) => g.active).map((g) => [g.id, g.title]),
    conversationOf(state.view) ?? null,
    state.invitations,
  ]);
  if (shown === sidebarShown && el.childElementCount > 0) {
    // Only unread counts changed (a message arrived): update the badges where they are. Swapping
    // the list items on every arrival lost a click that landed between mousedown and mouseup.
    for (const li of Array.from(el.querySelectorAll<HTMLElement>('li[data-conv]'))) {
      li.querySelector('.badge')?.remove();
      const badge = unreadBadge(state.unread.get(li.dataset.conv ?? '') ?? 0);
      if (badge) li.append(badge);
    }
    return;
  }
  sidebarShown = shown;
  // When it does change while the user types a name, the field keeps its focus.
  const active = document.activeElement;
  const typing = active instanceof HTMLElement && addContact?.contains(active) ? active : undefined;
  const item = (label: string, conv: string, view: View, testid: string) => {
    const unread = state.unread.get(conv) ?? 0;
    const active = conversationOf(state.view) === conv;
    return h(
      'li',
      { class: active ? 'active' : '', 'data-testid': testid, 'data-conv': conv, onclick: () => go(view) },
      h('span', { class: 'name' }, label),
      unreadBadge(unread),
    );
  };
  addContact ??= addContactForm(viewContext(c));
  el.replaceChildren(
    h(
      'div',
      { class: 'me' },
      h('strong', { 'data-testid': 'me' }, c.name),
      h(
        'div',
        { class: 'status', 'data-testid': 'connection' },
        state.connected ? 'connected' : state.elsewhere ? 'open in another tab' : 'offline',
      ),
      !state.connected &&
        h(
          'div',
          { class: 'status' },
          state.elsewhere
            ? 'Another tab of this browser receives your messages now; this one connects again when you come back to it.'
            : 'Reconnecting… texts you write now are sent when the relay is back.',
        ),
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
      h(
        'button',
        { 'data-testid': 'new-group', 'aria-label': 'New group', onclick: () => go({ kind: 'new-group' }) },
        '+',
      ),
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
  typing?.focus();
}

function unreadBadge(unread: number): HTMLSpanElement | undefined {
  return unread > 0
    ? h('span', { class: 'badge', 'aria-label': `${unread} unread` }, String(unread))
    : undefined;
}

function renderMain(): void {
  const el = document.getElementById('main');
  if (!el) return;
  const v = state.view;
  if (v.kind === 'dm' || v.kind === 'group') {
    renderChat(el, v);
    return;
  }
  const back = h(
    'div',
    { class: 'header narrow-only' },
    h('button', { class: 'back', 'data-testid': 'back', onclick: () => go({ kind: 'none' }) }, '‹ Chats'),
  );
  const panel = h('div', { class: 'panel' });
  // The safety screen has its own way back (to the chat it was opened from).
  el.replaceChildren(...(v.kind === 'safety' ? [] : [back]), panel);
  if (v.kind === 'none') {
    panel.append(
      state.recoveryCodeToShow
        ? h(
            'div',
            { class: 'warning' },
            h('strong', {}, 'Your recovery code — write it down. '),
            'With it (and your backup) you can move this account to another device, or re-install it. It is shown once: ',
            h('span', { class: 'mono', 'data-testid': 'recovery-code' }, state.recoveryCodeToShow),
            h(
              'div',
              { class: 'row' },
              h(
                'button',
                {
                  'data-testid': 'recovery-code-done',
                  onclick: () => {
                    state.recoveryCodeToShow = '';
                    renderMain();
                  },
                },
                'I wrote it down',
              ),
            ),
          )
        : '',
      h('p', { class: 'empty' }, 'Pick a contact to start a conversation.'),
    );
    return;
  }
  if (v.kind === 'safety') {
    void renderSafety(panel, v.contact);
    return;
  }
  if (v.kind === 'backup' || v.kind === 'devices' || v.kind === 'privacy' || v.kind === 'invitations') {
    // These views draw their own panel into the host.
    const host = h('div', { class: 'panel-host' });
    el.replaceChildren(back, host);
    const c = state.client;
    if (v.kind === 'backup') void renderBackup(host);
    else if (!c) return;
    else if (v.kind === 'devices') renderDevices(host, c);
    else if (v.kind === 'privacy') void renderPrivacy(host, viewContext(c));
    else void renderInvitations(host, viewContext(c), (g) => go({ kind: 'group', id: g.id }));
    return;
  }
  renderNewGroup(panel);
}

function renderNewGroup(el: HTMLElement): void {
  const title = h('input', { 'data-testid': 'group-title', placeholder: 'Friday lunch' });
  const boxes = state.contacts.map((n) => ({
    n,
    box: h('input', { type: 'checkbox', 'data-testid': `member-${n}` }),
  }));
  const out = h('p', { class: 'bad', role: 'status' });
  el.append(
    h(
      'form',
      {
        onsubmit: async (ev) => {
          ev.preventDefault();
          const members = boxes.filter((b) => b.box.checked).map((b) => b.n);
          if (!state.client || !title.value.trim() || members.length === 0) {
            out.textContent = 'Give the group a title and pick at least one member.';
            return;
          }
          try {
            const g = await state.client.createGroup(title.value.trim(), members);
            await refreshLists();
            go({ kind: 'group', id: g.id });
          } catch (err) {
            out.textContent = errorText(err);
          }
        },
      },
      h('h2', {}, 'New group'),
      h('label', {}, 'Title'),
      title,
      h('label', {}, 'Members'),
      ...boxes.map((b) => h('div', {}, h('label', {}, b.box, ` ${b.n}`))),
      h('div', { class: 'row' }, h('button', { class: 'primary', 'data-testid': 'create-group' }, 'Create')),
      out,
    ),
  );
}

// ---------------------------------------------------------------------------------------------

async function boot(): Promise<void> {
  // Another tab that keeps the database open (an older version of this page) holds the reset up.
  const after = await eraseIfAsked(() =>
    app.replaceChildren(
      h(
        'p',
        { 'data-testid': 'erase-blocked' },
        'Another tab of this chat keeps its data open. Close that tab to finish the reset.',
      ),
    ),
  );
  const storage = webStorage();
  if (await ChatClient.hasAccount(storage.store)) {
    await start(await ChatClient.open({ serverUrl, ...storage }));
    return;
  }
  renderWelcome(app, serverUrl, start, {
    ...(after?.name ? { name: after.name } : {}),
    ...(after?.next === 'reinstall' ? { reinstall: true } : {}),
    ...(after?.next === 'restore'
      ? { message: `Restore ${after.name} with the recovery code and the backup password or key.` }
      : {}),
  });
}

void boot().catch((err: unknown) => {
  app.replaceChildren(h('p', { class: 'lead bad' }, `This browser cannot run the chat: ${errorText(err)}`));
});
