// Hermes prelude: the one thing a React Native app provides (there, react-native-get-random-values).
// TEST ONLY: the hermes CLI has no secure random source, so this stand-in uses Math.random. Never ship it.
globalThis.crypto = {
  getRandomValues: (array) => {
    for (let i = 0; i < array.length; i++) array[i] = Math.floor(Math.random() * 256);
    return array;
  },
};
