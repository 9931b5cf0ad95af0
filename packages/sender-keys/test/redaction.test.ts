// Issue 11.7: every exported class of sender-keys (and sender-keys/testing), built for real in a live
// group, prints none of the secrets it holds — chain keys, signing private keys and Ed25519 seeds,
// skipped message-key seeds — under util.inspect, console.log, String(), template literals, toString
// or JSON, nor through any field or getter (the internal `states` getter included, state by state).
import * as senderKeys from '@e2ee-kit/sender-keys';
import {
  GroupCipher,
  generateDistributionId,
  KeyHolderRecord,
  SenderKeyDistributionMessage,
  SenderKeyMessage,
  SenderKeyRecord,
} from '@e2ee-kit/sender-keys';
import * as senderKeysTesting from '@e2ee-kit/sender-keys/testing';
import { InMemorySenderKeyStore, SimulatedNetwork } from '@e2ee-kit/sender-keys/testing';
import { describeRedaction } from '../../../tools/redaction.js';

const alice = { name: 'alice', deviceId: 1 };
const bob = { name: 'bob', deviceId: 1 };

async function build() {
  const groupId = generateDistributionId();
  const aliceStore = new InMemorySenderKeyStore();
  const bobStore = new InMemorySenderKeyStore();
  const aliceKeys = new GroupCipher(aliceStore);
  const bobKeys = new GroupCipher(bobStore);
  const plan = await aliceKeys.prepareSend(alice, groupId, [bob]);
  const skdm = plan.distributionMessage.serialize();
  await bobKeys.processDistributionMessage(alice, skdm);
  await aliceKeys.markDelivered(alice, groupId, plan.chainId, plan.needsDistribution);
  const wires: Uint8Array[] = [];
  for (let i = 0; i < 4; i++)
    wires.push(await aliceKeys.encrypt(alice, groupId, new TextEncoder().encode(`m${i}`)));
  await bobKeys.decrypt(alice, wires[3]!); // leaves skipped message keys for 0..2 in Bob's state
  // A rotation, so both records hold an old state next to the current one.
  const rotated = await aliceKeys.rotate(alice, groupId);
  await bobKeys.processDistributionMessage(alice, rotated.serialize());

  const ownRecord = (await aliceStore.loadSenderKey(alice, groupId))!;
  const bobRecord = (await bobStore.loadSenderKey(alice, groupId))!;
  const secrets: Record<string, Uint8Array> = {};
  for (const [who, record] of [
    ['sender', ownRecord],
    ['receiver', bobRecord],
  ] as const) {
    for (const [i, s] of record.states.entries()) {
      secrets[`${who} state ${i} chain key`] = s.chainKey;
      if (s.signingPrivate) secrets[`${who} state ${i} signing private key`] = s.signingPrivate;
      if (s.edSeed) secrets[`${who} state ${i} Ed25519 seed`] = s.edSeed;
      for (const [j, k] of s.skipped.entries()) secrets[`${who} state ${i} skipped seed ${j}`] = k.seed;
    }
  }
  const network = new SimulatedNetwork<Uint8Array>('redaction');
  network.join('bob');
  network.send('alice', skdm);
  const objects: Record<string, object> = {
    SenderKeyRecord: ownRecord,
    'SenderKeyRecord (receiver)': bobRecord,
    'SenderKeyRecord.deserialize': SenderKeyRecord.deserialize(ownRecord.serialize()),
    'SenderKeyRecord.fromLibsignal': SenderKeyRecord.fromLibsignal(bobRecord.toLibsignal()),
    SenderKeyDistributionMessage: SenderKeyDistributionMessage.deserialize(skdm),
    'SenderKeyDistributionMessage (created)': plan.distributionMessage,
    SenderKeyMessage: SenderKeyMessage.deserialize(wires[0]!),
    KeyHolderRecord: KeyHolderRecord.create(plan.chainId, [bob]),
    GroupCipher: aliceKeys,
    'GroupCipher (receiver)': bobKeys,
    InMemorySenderKeyStore: aliceStore,
    SimulatedNetwork: network,
    plan,
    // Lock managers (re-exported from core) hold no key material; built for real.
    InProcessLockManager: new senderKeys.InProcessLockManager(),
    WebLocksManager: new senderKeys.WebLocksManager({
      locks: { request: (_name, _options, callback) => callback() },
    }),
  };
  if (Object.keys(secrets).length < 8) throw new Error('test setup: too few secrets found');
  return { objects, secrets };
}

describeRedaction('sender-keys: secrets never print', [senderKeys, senderKeysTesting], build, 150);
