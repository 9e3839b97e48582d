/** The pacing of the latency benchmark: a steady rate as small batches on a fixed tick, not bursts. */
import { sleep } from '../../shared/wait';

/** The pacing tick, ms: small enough that a batch is a handful of messages at the benchmark's rates. */
export const TICK_MS = 10;

/** Produces `rate` messages per second for `seconds`, a small batch every tick; `send` gets each batch's first index and size. */
export async function paced(
  seconds: number,
  rate: number,
  send: (from: number, n: number) => Promise<void>,
  onTick?: (elapsedMs: number) => void,
): Promise<number> {
  const t0 = performance.now();
  let sent = 0;
  const total = Math.round(rate * seconds);
  while (sent < total) {
    const elapsed = performance.now() - t0;
    const due = Math.min(total, Math.floor((rate * elapsed) / 1000) + 1) - sent;
    if (due > 0) {
      await send(sent, due);
      sent += due;
    }
    onTick?.(elapsed);
    const wait = TICK_MS - ((performance.now() - t0) % TICK_MS);
    await sleep(Math.max(1, wait));
  }
  return sent;
}
