/**
 * Linking a new device by its QR code, for the chat client: `LinkRequest` (the new device: a
 * provisioning address and an ephemeral key shown as the code's text) and `provisionDevice` (the
 * existing device: sends the account to it) — and `DeviceError`, the typed refusal of the device
 * operations here and in devices.ts.
 */
import { type CryptoProvider, E2eeError, type IdentityKeyPair } from '@e2ee-kit/core';
import {
  DeviceLinkRequest,
  encryptProvisionMessage,
  ProvisionMessage,
  parseLinkDeviceUri,
} from '@e2ee-kit/ratchet';
import { type FetchLike, RelayApi } from './api.js';

/** The QR code's scheme and host: `e2ee-chat://linkdevice?uuid=…&pub_key=…`. */
export const LINK_URI = { scheme: 'e2ee-chat', host: 'linkdevice' } as const;

/** Why a device operation did not happen (the message is for the user; no secret in it). */
export class DeviceError extends Error {
  constructor(
    readonly reason:
      | 'device-list-changing'
      | 'link-cancelled'
      | 'no-provisioning-code'
      | 'no-account-name'
      | 'not-a-link-code',
    message: string,
  ) {
    super(message);
    this.name = 'DeviceError';
  }
}

/** What the new device learns from the existing one. */
export interface ProvisionedAccount {
  /** The account's ServiceId and display name. */
  readonly aci: string;
  readonly name: string;
  readonly identity: IdentityKeyPair;
  readonly provisioningCode: string;
  readonly profileKey: Uint8Array | undefined;
}

/**
 * The new device's side: a provisioning address from the relay and an ephemeral key, shown as the
 * QR code's text (`uri`); `waitForAccount` polls until the existing device sent the account.
 */
export class LinkRequest {
  readonly #request: DeviceLinkRequest;
  readonly #api: RelayApi;
  #done = false;

  private constructor(request: DeviceLinkRequest, api: RelayApi) {
    this.#request = request;
    this.#api = api;
  }

  static async create(serverUrl: string, options: { fetch?: FetchLike; provider?: CryptoProvider } = {}) {
    const api = new RelayApi(serverUrl, options.fetch ? { fetch: options.fetch } : {});
    const { address } = await api.openProvisioning();
    const request = await DeviceLinkRequest.create({
      address,
      ...LINK_URI,
      ...(options.provider ? { provider: options.provider } : {}),
    });
    return new LinkRequest(request, api);
  }

  /** The text the QR code encodes (and that can be pasted instead). */
  get uri(): string {
    return this.#request.uri;
  }

  /** Resolves with the account once the existing device sent it; `signal` stops the polling. */
  async waitForAccount(
    options: { intervalMs?: number; signal?: AbortSignal } = {},
  ): Promise<ProvisionedAccount> {
    const interval = options.intervalMs ?? 500;
    try {
      for (;;) {
        if (options.signal?.aborted || this.#done)
          throw new DeviceError('link-cancelled', 'the link request was cancelled');
        const envelope = await this.#api.collectProvisioning(this.#request.address);
        if (envelope) {
          const message = await this.#request.open(envelope);
          if (!message.provisioningCode)
            throw new DeviceError(
              'no-provisioning-code',
              'the provisioning message has no provisioning code',
            );
          if (!message.number)
            throw new DeviceError('no-account-name', 'the provisioning message names no account');
          return {
            aci: message.aci,
            name: message.number,
            identity: message.aciIdentityKeyPair,
            provisioningCode: message.provisioningCode,
            profileKey: message.profileKey,
          };
        }
        await new Promise((r) => setTimeout(r, interval));
      }
    } finally {
      this.dispose();
    }
  }

  dispose(): void {
    this.#done = true;
    this.#request.dispose();
  }
}

/**
 * The existing device's side: after the user confirmed, sends the account identity, a one-time
 * provisioning code and the profile key to the scanned or pasted `uri`.
 */
export async function provisionDevice(
  api: RelayApi,
  uri: string,
  account: { aci: string; name: string; identity: IdentityKeyPair; profileKey: Uint8Array | undefined },
  provider?: CryptoProvider,
): Promise<void> {
  let parsed: ReturnType<typeof parseLinkDeviceUri>;
  try {
    parsed = parseLinkDeviceUri(uri.trim(), LINK_URI);
  } catch (err) {
    if (E2eeError.is(err)) throw new DeviceError('not-a-link-code', 'this is not a device-link code');
    throw err;
  }
  const { code } = await api.provisioningCode();
  const envelope = await encryptProvisionMessage(
    parsed.publicKey,
    ProvisionMessage.from({
      aciIdentityKeyPair: account.identity,
      aci: account.aci,
      // Signal's phone-number field carries the display name here.
      number: account.name,
      provisioningCode: code,
      ...(account.profileKey ? { profileKey: account.profileKey } : {}),
    }),
    ...(provider ? [{ provider }] : []),
  );
  await api.depositProvisioning(parsed.address, envelope);
}
