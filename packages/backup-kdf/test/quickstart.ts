import { createBackup, openBackup } from '@e2ee-kit/backup-kdf';

// 1. Create: stream the chat database in, get encrypted bytes out.
const chatDb = new TextEncoder().encode('…your SQLite file or export…');
const { output, recoveryKey } = await createBackup([chatDb], {
  password: 'correct horse battery staple',
  recoveryKey: true, // a 64-digit key: show it to the user once
});
console.log('Write this down:', recoveryKey?.toDisplayString());
const encrypted = await output.bytes(); // or output.toReadableStream() to upload while encrypting

// 2. Open it with the password (or with { recoveryKey: 'dddd dddd …' }).
const { plaintext } = await openBackup(encrypted, { password: 'correct horse battery staple' });
console.log(new TextDecoder().decode(await plaintext.bytes()));
