/**
 * Decision code reads time from a Clock, never from Date.now() (DESIGN rule 4), so the simulator can run a
 * day in seconds and tests can pin an instant.
 */
import { ConfigError } from './errors';

export interface Clock {
  /** Current instant, epoch milliseconds. */
  now(): number;
  /** Simulated milliseconds per real millisecond: 1, or more under the simulator. */
  readonly speed: number;
}

export const systemClock: Clock = { now: () => Date.now(), speed: 1 };

/**
 * Redis expires keys on the wall clock, so a decision window measured in clock time (the contact window)
 * becomes `ms / speed` real milliseconds as a TTL: under the simulator's 1,000x clock a 20 h window is 72 s.
 */
export function ttlMs(clock: Clock, ms: number): number {
  return Math.max(1, Math.round(ms / clock.speed));
}

/** A clock that moves only when told to. For tests. */
export class ManualClock implements Clock {
  readonly speed = 1;
  constructor(private t: number) {}
  now(): number {
    return this.t;
  }
  set(t: number): void {
    this.t = t;
  }
  advance(ms: number): void {
    this.t += ms;
  }
}

/**
 * Simulated time that runs `speed` times faster than real time from `simStart`, which it reads at the real
 * instant `epochMs`. Before `epochMs` it waits at `simStart` (processes start and warm up before the
 * simulated world begins; nothing of an earlier day, such as its campaign tick, happens then). Processes
 * that share (simStart, speed, epochMs) read the same simulated time.
 */
export function acceleratedClock(
  simStart: number,
  speed: number,
  epochMs: number,
  real: Clock = systemClock,
): Clock {
  return { now: () => simStart + Math.max(0, real.now() - epochMs) * speed, speed };
}

/** Builds the clock named by config CLOCK (`system` or `accelerated:<ISO start>:<speed>`). */
export function clockFromConfig(spec: string, epochMs: number | undefined): Clock {
  if (spec === 'system') return systemClock;
  const rest = spec.slice('accelerated:'.length);
  const cut = rest.lastIndexOf(':');
  const start = Date.parse(rest.slice(0, cut));
  const speed = Number(rest.slice(cut + 1));
  if (!Number.isFinite(start) || !(speed > 0)) throw new ConfigError(`config: CLOCK=${spec} is invalid`);
  if (epochMs === undefined)
    throw new ConfigError('config: CLOCK_EPOCH_MS=(unset) is required by an accelerated CLOCK');
  return acceleratedClock(start, speed, epochMs);
}
