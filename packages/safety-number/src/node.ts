// @e2ee-kit/safety-number/node: the node:crypto provider, for apps that depend on this package alone (pass it as
// `provider`). Node only; browsers and React Native use the main entry's providers.
export { nodeProvider } from '@e2ee-kit/core/node';
