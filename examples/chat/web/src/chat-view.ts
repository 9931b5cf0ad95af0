/**
 * One conversation: header (name → the contact's encryption screen; group members), the
 * end-to-end encryption notice, banners that belong to this chat only, the messages with local
 * times and delivery ticks (scrolling inside the chat), and the composer fixed at the bottom.
 */
import type { ChatMessage, DeliveryStatus } from '@e2ee-kit/chat-client';
import { E2eeError } from '@e2ee-kit/core';
import { conversationOf, nav, state } from './app-state.js';
import { attachButton, photoView } from './attachment-view.js';
import { h } from './dom.js';
import { dayText, errorText, isUnauthorized, timeText } from './format.js';
import { icon } from './icons.js';

type ChatView = { kind: 'dm'; contact: string } | { kind: 'group'; id: string };

const TICKS: Record<DeliveryStatus, { mark: string | (() => HTMLElement); label: string }> = {
  pending: { mark: () => icon('clock'), label: 'Waiting for the relay: sent when it is back' },
  sent: { mark: '✓', label: 'Sent' },
  delivered: { mark: '✓✓', label: 'Delivered' },
  read: { mark: '✓✓', label: 'Read' },
  failed: { mark: '!', label: 'Not sent' },
};

export function renderChat(el: HTMLElement, v: ChatView): void {
  const input = h('input', {
    'data-testid': 'composer',
    placeholder: 'Message',
    autocomplete: 'off',
    'aria-label': 'Message',
  });
  const conversation = conversationOf(v)!;
  const fail = (err: unknown, what: string) => {
    if (isUnauthorized(err)) {
      nav.registrationLost('unauthorized');
      return;
    }
    const untrusted = E2eeError.is(err, 'UNTRUSTED_IDENTITY');
    const text = untrusted && v.kind === 'dm' ? untrustedText(what, v.contact) : `${what} ${errorText(err)}`;
    state.sendError = { conversation, untrusted, text };
  };
  const send = async () => {
    const text = input.value.trim();
    const c = state.client;
    if (!text || !c) return;
    input.value = '';
    try {
      await c.send(conversation, text);
      state.sendError = undefined;
    } catch (err) {
      input.value = text;
      fail(err, 'Not sent.');
    }
    renderBanners();
    await renderMessages(true);
  };
  el.replaceChildren(
    h('div', { class: 'header', id: 'chat-header' }),
    h('div', { id: 'banners', class: 'banners' }),
    h('div', { class: 'messages', 'data-testid': 'messages', id: 'messages' }),
    h(
      'form',
      {
        class: 'composer',
        'data-testid': 'composer-form',
        onsubmit: (ev) => {
          ev.preventDefault();
          void send();
        },
      },
      // Checked, encrypted on this device and uploaded by attachment-view; why one was not sent is
      // shown next to the button.
      attachButton({
        label: icon('photo'),
        send: (bytes, meta) => {
          const c = state.client;
          if (!c) throw new Error('not signed in');
          return c.sendPhoto(conversation, bytes, meta).catch((err: unknown) => {
            if (isUnauthorized(err)) nav.registrationLost('unauthorized');
            throw err;
          });
        },
        sent: () => void renderMessages(true),
      }),
      input,
      h('button', { class: 'primary', 'data-testid': 'send', 'aria-label': 'Send' }, 'Send'),
    ),
  );
  renderHeader();
  renderBanners();
  void renderMessages(true);
  input.focus();
}

/** The chat header (re-rendered when the group changes: a removed member disappears from it). */
export function renderHeader(): void {
  const el = document.getElementById('chat-header');
  const v = state.view;
  const me = state.client?.name;
  if (!el || (v.kind !== 'dm' && v.kind !== 'group')) return;
  const back = h(
    'button',
    {
      class: 'back',
      'data-testid': 'back',
      'aria-label': 'Back to chats',
      onclick: () => nav.go({ kind: 'none' }),
    },
    '‹',
  );
  if (v.kind === 'dm') {
    el.replaceChildren(
      back,
      h(
        'button',
        {
          class: 'title',
          'data-testid': 'conversation-title',
          title: `Encryption: verify ${v.contact}'s safety number`,
          onclick: () => nav.go({ kind: 'safety', contact: v.contact }),
        },
        v.contact,
      ),
      h(
        'button',
        { 'data-testid': 'open-safety', onclick: () => nav.go({ kind: 'safety', contact: v.contact }) },
        'Safety number',
      ),
    );
    return;
  }
  const group = state.groups.find((g) => g.id === v.id);
  el.replaceChildren(
    back,
    h(
      'div',
      { class: 'title-block' },
      h('h2', { 'data-testid': 'conversation-title' }, group?.title ?? 'group'),
      h(
        'div',
        { class: 'status members', 'data-testid': 'group-members' },
        group ? (group.active ? group.members.join(', ') : 'You are no longer a member') : '',
      ),
    ),
    group?.active && group.admin === me
      ? h(
          'select',
          {
            'data-testid': 'remove-member',
            'aria-label': 'Remove a member',
            onchange: async (ev) => {
              const who = (ev.target as HTMLSelectElement).value;
              if (!who) return;
              try {
                await state.client?.removeMember(group.id, who);
              } catch (err) {
                state.sendError = {
                  conversation: `group:${group.id}`,
                  untrusted: false,
                  text: errorText(err),
                };
                renderBanners();
              }
              await nav.refreshLists();
            },
          },
          h('option', { value: '' }, 'Remove member…'),
          ...group.members.filter((m) => m !== me).map((m) => h('option', { value: m }, m)),
        )
      : '',
  );
}

/** What a send refused because `contact`'s verified safety number changed says. */
export const untrustedText = (what: string, contact: string) =>
  `${what} ${contact}'s safety number changed since you verified it. Verify it again, or accept the new number.`;

/**
 * The outbox gave up on a text of this chat because the contact's verified number changed (the
 * relay was unreachable when it was written): the same banner as a refused send, with Verify and
 * Accept, so that "Send again" can then succeed.
 */
export function onOutboxRefused(m: ChatMessage & { readonly error?: string }): void {
  if (m.error !== 'UNTRUSTED_IDENTITY' || !m.conversation.startsWith('dm:')) return;
  const contact = m.conversation.slice(3);
  state.sendError = {
    conversation: m.conversation,
    untrusted: true,
    text: untrustedText('Not sent.', contact),
  };
  renderBanners();
}

/** Banners of this chat only: a changed safety number (of this contact), the last failed send. */
export function renderBanners(): void {
  const el = document.getElementById('banners');
  const v = state.view;
  const conversation = conversationOf(v);
  if (!el || !conversation) return;
  const out: HTMLElement[] = [];
  const err = state.sendError;
  // A refused send already says the number changed (with its own Verify): one banner is enough.
  const refused = err?.conversation === conversation && err.untrusted;
  if (v.kind === 'dm' && state.identityChanged.has(v.contact) && !refused) {
    const contact = v.contact;
    out.push(
      h(
        'div',
        { class: 'notice', 'data-testid': 'identity-banner' },
        `Your safety number with ${contact} changed. This is normal when ${contact} re-installed the app or moved to a new phone; verify it to be sure nobody is in between.`,
        h(
          'div',
          { class: 'row' },
          h(
            'button',
            { 'data-testid': 'identity-verify', onclick: () => nav.go({ kind: 'safety', contact }) },
            `Verify ${contact}`,
          ),
          h(
            'button',
            {
              'data-testid': 'identity-dismiss',
              onclick: () => {
                state.identityChanged.delete(contact);
                renderBanners();
              },
            },
            'OK',
          ),
        ),
      ),
    );
  }
  if (err && err.conversation === conversation) {
    const contact = v.kind === 'dm' ? v.contact : undefined;
    out.push(
      h(
        'div',
        { class: 'notice bad-notice', 'data-testid': 'notice' },
        err.text,
        err.untrusted &&
          contact &&
          h(
            'div',
            { class: 'row' },
            h(
              'button',
              { 'data-testid': 'notice-verify', onclick: () => nav.go({ kind: 'safety', contact }) },
              'Verify',
            ),
            h(
              'button',
              {
                'data-testid': 'notice-accept',
                onclick: async () => {
                  await state.client?.acceptIdentityChange(contact);
                  state.identityChanged.delete(contact);
                  state.sendError = undefined;
                  renderBanners();
                },
              },
              'Accept the new number',
            ),
          ),
      ),
    );
  }
  el.replaceChildren(...out);
}

function encryptionNotice(contact: string | undefined): HTMLElement {
  return h(
    'button',
    {
      class: 'e2ee-notice',
      'data-testid': 'e2ee-notice',
      onclick: () => contact && nav.go({ kind: 'safety', contact }),
    },
    icon('lock'),
    ' Messages are end-to-end encrypted. No one outside this chat, not even the relay, can read them.',
    contact ? ` Tap to verify ${contact}'s safety number.` : '',
  );
}

function bubble(m: ChatMessage, group: boolean): HTMLElement {
  if (m.system) {
    return h('div', { class: 'msg system', 'data-testid': 'system-message' }, m.text);
  }
  const status = m.outgoing ? (m.status ?? 'sent') : undefined;
  const tick = status && TICKS[status];
  return h(
    'div',
    { class: `msg${m.outgoing ? ' out' : ''}`, 'data-testid': 'message-row' },
    group && !m.outgoing && h('div', { class: 'from' }, m.from),
    m.attachment && state.client
      ? photoView(state.client, m.attachment)
      : h('span', { class: 'text', 'data-testid': 'message' }, m.text),
    h(
      'span',
      { class: 'meta' },
      h(
        'time',
        { datetime: new Date(m.sentAt).toISOString(), 'data-testid': 'message-time' },
        timeText(m.sentAt),
      ),
      tick &&
        h(
          'span',
          {
            class: `tick ${status}`,
            'data-testid': 'message-status',
            'data-status': status!,
            title: tick.label,
            'aria-label': tick.label,
          },
          typeof tick.mark === 'string' ? tick.mark : tick.mark(),
        ),
    ),
    status === 'failed' &&
      h(
        'div',
        { class: 'failed', 'data-testid': 'message-failed' },
        'Not sent.',
        // A text goes again with its id (the receiver shows it once); a failed photo's blob is gone.
        !m.attachment &&
          h(
            'button',
            {
              class: 'send-again',
              'data-testid': 'message-send-again',
              onclick: () => void state.client?.sendAgain(m.id).catch(() => renderMessages()),
            },
            'Send again',
          ),
      ),
  );
}

/** Re-renders the messages; stays at the bottom when the user was there (or `toBottom`). */
export async function renderMessages(toBottom = false): Promise<void> {
  const c = state.client;
  const conv = conversationOf(state.view);
  const el = document.getElementById('messages');
  if (!c || !conv || !el) return;
  const atBottom = el.scrollHeight - el.scrollTop - el.clientHeight < 40;
  const list = await c.messages(conv);
  if (conversationOf(state.view) !== conv) return; // the user moved on meanwhile
  const isGroup = conv.startsWith('group:');
  const rows: HTMLElement[] = [encryptionNotice(state.view.kind === 'dm' ? state.view.contact : undefined)];
  let lastDay = '';
  for (const m of list) {
    const day = dayText(m.sentAt);
    if (day !== lastDay) rows.push(h('div', { class: 'day' }, day));
    lastDay = day;
    rows.push(bubble(m, isGroup));
  }
  el.replaceChildren(...rows);
  if (toBottom || atBottom) el.scrollTop = el.scrollHeight;
  if (document.visibilityState === 'visible') void c.markRead(conv).catch(() => {});
}
