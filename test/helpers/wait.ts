/** Polling in tests: wait for a condition without a fixed sleep, then assert on what was last seen. */

export interface WaitOptions {
  /** Give up after this long (default 10 s). */
  timeoutMs?: number;
  /** Pause between reads (default 100 ms). */
  intervalMs?: number;
}

/**
 * Calls `read` until `done` accepts its value or `timeoutMs` has passed, and returns the last value
 * read. It never throws on a timeout: assert on the value it returns, so a failure shows what was
 * seen last (e.g. `expect(await waitFor(() => count(), (n) => n === 0)).toBe(0)`). `read` runs at
 * least once, and once more after the deadline if the deadline passed during the pause.
 */
export async function waitFor<T>(read: () => T | Promise<T>, done: (value: T) => boolean, opts: WaitOptions = {}): Promise<T> {
  const { timeoutMs = 10_000, intervalMs = 100 } = opts;
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await read();
    if (done(value) || Date.now() > deadline) return value;
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}

/** A fixed pause: only where time itself is what is tested (cooldowns, timeouts); otherwise use waitFor. */
export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
