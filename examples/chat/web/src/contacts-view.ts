/**
 * Adding a contact: by the exact name only. The relay answers a lookup of one name and lists no
 * one, so this page never sees the whole directory; contacts are the people this user added.
 */
import type { ViewContext } from './view-context.js';

export function addContactForm(ctx: ViewContext): HTMLFormElement {
  const { h, client } = ctx;
  const name = h('input', {
    'data-testid': 'add-contact-name',
    placeholder: 'exact name',
    autocomplete: 'off',
  });
  const status = h('div', { class: 'status', 'data-testid': 'add-contact-status' });
  return h(
    'form',
    {
      class: 'add-contact',
      onsubmit: async (ev) => {
        ev.preventDefault();
        const who = name.value.trim();
        if (!who) return;
        try {
          await client.addContact(who);
          name.value = '';
          status.textContent = `added ${who}`;
          await ctx.refresh();
        } catch (err) {
          status.textContent = `could not add ${who}: ${ctx.errorText(err)}`;
        }
      },
    },
    name,
    h('button', { 'data-testid': 'add-contact-submit' }, 'Add'),
    status,
  );
}
