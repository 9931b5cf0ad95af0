/** Worker label that makes tools/stress/worker.ts freeze on purpose (the watchdog's self-test). */
export const FREEZE_SELF_TEST = 'freeze-self-test';
