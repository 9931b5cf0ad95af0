/** The screen of a device that lost its registration (the account was restored or re-installed elsewhere). */
import { state } from './app-state.js';
import { h } from './dom.js';
import { eraseAndReload } from './reset.js';

/** The device lost its registration: say so, and offer what can be done. */
export function renderLost(app: HTMLElement): void {
  const name = state.client?.name ?? '';
  app.replaceChildren(
    h(
      'div',
      { class: 'welcome single' },
      h(
        'div',
        { class: 'card', 'data-testid': 'registration-lost' },
        h('h2', {}, `This device is no longer registered as ${name}`),
        h(
          'p',
          {},
          state.lost === 'replaced'
            ? `${name} was restored or re-installed on another device. New messages go there now; this browser can no longer send or receive.`
            : `The relay no longer recognises this device: ${name} was moved to another device, or the relay's data was reset.`,
        ),
        h('p', {}, 'What you can do:'),
        h(
          'div',
          { class: 'choices' },
          h(
            'button',
            {
              class: 'primary',
              'data-testid': 'lost-restore',
              onclick: () => eraseAndReload({ name, next: 'restore' }),
            },
            'Move the account back here: restore from the backup',
          ),
          h(
            'button',
            { 'data-testid': 'lost-reinstall', onclick: () => eraseAndReload({ name, next: 'reinstall' }) },
            'Re-install here with the recovery code (new keys, no old messages)',
          ),
          h(
            'button',
            { 'data-testid': 'lost-erase', onclick: () => eraseAndReload({ name: '', next: 'none' }) },
            "Erase this browser's copy",
          ),
        ),
        h(
          'p',
          { class: 'status' },
          "Each choice first erases this browser's copy (its keys no longer work; what it held is in your backup, if you made one). Moving the account back here disconnects the other device in the same way; both ways need your recovery code.",
        ),
      ),
    ),
  );
}
