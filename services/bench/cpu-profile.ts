/**
 * With `--profile`, worker processes run under `node --cpu-prof` and write a .cpuprofile when they exit;
 * this reads one and says where its CPU went: self time by package or source file, and the hottest
 * functions.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount?: number;
}

interface CpuProfile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples?: number[];
}

export interface ProfileSummary {
  file: string;
  /** seconds sampled while not idle */
  busyS: number;
  byModule: Array<{ module: string; share: number }>;
  topFunctions: Array<{ fn: string; share: number }>;
}

function moduleOf(url: string, fn: string): string {
  if (!url) return fn.startsWith('(') ? fn : '(native)';
  const nm = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (nm) return nm[1]!;
  const dist = /\/dist\/(.+)$/.exec(url);
  if (dist) return dist[1]!;
  if (url.startsWith('node:')) return url;
  return url.split('/').slice(-2).join('/');
}

export function summarizeProfile(file: string): ProfileSummary {
  const prof = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
  const total = prof.nodes.reduce((a, n) => a + (n.hitCount ?? 0), 0);
  const perSample = total > 0 ? (prof.endTime - prof.startTime) / 1e6 / total : 0;
  const byModule = new Map<string, number>();
  const byFn = new Map<string, number>();
  let busy = 0;
  for (const n of prof.nodes) {
    const hits = n.hitCount ?? 0;
    if (hits === 0 || n.callFrame.functionName === '(idle)') continue;
    busy += hits;
    const mod = moduleOf(n.callFrame.url, n.callFrame.functionName);
    byModule.set(mod, (byModule.get(mod) ?? 0) + hits);
    const fn = `${n.callFrame.functionName || '(anonymous)'} ${mod}:${n.callFrame.lineNumber + 1}`;
    byFn.set(fn, (byFn.get(fn) ?? 0) + hits);
  }
  const top = (m: Map<string, number>, n: number) =>
    [...m]
      .sort((a, b) => b[1] - a[1])
      .slice(0, n)
      .map(([k, v]) => ({ k, share: busy ? v / busy : 0 }));
  return {
    file,
    busyS: busy * perSample,
    byModule: top(byModule, 10).map(({ k, share }) => ({ module: k, share })),
    topFunctions: top(byFn, 10).map(({ k, share }) => ({ fn: k, share })),
  };
}

/** Every .cpuprofile under `dir`. */
export function profilesIn(dir: string): string[] {
  try {
    return readdirSync(dir)
      .filter((f) => f.endsWith('.cpuprofile'))
      .map((f) => join(dir, f));
  } catch {
    return [];
  }
}

export function renderProfile(name: string, s: ProfileSummary): string {
  const pct = (x: number) => `${(x * 100).toFixed(1)}%`;
  return [
    `${name}: ${s.busyS.toFixed(1)} s on CPU (sampled)`,
    `  by module: ${s.byModule.map((m) => `${m.module} ${pct(m.share)}`).join(', ')}`,
    ...s.topFunctions.map((f) => `  ${pct(f.share).padStart(6)}  ${f.fn}`),
  ].join('\n');
}
