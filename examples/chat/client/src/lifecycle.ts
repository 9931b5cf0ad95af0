/**
 * An account's lifecycle on this device: opening the store with the client's trust policy,
 * registering (or re-installing with the recovery code), opening a registered store, linking this
 * device to an account or another device to this one, unlinking, and the recovery code.
 */
import { generateRegistrationId, type IdentityKeyPair, resolveProvider, toBase64 } from '@e2ee-kit/core';
import * as ratchet from '@e2ee-kit/ratchet';
import * as senderKeys from '@e2ee-kit/sender-keys';
import type { KvStore } from '@e2ee-kit/store-kv';
import { APP_KEYS, parseJsonBytes } from './app-data.js';
import { ClientCore, type StoreHooks } from './core.js';
import { LinkRequest, type ProvisionedAccount, provisionDevice } from './devices.js';
import { DirectoryMismatchError } from './directory.js';
import { signedJson, uploadJson } from './prekeys.js';
import { type ChatClientOptions, type Credentials, DEVICE_ID, type StoreOpener } from './types.js';

/** Opens the store with the client's trust policy. */
export function openStore(
  options: ChatClientOptions,
  hooks: StoreHooks,
  identity?: { identityKeyPair: IdentityKeyPair; registrationId: number },
): Promise<KvStore> {
  return options.store({
    ratchet,
    senderKeys,
    ...(identity ? { identity } : {}),
    ...(options.provider ? { provider: options.provider } : {}),
    // Receiving is always accepted (the change is reported and the safety number changes);
    // sending to a contact whose key differs from the one the user verified needs a new
    // verification first, as Signal does.
    policy: async (a, _stored, presented, direction) =>
      direction === 'receiving' || !hooks.core || hooks.core.trustedForSending(a, presented),
    // No onIdentityChange: a changed key is noted from the operation's `tx.identityChanges` (core.ts).
  });
}

/**
 * Registers the store's identity with the relay (uploading signed, Kyber and one-time prekeys).
 * With `recoveryCode`, re-registers an existing account on a fresh install (a new identity key:
 * contacts will see the safety number change).
 */
export async function register(
  name: string,
  options: ChatClientOptions & { recoveryCode?: string },
): Promise<ClientCore> {
  const hooks: StoreHooks = {};
  const store = await openStore(options, hooks);
  if ((await store.app.get(APP_KEYS.credentials)) !== undefined)
    throw new Error('this store already holds a registered account');
  return enroll(name, store, hooks, options, options.recoveryCode);
}

/** Opens a client whose state is already in the store (a reload of the web page, a restart). */
export async function open(options: ChatClientOptions): Promise<ClientCore> {
  const hooks: StoreHooks = {};
  const store = await openStore(options, hooks);
  const creds = parseJsonBytes<Credentials>(await store.app.get(APP_KEYS.credentials));
  if (!creds) throw new Error('this store holds no registered account');
  if (!creds.aci) throw new Error('this store holds an account from before ServiceIds: register it again');
  return new ClientCore(creds, store, await store.protocol.getIdentityKeyPair(), hooks, options);
}

/** True when the store holds a registered account. */
export async function hasAccount(open: StoreOpener): Promise<boolean> {
  const store = await open({ ratchet, senderKeys });
  return (await store.app.get(APP_KEYS.credentials)) !== undefined;
}

export async function enroll(
  name: string,
  store: KvStore,
  hooks: StoreHooks,
  options: ChatClientOptions,
  recoveryCode: string | undefined,
  link?: { aci: string; provisioningCode: string; profileKey: Uint8Array | undefined },
): Promise<ClientCore> {
  const placeholder: Credentials = {
    name,
    aci: '',
    deviceId: DEVICE_ID,
    token: '',
    recoveryCode: recoveryCode ?? '',
  };
  const identity = await store.protocol.getIdentityKeyPair();
  const registrationId = await store.protocol.getLocalRegistrationId();
  const client = new ClientCore(placeholder, store, identity, hooks, options);
  return client.run(async (tx) => {
    // A registration replaces whatever the relay had for this device: fresh signed and
    // last-resort keys and a full batch of one-time keys (old ones stay for in-flight messages).
    const manager = client.manager;
    await manager.rotateSignedPreKey();
    await manager.rotateLastResortKyberPreKey();
    const upload = await manager.maintain({ preKeys: 0, kyberPreKeys: 0 });
    const keys = uploadJson(upload);
    const signed = await manager.currentSignedPreKey();
    const lastResort = await manager.currentLastResortKyberPreKey();
    if (!signed || !lastResort) throw new Error('prekey manager produced no signed or last-resort key');
    const device = {
      ...keys,
      registrationId,
      identityKey: toBase64(identity.publicKey.serialize()),
      signedPreKey: signedJson(signed),
      lastResortKyberPreKey: signedJson(lastResort),
    };
    const reply: { aci: string; name: string; deviceId: number; token: string; recoveryCode?: string } = link
      ? await client.api.linkDevice({ aci: link.aci, provisioningCode: link.provisioningCode, device })
      : await client.api.register({ name, ...(recoveryCode ? { recoveryCode } : {}), device });
    // A linked device was told its account by the existing device: the relay must agree.
    if (link && (reply.aci !== link.aci || reply.name !== name))
      throw new DirectoryMismatchError('serviceId');
    const creds: Credentials = {
      name,
      aci: reply.aci,
      deviceId: reply.deviceId,
      token: reply.token,
      recoveryCode: reply.recoveryCode ?? recoveryCode ?? '',
    };
    await tx.putJson(APP_KEYS.credentials, creds);
    await client.directory.pinSelf(tx, { aci: reply.aci, name });
    client.api.token = reply.token;
    await client.sealed.enroll(tx, link?.profileKey);
    return new ClientCore(creds, store, identity, hooks, options);
  });
}

/**
 * Links this (new) device to an existing account: `request`'s QR code was scanned (or its text
 * pasted) on a device of the account, which sent the account identity; this device registers as
 * the account's next device with fresh prekeys of its own.
 */
export async function link(
  request: LinkRequest | ProvisionedAccount,
  options: ChatClientOptions,
): Promise<ClientCore> {
  const account = request instanceof LinkRequest ? await request.waitForAccount() : request;
  const provider = resolveProvider(options.provider);
  const registrationId = generateRegistrationId((n) => provider.randomBytes(n));
  const hooks: StoreHooks = {};
  // The account's identity key, this device's own registration id.
  const store = await openStore(options, hooks, {
    identityKeyPair: account.identity,
    registrationId,
  });
  if ((await store.app.get(APP_KEYS.credentials)) !== undefined)
    throw new Error('this store already holds a registered account');
  return enroll(account.name, store, hooks, options, undefined, {
    aci: account.aci,
    provisioningCode: account.provisioningCode,
    profileKey: account.profileKey,
  });
}

/** Existing device: hands the account to the device showing `uri` (ask the user to confirm first). */
export function linkDevice(c: ClientCore, uri: string): Promise<void> {
  return c.run(async (tx) => {
    await provisionDevice(
      c.api,
      uri,
      {
        aci: c.aci,
        name: c.name,
        identity: c.identity,
        profileKey: await c.sealed.profileKey(tx),
      },
      c.provider,
    );
  });
}

/** The account's devices as the relay lists them. */
export async function listDevices(
  c: ClientCore,
): Promise<{ deviceId: number; createdAt: number; current: boolean }[]> {
  const { devices } = await c.api.devices();
  return devices.map((d) => ({
    deviceId: d.deviceId,
    createdAt: d.createdAt,
    current: d.deviceId === c.deviceId,
  }));
}

/** Unlinks another device of this account: the relay drops it, our sessions with it are archived. */
export function unlinkDevice(c: ClientCore, deviceId: number): Promise<void> {
  return c.run(async () => {
    await c.api.unlinkDevice(deviceId);
    await c.devices.fanout().removeDevices(c.aci, [deviceId]);
  });
}

/**
 * The account's recovery code (32 hex digits): with it, the account can be re-registered on a new
 * device and its backup downloaded. Write it down with the backup key.
 */
export async function recoveryCode(c: ClientCore): Promise<string> {
  const creds = parseJsonBytes<Credentials>(await c.store.app.get(APP_KEYS.credentials));
  return creds?.recoveryCode ?? '';
}
