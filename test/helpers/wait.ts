/** The tests' waitFor: shared/wait's, with the positional timeout and interval the tests were written with. */
import { waitFor as sharedWaitFor } from '../../shared/wait';

export { sleep } from '../../shared/wait';

/** Waits until `check` returns a truthy value, polling; fails with `what` after `timeoutMs`. */
export function waitFor<T>(
  check: () => Promise<T | undefined | null | false> | T | undefined | null | false,
  what: string,
  timeoutMs = 60_000,
  intervalMs = 100,
): Promise<T> {
  return sharedWaitFor(check, what, { timeoutMs, intervalMs });
}
