/**
 * The figures table: each figure beside a reference measured in the same run and their ratio, so the ratio
 * holds on a noisy machine. Also the per-stage timing table of a fan-out.
 */
import type { FanoutResult } from './fanout';
import type { ProcFigures, StageTiming } from './herald';
import { fmt, fmtBytes } from './util';

export interface Row {
  part: string;
  figure: string;
  value: number;
  unit: string;
  reference: string;
  refValue: number;
  /** value / refValue */
  ratio: number;
}

export class Table {
  readonly rows: Row[] = [];

  add(part: string, figure: string, value: number, unit: string, reference: string, refValue: number): void {
    this.rows.push({ part, figure, value, unit, reference, refValue, ratio: value / refValue });
  }

  render(): string {
    const show = (v: number, unit: string) => {
      if (!Number.isFinite(v)) return 'n/a';
      if (unit === 'B') return fmtBytes(v);
      if (unit === 'ms' || unit === 's') return `${fmt(v, v < 10 ? 2 : v < 100 ? 1 : 0)} ${unit}`;
      return `${fmt(v, v < 10 ? 2 : v < 100 ? 1 : 0)}${unit ? ` ${unit}` : ''}`;
    };
    const lines = this.rows.map((r) => [
      r.part,
      r.figure,
      show(r.value, r.unit),
      r.reference,
      show(r.refValue, r.unit),
      Number.isFinite(r.ratio)
        ? `${r.ratio >= 100 ? fmt(r.ratio) : r.ratio.toFixed(r.ratio < 0.1 ? 3 : 2)}x`
        : 'n/a',
    ]);
    const head = ['part', 'figure', 'value', 'reference (same run)', 'ref value', 'ratio'];
    const widths = head.map((h, i) => Math.max(h.length, ...lines.map((l) => l[i]!.length)));
    const row = (cells: string[]) =>
      cells.map((c, i) => (i >= 2 && i !== 3 ? c.padStart(widths[i]!) : c.padEnd(widths[i]!))).join('  ');
    return [row(head), widths.map((w) => '-'.repeat(w)).join('  '), ...lines.map(row)].join('\n');
  }
}

/** Per stage: its jobs' timing (from their timestamps) beside its process's CPU and memory. */
export function renderStageTable(
  timings: Record<string, StageTiming>,
  procs: Record<string, ProcFigures>,
): string {
  const procOf: Record<string, string> = {
    target: 'target',
    audience: 'audience',
    filter: 'filter',
    score: 'score',
    conciliate: 'conciliate',
    sendTime: 'send-time',
  };
  const head = [
    'stage',
    'jobs',
    'first start',
    'last end',
    'busy',
    'util',
    'run p50',
    'run p99',
    'wait p50',
    'wait max',
    'proc CPU',
    'idle RSS',
    'peak RSS',
  ];
  const lines = Object.entries(timings).map(([k, t]) => {
    const p = procs[procOf[k] ?? k];
    return [
      k,
      fmt(t.jobs),
      `${(t.firstStartMs / 1000).toFixed(2)} s`,
      `${(t.lastEndMs / 1000).toFixed(2)} s`,
      `${t.busyS.toFixed(1)} s`,
      `${(t.utilisation * 100).toFixed(0)}%`,
      `${fmt(t.runMs.p50)} ms`,
      `${fmt(t.runMs.p99)} ms`,
      `${fmt(t.waitMs.p50)} ms`,
      `${fmt(t.waitMs.max)} ms`,
      p ? `${p.cpuS.toFixed(1)} s` : '',
      p ? fmtBytes(p.idleRss) : '',
      p ? fmtBytes(p.peakRss) : '',
    ];
  });
  const widths = head.map((h, i) => Math.max(h.length, ...lines.map((l) => l[i]!.length)));
  const row = (cells: string[]) =>
    cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');
  return [row(head), ...lines.map(row)].join('\n');
}

/** Where a fan-out's time went: per stage, from the completed jobs' timestamps and the processes' CPU. */
export function renderTimings(r: FanoutResult): string {
  const cpuTotal = Object.values(r.procs).reduce((a, p) => a + p.cpuS, 0) + r.redisCpuS + r.benchCpuS;
  return [
    renderStageTable(r.timings, r.procs),
    `CPU over the ${r.seconds.toFixed(1)} s fan-out: workers ${Object.values(r.procs)
      .reduce((a, p) => a + p.cpuS, 0)
      .toFixed(1)} s, ` +
      `redis-server ${r.redisCpuS.toFixed(1)} s, bench ${r.benchCpuS.toFixed(1)} s = ${cpuTotal.toFixed(1)} s of ` +
      `${(2 * r.seconds).toFixed(1)} core-seconds available (${((cpuTotal / (2 * r.seconds)) * 100).toFixed(0)}% of 2 cores); ` +
      `the machine was busy ${r.machineBusyS.toFixed(1)} s, of which ${r.otherCpuS.toFixed(1)} s in processes not ours (Kafka, other jobs)`,
    `Redis commands: ${r.redis.topCalls
      .slice(0, 8)
      .map(([c, n]) => `${c} ${fmt(n)}`)
      .join(', ')}`,
    `Redis memory after booking, per eligible user: winner key ${fmtBytes(r.breakdown.winnerKeyBytes)} ` +
      `(value ${fmtBytes(r.breakdown.winnerValueBytes)}), due-set entry ${fmtBytes(r.breakdown.dueBytesPerUser)}; ` +
      `retained BullMQ jobs ${fmtBytes(r.breakdown.bullBytesTotal)} in ${fmt(r.breakdown.bullKeys)} keys ` +
      `(${fmtBytes(r.breakdown.bullBytesTotal / r.users)}/user); filter log ${fmtBytes(r.breakdown.filterLogBytes)}`,
  ].join('\n');
}
