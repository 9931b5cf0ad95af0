/** Group invitations waiting for an answer: who invited, who is in the group, when it expires. */
import type { Group, Invitation } from '@e2ee-kit/chat-client';
import type { ViewContext } from './view-context.js';

const HOUR = 60 * 60 * 1000;

/** "expires in 2 days 5 hours" (rounded down; under an hour: "expires within the hour"). */
export function expiryText(expiresAt: number, now: number): string {
  const hours = Math.floor((expiresAt - now) / HOUR);
  if (hours < 1) return 'expires within the hour';
  const days = Math.floor(hours / 24);
  const rest = hours % 24;
  const parts = [
    days > 0 && `${days} day${days === 1 ? '' : 's'}`,
    rest > 0 && `${rest} hour${rest === 1 ? '' : 's'}`,
  ];
  return `expires in ${parts.filter(Boolean).join(' ')}`;
}

export async function renderInvitations(
  el: HTMLElement,
  ctx: ViewContext,
  onJoined: (group: Group) => void,
): Promise<void> {
  const { h, client } = ctx;
  const list = await client.invitations();
  const now = Date.now();
  // After an accept the page opens the group (with the refreshed lists); after a decline, this list again.
  const answer = async (row: HTMLElement, act: () => Promise<Group | undefined>) => {
    try {
      const joined = await act();
      await ctx.refresh();
      if (joined) onJoined(joined);
      else await renderInvitations(el, ctx, onJoined);
    } catch (err) {
      row.append(h('p', { class: 'bad' }, ctx.errorText(err)));
    }
  };
  const item = (i: Invitation) => {
    const row: HTMLElement = h(
      'li',
      { class: 'invitation', 'data-testid': `invitation-${i.group.title}` },
      h('strong', {}, i.group.title),
      h('div', { class: 'status' }, `from ${i.inviter} · members: ${i.group.members.join(', ')}`),
      h('div', { class: 'status', 'data-testid': 'invitation-expiry' }, expiryText(i.expiresAt, now)),
      h(
        'div',
        { class: 'row' },
        h(
          'button',
          {
            class: 'primary',
            'data-testid': 'invitation-accept',
            onclick: () => answer(row, () => client.acceptInvitation(i.group.id)),
          },
          'Accept',
        ),
        h(
          'button',
          {
            'data-testid': 'invitation-decline',
            onclick: () => answer(row, async () => void (await client.declineInvitation(i.group.id))),
          },
          'Decline',
        ),
      ),
    );
    return row;
  };
  el.replaceChildren(
    h(
      'div',
      { class: 'panel' },
      h('h2', {}, 'Group invitations'),
      list.length === 0
        ? h('p', { class: 'empty', 'data-testid': 'no-invitations' }, 'No invitations.')
        : h('ul', { class: 'list' }, ...list.map(item)),
    ),
  );
}
