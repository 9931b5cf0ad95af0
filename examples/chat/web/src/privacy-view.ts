/**
 * Privacy settings: who can add this user to a group without asking (Everyone, My contacts, My
 * contacts except…). The setting is enforced by this client when a group add arrives; an add it
 * does not allow becomes an invitation.
 */
import type { WhoCanAddMe } from '@e2ee-kit/chat-client';
import type { ViewContext } from './view-context.js';

type Choice = 'everyone' | 'contacts' | 'except';

const choiceOf = (s: WhoCanAddMe): Choice => (typeof s === 'string' ? s : 'except');

export async function renderPrivacy(el: HTMLElement, ctx: ViewContext): Promise<void> {
  const { h, client } = ctx;
  const [current, contacts] = await Promise.all([client.whoCanAddMe(), client.contacts()]);
  const excepted = new Set(typeof current === 'string' ? [] : current.contactsExcept);
  const radio = (value: Choice, label: string) => {
    const input = h('input', {
      type: 'radio',
      name: 'who-can-add-me',
      value,
      'data-testid': `privacy-${value}`,
      checked: choiceOf(current) === value,
      onchange: () => {
        picker.hidden = value !== 'except';
      },
    });
    return { value, input, row: h('label', { class: 'choice' }, input, ` ${label}`) };
  };
  const choices = [
    radio('everyone', 'Everyone'),
    radio('contacts', 'My contacts'),
    radio('except', 'My contacts except…'),
  ];
  const boxes = contacts.map((n) => ({
    n,
    box: h('input', { type: 'checkbox', 'data-testid': `privacy-except-${n}`, checked: excepted.has(n) }),
  }));
  const picker = h(
    'div',
    { class: 'picker', 'data-testid': 'privacy-picker' },
    contacts.length === 0
      ? h('p', { class: 'status' }, 'You have no contacts yet.')
      : h('p', { class: 'status' }, 'These contacts need your consent too:'),
    ...boxes.map((b) => h('div', {}, h('label', {}, b.box, ` ${b.n}`))),
  );
  picker.hidden = choiceOf(current) !== 'except';
  const result = h('p', { 'data-testid': 'privacy-result' });
  el.replaceChildren(
    h(
      'form',
      {
        class: 'panel',
        onsubmit: async (ev) => {
          ev.preventDefault();
          const chosen = choices.find((c) => c.input.checked)?.value ?? 'contacts';
          const setting: WhoCanAddMe =
            chosen === 'except'
              ? { contactsExcept: boxes.filter((b) => b.box.checked).map((b) => b.n) }
              : chosen;
          try {
            await client.setWhoCanAddMe(setting);
            result.className = 'ok';
            result.textContent = 'Saved.';
          } catch (err) {
            result.className = 'bad';
            result.textContent = ctx.errorText(err);
          }
        },
      },
      h('h2', {}, 'Privacy'),
      h('h3', {}, 'Who can add me to groups'),
      h(
        'p',
        { class: 'status' },
        'Anyone else who adds you sends an invitation instead, which you can accept or decline within 3 days. Contacts are the people you added.',
      ),
      ...choices.map((c) => c.row),
      picker,
      h('div', { class: 'row' }, h('button', { class: 'primary', 'data-testid': 'privacy-save' }, 'Save')),
      result,
    ),
  );
}
