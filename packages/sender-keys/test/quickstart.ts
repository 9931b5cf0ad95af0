// The README quick start, byte for byte (readme.test.ts checks the two agree, then runs this file).
import { GroupCipher, generateDistributionId } from '@e2ee-kit/sender-keys';
import { InMemorySenderKeyStore } from '@e2ee-kit/sender-keys/testing';

const alice = { name: 'alice', deviceId: 1 };
const bob = { name: 'bob', deviceId: 1 };
const carol = { name: 'carol', deviceId: 1 };
const groupId = generateDistributionId(); // chosen by the sender: one per group

// One cipher per device, over that device's store (in memory here; persist records in an app).
const aliceKeys = new GroupCipher(new InMemorySenderKeyStore());
const bobKeys = new GroupCipher(new InMemorySenderKeyStore());
const carolKeys = new GroupCipher(new InMemorySenderKeyStore());
const deviceOf = (a: { name: string }) => (a.name === 'bob' ? bobKeys : carolKeys);

// Alice sends: who needs her sender key? Hand it over pairwise, record it, encrypt once.
const plan = await aliceKeys.prepareSend(alice, groupId, [bob, carol]);
for (const member of plan.needsDistribution) {
  const skdm = plan.distributionMessage.serialize(); // travels inside the 1:1 session with `member`
  await deviceOf(member).processDistributionMessage(alice, skdm);
}
await aliceKeys.markDelivered(alice, groupId, plan.chainId, plan.needsDistribution);
const wire = await aliceKeys.encrypt(alice, groupId, new TextEncoder().encode('hello group'));

// The server fans the same bytes out to every member.
const { plaintext } = await bobKeys.decrypt(alice, wire);
console.log(new TextDecoder().decode(plaintext)); // hello group

// A member without the key gets a typed answer naming whom to ask.
const dave = new GroupCipher(new InMemorySenderKeyStore());
const outcome = await dave.tryDecrypt(alice, wire);
if (outcome.status === 'missing-sender-key') {
  console.log(`ask ${outcome.sender.name} to resend group ${outcome.distributionId}`);
}

// Carol leaves: the next send rotates Alice's key, and only Bob receives the new one.
const next = await aliceKeys.prepareSend(alice, groupId, [bob]);
console.log(next.rotation, next.needsDistribution); // member-removed [ { name: 'bob', deviceId: 1 } ]

// ---
export { next, outcome, plaintext };
