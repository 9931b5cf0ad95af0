// Typed view of vectors/libsignal/fingerprint-libsignal.json (test-only).
import { readVectorJson } from '../../../tools/vectors.js';

export interface GeneratedVector {
  version: number;
  iterations: number;
  identifierKind: string;
  localIdentifierText: string;
  localIdentifierHex: string;
  localIdentityKeyHex: string;
  remoteIdentifierText: string;
  remoteIdentifierHex: string;
  remoteIdentityKeyHex: string;
  localHalf30: string;
  remoteHalf30: string;
  displayable: string;
  scannableLocalHex: string;
  scannableRemoteHex: string;
}

export interface LibsignalError {
  name: string;
  code: number;
  message: string;
}

export interface FingerprintVectors {
  publishedVectors: {
    aliceIdentityKeyHex: string;
    bobIdentityKeyHex: string;
    aliceIdentifier: string;
    bobIdentifier: string;
    iterations: number;
    displayable: string;
    aliceHalf30: string;
    bobHalf30: string;
    v1: { aliceScannableHex: string; bobScannableHex: string };
    v2: { aliceScannableHex: string; bobScannableHex: string };
  };
  compareBehaviour: Record<
    'versionMismatch' | 'garbage' | 'missingVersion',
    LibsignalError & { threw: boolean }
  >;
  iterationBounds: Record<string, LibsignalError | 'ok'>;
  vectors: GeneratedVector[];
}

export const fingerprintVectors = readVectorJson<FingerprintVectors>('libsignal/fingerprint-libsignal.json');
