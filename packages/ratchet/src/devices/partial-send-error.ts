/**
 * `DeviceFanout.send` failed after it had already delivered to an account. A send goes out account by
 * account (the recipient's devices, then the sync copy to our own), so a failure of the second leaves
 * the first delivered; rethrown as is, the app could not tell, and its natural reaction — send again —
 * would give the recipient a second, differently encrypted copy of the message.
 */
import { E2eeError } from '@e2ee-kit/core';
import { RatchetErrorCode } from '../errors.js';
import type { AccountSendResult } from './fan-out.js';

export class PartialSendError extends E2eeError {
  /** The accounts done before the failure ('sent' or 'gave-up'): do not send to these again. */
  readonly accounts: readonly AccountSendResult[];
  /** The account whose send failed (ours for the sync copy); it and any after it were not sent. */
  readonly failedAccount: string;
  readonly failedSync: boolean;

  constructor(
    accounts: readonly AccountSendResult[],
    failedAccount: string,
    failedSync: boolean,
    cause: unknown,
  ) {
    // Account names stay out of the message (it reaches logs); they are fields.
    super(
      RatchetErrorCode.PartialSend,
      `send failed for the ${failedSync ? 'sync copy' : 'recipient'} after ${accounts.length} account(s) were done`,
      { cause },
    );
    this.name = 'PartialSendError';
    this.accounts = Object.freeze(accounts.slice());
    this.failedAccount = failedAccount;
    this.failedSync = failedSync;
  }
}
