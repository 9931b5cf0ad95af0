// A promise and the function that settles it, for tests that hold one operation at a chosen point
// (a slow `deliver`, a store write in flight) while another runs.
export function deferred(): { promise: Promise<void>; resolve: () => void } {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => {
    resolve = r;
  });
  return { promise, resolve };
}
