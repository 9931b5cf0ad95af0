/**
 * The record classes the stores decode with. The stores never import the feature packages at run
 * time (they are optional peer dependencies, used for types only): the app passes the modules it
 * uses, e.g. `import * as ratchet from '@e2ee-kit/ratchet'` — a module namespace fits these shapes.
 */
import type {
  KyberPreKeyRecord,
  PreKeyRecord,
  PreKeyStateRecord,
  SessionRecord,
  SignedPreKeyRecord,
} from '@e2ee-kit/ratchet';
import type { KeyHolderRecord, SenderKeyRecord } from '@e2ee-kit/sender-keys';

export interface Codec<R> {
  deserialize(bytes: Uint8Array): R;
}

export interface RatchetCodecs {
  readonly SessionRecord: Codec<SessionRecord>;
  readonly PreKeyRecord: Codec<PreKeyRecord>;
  readonly SignedPreKeyRecord: Codec<SignedPreKeyRecord>;
  readonly KyberPreKeyRecord: Codec<KyberPreKeyRecord>;
  readonly PreKeyStateRecord: Codec<PreKeyStateRecord>;
}

export interface SenderKeyCodecs {
  readonly SenderKeyRecord: Codec<SenderKeyRecord>;
  readonly KeyHolderRecord: Codec<KeyHolderRecord>;
}

function check(mod: unknown, names: readonly string[], option: string): void {
  if (mod === null || typeof mod !== 'object') throw new TypeError(`${option} must be a module object`);
  for (const n of names) {
    const c = (mod as Record<string, { deserialize?: unknown } | undefined>)[n];
    if (typeof c?.deserialize !== 'function')
      throw new TypeError(`${option}.${n}.deserialize must be a function`);
  }
}

export function checkRatchetCodecs(mod: unknown): asserts mod is RatchetCodecs {
  check(
    mod,
    ['SessionRecord', 'PreKeyRecord', 'SignedPreKeyRecord', 'KyberPreKeyRecord', 'PreKeyStateRecord'],
    'ratchet',
  );
}

export function checkSenderKeyCodecs(mod: unknown): asserts mod is SenderKeyCodecs {
  check(mod, ['SenderKeyRecord', 'KeyHolderRecord'], 'senderKeys');
}
