/**
 * Prints how long it takes to build worlds and generate days of events. Not a test: figures, not limits.
 * Run after a build: `node dist/services/simulator/world/world.bench.js [users...]`, after `npm run build`.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { generateDay, initialEvents } from './behaviour';
import { createWorld } from './world';

/** Runs f; returns its value and "<wall> ms (cpu <cpu> ms)" (CPU time is the honest figure on a busy machine). */
function time<T>(f: () => T): [T, string] {
  const t0 = process.hrtime.bigint();
  const c0 = process.cpuUsage();
  const v = f();
  const cpu = process.cpuUsage(c0);
  const wall = Number(process.hrtime.bigint() - t0) / 1e6;
  return [v, `${wall.toFixed(0)} ms (cpu ${((cpu.user + cpu.system) / 1000).toFixed(0)} ms)`];
}

function main(): void {
  // From the sources (services/simulator/world) or the build (dist/services/simulator/world).
  const candidates = [
    join(__dirname, '../../../infra/data/affinity.json'),
    join(__dirname, '../../../../infra/data/affinity.json'),
  ];
  const path = candidates.find((p) => {
    try {
      readFileSync(p);
      return true;
    } catch {
      return false;
    }
  });
  if (!path) throw new Error('infra/data/affinity.json not found');
  const affinity: unknown = JSON.parse(readFileSync(path, 'utf8'));
  const sizes = process.argv
    .slice(2)
    .map(Number)
    .filter((n) => n > 0);
  for (const users of sizes.length ? sizes : [3_000, 100_000]) {
    const heapBefore = process.memoryUsage().heapUsed;
    const [world, createMs] = time(() =>
      createWorld({
        seed: 1,
        users,
        stores: Math.max(60, Math.round(users / 50)),
        salesPerDay: 50,
        days: 7,
        start: '2026-03-23',
        affinity,
      }),
    );
    const [init, initMs] = time(() => initialEvents(world));
    const days: string[] = [];
    for (const day of [0, 3, 6]) {
      const [events, ms] = time(() => generateDay(world, day));
      days.push(`day ${day}: ${events.length} events in ${ms}`);
    }
    const heapMb = (process.memoryUsage().heapUsed - heapBefore) / 1e6;
    console.log(
      `${users} users: createWorld ${createMs}; initialEvents ${init.length} in ${initMs}; ${days.join('; ')}; heap +${heapMb.toFixed(0)} MB`,
    );
  }
}

if (require.main === module) main();
