/** The evaluation report: markdown, a JSON summary at a stable path, and an HTML page with charts. */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { relative, type Measures, type PolicyResult } from './metrics';
import type { HoldoutLift, OpeCheck } from './conciliation-report';

export interface EvalSummary {
  generatedAt: string;
  world: {
    seed: number;
    users: number;
    stores: number;
    salesPerDay: number;
    days: number;
    historyDays: number;
    /** Days published at once before the run (behaviour only). */
    replayDays?: number;
    start: string;
  };
  policies: Array<PolicyResult & { openRateVsBaseline: number; oracleGainCaptured: number }>;
  /**
   * Offline policy evaluation: the estimate of a second configuration from Herald's log of the evaluated
   * days, beside what that configuration did when it ran.
   */
  ope?: {
    from: string;
    to: string;
    check: OpeCheck;
    measured: { expectedOpenRate: number; pushesPerUser: number };
    logged: { expectedOpenRate: number; pushesPerUser: number };
  };
  /** Per policy with holdouts: each holdout's lift per user, with 95% intervals. */
  holdouts?: Array<{ policy: string; lifts: HoldoutLift[] }>;
  /** The herald-model policy's model: AUC on a held-out day by days of logs it trained on. */
  learningCurve?: Array<{
    days: number;
    examples: number;
    aucOpen: number;
    aucClick: number;
    heuristicAucOpen: number;
  }>;
}

export function summarize(world: EvalSummary['world'], results: readonly PolicyResult[]): EvalSummary {
  const baseline = results.find((r) => r.policy === 'baseline')?.overall;
  const oracle = results.find((r) => r.policy === 'oracle')?.overall;
  return {
    generatedAt: new Date().toISOString(),
    world,
    policies: results.map((r) => ({
      ...r,
      ...(baseline
        ? relative(r.overall, baseline, oracle)
        : { openRateVsBaseline: NaN, oracleGainCaptured: NaN }),
    })),
  };
}

const pct = (x: number) => (Number.isFinite(x) ? `${(100 * x).toFixed(1)}%` : 'n/a');
const num = (x: number, d = 2) => (Number.isFinite(x) ? x.toFixed(d) : 'n/a');

function row(name: string, m: Measures, extra: string[] = []): string {
  return `| ${[
    name,
    String(m.pushes),
    num(m.pushesPerUser),
    pct(m.reach),
    pct(m.openRate),
    pct(m.expectedOpenRate),
    pct(m.clickToOpen),
    String(m.clicks),
    pct(m.coverage),
    ...extra,
  ].join(' | ')} |`;
}

const HEAD = [
  'pushes',
  'per user',
  'reached',
  'open rate',
  'exp. open rate',
  'click/open',
  'clicks',
  'coverage',
];

/**
 * The hour gain: what sending Herald's own pushes at each user's best hour would add over the fixed hour,
 * and the share of it the predicted hour captured (same run, same content policy).
 */
export function hourGain(
  s: Pick<EvalSummary, 'policies'>,
): { available: number; captured: number } | undefined {
  const fixed = s.policies.find((p) => p.policy === 'herald')?.overall;
  const timed = s.policies.find((p) => p.policy === 'herald-timed')?.overall;
  if (!fixed || !timed) return undefined;
  const available = fixed.expectedOpenRateAtBestHour - fixed.expectedOpenRate;
  return {
    available,
    captured: available > 0 ? (timed.expectedOpenRate - fixed.expectedOpenRate) / available : NaN,
  };
}

function hourGainLine(s: EvalSummary): string[] {
  const g = hourGain(s);
  const oracle = s.policies.find((p) => p.policy === 'oracle')?.overall;
  const fixed = s.policies.find((p) => p.policy === 'herald')?.overall;
  const lines: string[] = [];
  if (g) {
    lines.push(
      '',
      `Hour gain: Herald's pushes at each user's best hour would gain ${pct(g.available)} of expected open rate over the fixed hour; the predicted hour captured ${pct(g.captured)} of it.`,
    );
  }
  if (oracle && fixed) {
    const total = oracle.expectedOpenRate - fixed.expectedOpenRate;
    const hour = fixed.expectedOpenRateAtBestHour - fixed.expectedOpenRate;
    lines.push(
      `The oracle's lead over Herald at the fixed hour (${pct(total)}) splits into the hour (${pct(hour)}, ${pct(total > 0 ? hour / total : NaN)}) and the content, stores and fatigue (${pct(total - hour)}).`,
    );
  }
  return lines;
}

/** Where each strategy's open rate comes from: the response model's factors, averaged over its pushes. */
function factorLines(s: EvalSummary): string[] {
  const rows = s.policies.flatMap((p) =>
    Object.entries(p.byStrategy).flatMap(([st, m]) => {
      const f = m.factors;
      if (!f) return [];
      return [
        `| ${p.policy} / ${st} | ${pct(m.expectedOpenRate)} | ${num(f.user, 3)} | ${num(f.category)} | ${num(f.discount)} | ${num(f.distance)} | ${num(f.hour)} | ${num(f.fatigue)} |`,
      ];
    }),
  );
  if (rows.length === 0) return [];
  return [
    '',
    "Why, per strategy: the means of the response model's factors over the pushes (the open probability is the user's responsiveness times the five factors; each factor is 1 at its best).",
    '',
    '| policy / strategy | exp. open rate | user | category | discount | distance | hour | fatigue |',
    `|${' --- |'.repeat(8)}`,
    ...rows,
  ];
}

export function markdown(s: EvalSummary): string {
  const w = s.world;
  const lines = [
    `# Herald evaluation`,
    '',
    `${w.users} users, ${w.stores} stores, ${w.salesPerDay} sales a day; ${w.replayDays ?? 0} days replayed at once (behaviour only), ${w.historyDays} burn-in days, then ${w.days} evaluated days; world from ${w.start}, seed ${w.seed}.`,
    `Every policy but the oracle ran through the real pipeline (Kafka, BullMQ, every worker its own process).`,
    `Ratios use the expected open rate (the ground truth's probability of each push), which is less noisy than the draws.`,
    '',
    `| policy | ${HEAD.join(' | ')} | open rate vs baseline | oracle gain captured |`,
    `|${' --- |'.repeat(HEAD.length + 3)}`,
    ...s.policies.map((p) =>
      row(p.policy, p.overall, [`${num(p.openRateVsBaseline, 3)}x`, pct(p.oracleGainCaptured)]),
    ),
    '',
    '## Per strategy',
    '',
    `| policy / strategy | ${HEAD.join(' | ')} |`,
    `|${' --- |'.repeat(HEAD.length + 1)}`,
    ...s.policies.flatMap((p) =>
      Object.entries(p.byStrategy).map(([st, m]) => row(`${p.policy} / ${st}`, m)),
    ),
    ...factorLines(s),
    '',
    '## Send time',
    '',
    'Near best hour: pushes sent within an hour of the user’s most active hour of that day (ground truth). At best hour: the expected open rate had the same pushes gone then.',
    '',
    '| policy | near best hour | exp. open rate | exp. open rate at best hour |',
    '| --- | --- | --- | --- |',
    ...s.policies.map(
      (p) =>
        `| ${p.policy} | ${pct(p.overall.nearBestHour)} | ${pct(p.overall.expectedOpenRate)} | ${pct(p.overall.expectedOpenRateAtBestHour)} |`,
    ),
    ...hourGainLine(s),
    ...opeLines(s),
    ...holdoutLines(s),
    '',
    '## Policies',
    '',
    ...s.policies.map(
      (p) => `- **${p.policy}**: ${p.description} (${num(p.realSeconds, 0)} s, ${p.eventsPublished} events).`,
    ),
    '',
  ];
  return lines.join('\n');
}

const ci = (e: { value: number; lo: number | null; hi: number | null } | null, f: (x: number) => string) =>
  e ? `${f(e.value)}${e.lo !== null && e.hi !== null ? ` [${f(e.lo)}, ${f(e.hi)}]` : ''}` : 'n/a';

function opeLines(s: EvalSummary): string[] {
  const o = s.ope;
  if (!o) return [];
  const c = o.check;
  const dr = c.openRate.dr?.value;
  const err =
    dr !== undefined && o.measured.expectedOpenRate > 0 ? dr / o.measured.expectedOpenRate - 1 : null;
  const cfg = Object.entries(c.config)
    .map(([k, v]) => `${k}=${v}`)
    .join(',');
  return [
    '',
    '## Offline policy evaluation',
    '',
    `From herald's log of the evaluated days (${c.decisions} decisions; effective sample size ${num(c.ess, 0)}, largest weight ${num(c.maxWeight, 1)}), the estimate for \`${cfg}\` (services/conciliation/ope.ts, the code of \`npm run offline -- ope\`; reward: the expected open of each push), beside what \`herald-alt\` (that configuration) measured when run:`,
    '',
    '| | exp. open rate | pushes per decision |',
    '| --- | --- | --- |',
    `| herald (logging policy) | ${pct(o.logged.expectedOpenRate)} | ${ci(c.pushesPerDecision.onPolicy, (x) => num(x, 3))} |`,
    `| estimate, IPS | ${ci(c.openRate.ips, pct)} | ${ci(c.pushesPerDecision.ips, (x) => num(x, 3))} |`,
    `| estimate, SNIPS | ${ci(c.openRate.snips, pct)} | ${ci(c.pushesPerDecision.snips, (x) => num(x, 3))} |`,
    `| estimate, DR | ${ci(c.openRate.dr, pct)} | ${ci(c.pushesPerDecision.dr, (x) => num(x, 3))} |`,
    `| herald-alt, measured | ${pct(o.measured.expectedOpenRate)} | |`,
    '',
    err === null ? '' : `DR estimate against the measured rate: ${err >= 0 ? '+' : ''}${num(100 * err, 1)}%.`,
  ];
}

function holdoutLines(s: EvalSummary): string[] {
  if (!s.holdouts?.length) return [];
  const f = (x: number) => num(x, 4);
  return [
    '',
    '## Holdouts',
    '',
    'Opens and clicks per user over the evaluated days: treated users against the users held out (`all`: the global control group, never pushed; a strategy: users that strategy never pushes, who may get the others). Differences with 95% intervals (Welch). The simulated world answers no push with a purchase, so conversions are not shown.',
    '',
    '| policy / holdout | treated users | held-out users | opens per user, treated − held out | clicks per user, treated − held out |',
    '| --- | --- | --- | --- | --- |',
    ...s.holdouts.flatMap((h) =>
      h.lifts.map(
        (l) =>
          `| ${h.policy} / ${l.scope} | ${l.treatedUsers} | ${l.holdoutUsers} | ${ci(l.lift.opens.diff === null ? null : { value: l.lift.opens.diff, lo: l.lift.opens.lo, hi: l.lift.opens.hi }, f)} | ${ci(l.lift.clicks.diff === null ? null : { value: l.lift.clicks.diff, lo: l.lift.clicks.lo, hi: l.lift.clicks.hi }, f)} |`,
      ),
    ),
  ];
}

function bars(
  title: string,
  items: Array<{ label: string; value: number }>,
  format: (x: number) => string,
): string {
  const max = Math.max(...items.map((i) => i.value), 1e-9);
  const h = 28;
  const body = items
    .map((it, k) => {
      const w = Math.round((360 * it.value) / max);
      const y = 30 + k * h;
      return `<text x="0" y="${y + 16}" font-size="13">${it.label}</text><rect x="110" y="${y}" width="${w}" height="20" fill="#3b6ea5"/><text x="${116 + w}" y="${y + 15}" font-size="12">${format(it.value)}</text>`;
    })
    .join('');
  return `<svg width="560" height="${40 + items.length * h}" xmlns="http://www.w3.org/2000/svg"><text x="0" y="16" font-size="15" font-weight="bold">${title}</text>${body}</svg>`;
}

export function html(s: EvalSummary, md: string): string {
  const items = (f: (m: Measures) => number) =>
    s.policies.map((p) => ({ label: p.policy, value: f(p.overall) }));
  const table = md
    .split('\n')
    .filter((l) => l.startsWith('|') && !l.includes('---'))
    .map((l, i) => {
      const cells = l
        .split('|')
        .slice(1, -1)
        .map((c) => c.trim());
      const tag = i === 0 ? 'th' : 'td';
      return `<tr>${cells.map((c) => `<${tag}>${c}</${tag}>`).join('')}</tr>`;
    });
  return `<!doctype html><html><head><meta charset="utf-8"><title>Herald evaluation</title>
<style>body{font-family:sans-serif;margin:2em;max-width:1100px}table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;padding:4px 8px;text-align:right}td:first-child,th:first-child{text-align:left}</style></head><body>
<h1>Herald evaluation</h1><p>${s.world.users} users, ${s.world.days} simulated days, seed ${s.world.seed}. Generated ${s.generatedAt}.</p>
${bars(
  'Expected open rate',
  items((m) => m.expectedOpenRate),
  pct,
)}
${bars(
  'Clicks',
  items((m) => m.clicks),
  (x) => String(Math.round(x)),
)}
${bars(
  'Coverage of the day\u2019s sales',
  items((m) => m.coverage),
  pct,
)}
${bars(
  'Users reached',
  items((m) => m.reach),
  pct,
)}
<table>${table[0] ?? ''}${table.slice(1, s.policies.length + 1).join('')}</table>
${
  s.learningCurve?.length
    ? `${bars(
        'Learning curve: open AUC on a held-out day by days of logs',
        s.learningCurve.map((p) => ({ label: `${p.days} day${p.days > 1 ? 's' : ''}`, value: p.aucOpen })),
        (x) => x.toFixed(3),
      )}<table><tr><th>days of logs</th><th>examples</th><th>open AUC</th><th>click AUC</th><th>heuristic open AUC</th></tr>${s.learningCurve
        .map(
          (p) =>
            `<tr><td>${p.days}</td><td>${p.examples}</td><td>${p.aucOpen.toFixed(3)}</td><td>${p.aucClick.toFixed(3)}</td><td>${p.heuristicAucOpen.toFixed(3)}</td></tr>`,
        )
        .join('')}</table>`
    : ''
}
</body></html>
`;
}

export function writeReport(dir: string, s: EvalSummary): { md: string; json: string; html: string } {
  mkdirSync(dir, { recursive: true });
  const md = markdown(s);
  const paths = {
    md: join(dir, 'report.md'),
    json: join(dir, 'summary.json'),
    html: join(dir, 'report.html'),
  };
  writeFileSync(paths.md, md);
  writeFileSync(paths.json, JSON.stringify(s, null, 2) + '\n');
  writeFileSync(paths.html, html(s, md));
  return paths;
}
