// size-limit entry for the QR path: what an app that shows the digits and the QR code imports
// (one entry, as the app's bundler sees it; two size-limit paths would be measured as split chunks).
export { aciIdentifier, computeSafetyNumber } from '../../packages/safety-number/dist/index.js';
export { safetyNumberQr } from '../../packages/safety-number/dist/qr.js';
