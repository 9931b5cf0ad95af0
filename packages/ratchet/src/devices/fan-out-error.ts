/**
 * The fan-out's own errors. `FanoutIncompleteError`: a `DeviceFanout.send` failed after at least one
 * account's messages were accepted (the recipient has the message, the sync copy to our other
 * devices failed). Thrown instead of the failure itself so the app can tell: a plain retry of the
 * whole send would give the recipient a second, differently encrypted copy, which it shows as a
 * second message. `IdentityChangedError`: an account's bundles came with a new identity key.
 */
import { type Address, E2eeError, type PublicKey, UntrustedIdentityError } from '@e2ee-kit/core';

/** One account's outcome of a send (see `DeviceFanout.send`). */
export interface AccountSendResult {
  readonly account: string;
  readonly sync: boolean;
  /** `'sent'`: the server took it for every device; `'gave-up'`: the device list kept changing. */
  readonly status: 'sent' | 'gave-up';
  readonly attempts: number;
  /** The devices the accepted messages were for (empty when it gave up). */
  readonly devices: readonly Address[];
}

export class FanoutIncompleteError extends E2eeError {
  /** The accounts done before the failure, in send order (each `'sent'` one has the message). */
  readonly accounts: readonly AccountSendResult[];
  /** The account whose encrypt, bundle fetch, store call or `deliver` threw (the error is `cause`). */
  readonly failed: { readonly account: string; readonly sync: boolean };

  constructor(
    accounts: readonly AccountSendResult[],
    failed: { account: string; sync: boolean },
    cause: unknown,
  ) {
    super(
      'FANOUT_INCOMPLETE',
      'the send failed after some accounts got the message: retry only the accounts not sent',
      { cause },
    );
    this.name = 'FanoutIncompleteError';
    this.accounts = Object.freeze([...accounts]);
    this.failed = Object.freeze({ account: failed.account, sync: failed.sync });
  }
}

/**
 * A bundle of `account` came with another identity key than the one known for it (the person
 * re-installed, or the server adds a device of its own): refused before any session was touched.
 * Still an `UntrustedIdentityError` (code `UNTRUSTED_IDENTITY`). `identityKey` is the key the
 * device presented (public, never printed): show the safety-number change, and if the user accepts
 * it, `DeviceFanout.approveIdentity(account, identityKey)` takes it for the account; then send again.
 */
export class IdentityChangedError extends UntrustedIdentityError {
  readonly account: string;
  readonly identityKey: PublicKey;

  constructor(address: Address, identityKey: PublicKey) {
    super(address);
    this.name = 'IdentityChangedError';
    this.account = address.name;
    this.identityKey = identityKey;
  }
}
