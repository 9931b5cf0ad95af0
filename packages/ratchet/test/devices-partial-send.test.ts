// A fan-out send goes out account by account: the recipient's devices, then the sync copy to our own
// other devices. When the second fails after the first was delivered, the app must be able to tell —
// its natural reaction to a failed send is to send again, which would give the recipient a second,
// differently encrypted copy of the message.
import { E2eeError, ErrorCode, PartialSendError } from '@e2ee-kit/ratchet';
import { expect, it } from 'vitest';
import { ALICE, BOB, TestRelay, text } from './devices-relay.js';

async function twoAccounts() {
  const relay = new TestRelay();
  const alicePhone = await relay.addDevice(ALICE);
  const aliceLaptop = await relay.addDevice(ALICE, await alicePhone.party.store.getIdentityKeyPair());
  const bobPhone = await relay.addDevice(BOB);
  // One send first, so every device list and session is known.
  await alicePhone.fanout.send(BOB, text('hello'), relay.deliverFrom(alicePhone.party.address));
  expect(await bobPhone.read()).toEqual(['hello']);
  expect(await aliceLaptop.read()).toEqual(['hello']);
  return { relay, alicePhone, aliceLaptop, bobPhone };
}

it('the sync copy failing after the recipient got the message is a PartialSendError that says so; retrying only the rest gives the recipient one copy', async () => {
  const { relay, alicePhone, aliceLaptop, bobPhone } = await twoAccounts();
  const relayDeliver = relay.deliverFrom(alicePhone.party.address);
  const offline = new Error('socket closed');
  const err = await alicePhone.fanout
    .send(BOB, text('once only'), async (d) => {
      if (d.sync) throw offline; // the connection dropped between the two posts
      return relayDeliver(d);
    })
    .then(
      () => undefined,
      (e: unknown) => e,
    );
  expect(err).toBeInstanceOf(PartialSendError);
  if (!E2eeError.is(err, ErrorCode.PartialSend)) throw new Error('not narrowed');
  expect(err.name).toBe('PartialSendError');
  expect(err.accounts.map((a) => [a.account, a.sync, a.status])).toEqual([[BOB, false, 'sent']]);
  expect([err.failedAccount, err.failedSync]).toEqual([ALICE, true]);
  expect(err.cause).toBe(offline);
  expect(err.message).not.toContain(BOB); // account names are fields, not log text
  expect(await bobPhone.read()).toEqual(['once only']);

  // The app sends only what is missing: the sync copy, to our own account.
  const rest = await alicePhone.fanout.send(ALICE, text('once only'), relayDeliver, { sync: false });
  expect(rest.accounts.map((a) => [a.account, a.status])).toEqual([[ALICE, 'sent']]);
  expect(await aliceLaptop.read()).toEqual(['once only']);
  expect(await bobPhone.read()).toEqual([]); // no second copy for Bob
});

it('a failure before any account was done is the original error: nothing was sent', async () => {
  const { alicePhone, bobPhone } = await twoAccounts();
  const refused = new Error('relay down');
  const err = await alicePhone.fanout
    .send(BOB, text('not sent'), async () => {
      throw refused;
    })
    .then(
      () => undefined,
      (e: unknown) => e,
    );
  expect(err).toBe(refused);
  expect(await bobPhone.read()).toEqual([]);
});
