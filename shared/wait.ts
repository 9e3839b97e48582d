/**
 * Waiting on a condition, the one way every process and test does it: poll until the check holds, with a
 * deadline that names what was awaited and the last reason it did not hold. A fixed sleep hides races; a
 * poll without a deadline hangs a run for good.
 */

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

export interface WaitForOptions {
  /** How long to keep polling, in ms. Default 60000. */
  timeoutMs?: number;
  /** Pause between polls, in ms. Default 100. */
  intervalMs?: number;
  /**
   * Asked after each poll that did not succeed: an error returned here ends the wait at once with that
   * error (the process being waited on has exited, say), rather than polling on to the deadline.
   * Default: never.
   */
  abort?: () => Error | undefined;
}

/**
 * Polls `check` until it returns a truthy value and returns that value. A check that throws counts as not
 * yet (a broker still starting refuses connections); its error is kept, and the timeout reads
 * `timed out after <timeoutMs> ms waiting for <what>: <last error>`.
 */
export async function waitFor<T>(
  check: () => Promise<T | undefined | null | false> | T | undefined | null | false,
  what: string,
  options: WaitForOptions = {},
): Promise<T> {
  const timeoutMs = options.timeoutMs ?? 60_000;
  const intervalMs = options.intervalMs ?? 100;
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await check();
      if (v) return v;
    } catch (err) {
      last = err;
    }
    const abort = options.abort?.();
    if (abort) throw abort;
    if (Date.now() > deadline) {
      throw new Error(
        `timed out after ${timeoutMs} ms waiting for ${what}${last instanceof Error ? `: ${last.message}` : ''}`,
      );
    }
    await sleep(intervalMs);
  }
}
