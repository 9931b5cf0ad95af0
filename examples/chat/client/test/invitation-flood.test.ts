/**
 * Invitations are what a stranger's group announcement becomes: stored (in one row, rewritten on
 * each) and listed for the user. Any account with a session can send any number of announcements,
 * each for a new group id, so they are capped per inviter and in all; past a cap the announcement is
 * ignored and nothing is written.
 */
import { expect, it } from 'vitest';
import { ChatData } from '../src/app-data.js';
import {
  CONSENT_KEYS,
  GroupConsent,
  MAX_INVITATIONS,
  MAX_INVITATIONS_PER_INVITER,
} from '../src/group-consent.js';

/** An app view over a Map, counting writes. */
function memoryApp() {
  const rows = new Map<string, Uint8Array>();
  const counter = { writes: 0 };
  const app = {
    get: async (k: string) => rows.get(k),
    put: async (k: string, v: Uint8Array) => {
      counter.writes++;
      rows.set(k, v);
    },
    delete: async (k: string) => {
      counter.writes++;
      rows.delete(k);
    },
  };
  return { data: new ChatData(app as never), counter };
}
const announce = (id: string, admin: string) => ({
  id,
  title: 'win a prize',
  admin,
  members: [admin, 'bob'],
});

it('one inviter holds at most MAX_INVITATIONS_PER_INVITER pending invitations; more are ignored unwritten', async () => {
  const { data, counter } = memoryApp();
  const consent = new GroupConsent(data, 1000);
  const answers = [];
  for (let i = 0; i < MAX_INVITATIONS_PER_INVITER + 20; i++)
    answers.push((await consent.screenAdd('bob', announce(`spam-${i}`, 'mallory'), 'mallory')).action);
  expect(answers.filter((a) => a === 'invite')).toHaveLength(MAX_INVITATIONS_PER_INVITER);
  expect(answers.slice(MAX_INVITATIONS_PER_INVITER).every((a) => a === 'ignore')).toBe(true);
  expect(await consent.invitations()).toHaveLength(MAX_INVITATIONS_PER_INVITER);
  const writes = counter.writes;
  await consent.screenAdd('bob', announce('spam-x', 'mallory'), 'mallory');
  expect(counter.writes).toBe(writes);
  // An update of a held invitation is still taken (it does not add one).
  expect((await consent.screenAdd('bob', announce('spam-0', 'mallory'), 'mallory')).action).toBe('invite');
  // Another inviter is not affected by mallory's share.
  expect((await consent.screenAdd('bob', announce('real', 'alice'), 'alice')).action).toBe('invite');
  expect(await data.json(CONSENT_KEYS.invitations)).toBeDefined();
});

it('at most MAX_INVITATIONS are pending in all, however many inviters', async () => {
  const { data } = memoryApp();
  const consent = new GroupConsent(data, 1000);
  let invited = 0;
  for (let i = 0; i < MAX_INVITATIONS + 10; i++) {
    const admin = `stranger-${i}`;
    if ((await consent.screenAdd('bob', announce(`g-${i}`, admin), admin)).action === 'invite') invited++;
  }
  expect(invited).toBe(MAX_INVITATIONS);
  expect(await consent.invitations()).toHaveLength(MAX_INVITATIONS);
});
