/**
 * The dashboard's pages as pure functions of what the API and the figures answered: no I/O here, so each
 * page can be rendered in a test from a fixed answer. Strategy names, reasons and queues come from the data;
 * nothing here names a strategy.
 */
import type {
  DeadLetterDetail,
  DeadLetterView,
  Explanation,
  FailedJobView,
  Page,
  RedriveReport,
  ReplayReport,
} from '../api';
import type { Sample, Snapshot } from '../figures';
import { JOB_STATES, LANES } from '../figures';
import { barChart, count, fmt, html, Html, lineChart, page, pct, table, when, type LineSeries } from './html';

export interface Who {
  name: string;
  role: string;
  /** Whether this token may replay jobs and re-drive dead letters. */
  mayAct: boolean;
}

const frame = (
  who: Who,
  nav: Parameters<typeof page>[0]['nav'],
  title: string,
  body: Html,
  refresh?: number,
) => page({ title, nav, who, body, ...(refresh ? { refreshSeconds: refresh } : {}) });

export function loginPage(error?: string): string {
  return page({
    title: 'Sign in',
    body: html`<div class="card" style="max-width:460px">
      <h1>Sign in</h1>
      <p class="note">
        Paste an operator API token (<code>hrld_…</code>). It is kept in an HttpOnly cookie for this dashboard
        only, and sent nowhere else.
      </p>
      ${error ? html`<p class="err" id="login-error">${error}</p>` : ''}
      <form method="post" action="/dashboard/login">
        <p>
          <input
            type="password"
            name="token"
            id="token"
            autocomplete="off"
            style="width:100%"
            placeholder="hrld_…"
            required
          />
        </p>
        <button type="submit" id="sign-in">Sign in</button>
      </form>
    </div>`,
  });
}

export function errorPage(who: Who | undefined, status: number, message: string): string {
  const body = html`<h1>${status === 403 ? 'Not allowed' : 'Something went wrong'}</h1>
    <p class="err" id="error" data-status="${status}">${status}: ${message}</p>
    <p><a href="/dashboard">Back to the overview</a></p>`;
  return who ? frame(who, undefined, `Error ${status}`, body) : page({ title: `Error ${status}`, body });
}

/** Strategies that appear anywhere in the figures, in name order (colours follow this order). */
function strategiesOf(samples: readonly Sample[]): string[] {
  const names = new Set<string>();
  for (const s of samples) {
    Object.keys(s.pushes).forEach((n) => names.add(n));
    Object.keys(s.feedback).forEach((n) => names.add(n));
  }
  return [...names].sort();
}

const opens = (s: Sample, strategy: string) => s.feedback[strategy]?.opened ?? 0;
const clicks = (s: Sample, strategy: string) => s.feedback[strategy]?.clicked ?? 0;
const sum = (o: Record<string, number>) => Object.values(o).reduce((a, b) => a + b, 0);

/** A scope's lift of opens per user with its interval, or why there is none. */
function liftCell(now: Snapshot, scope: string) {
  const h = now.holdouts?.find((x) => x.scope === scope);
  const l = h?.lift.opens;
  if (!h || !l || l.diff === null) return html`<span class="note">not measured</span>`;
  const f = (x: number) => (x >= 0 ? '+' : '') + x.toFixed(4);
  return html`<span data-figure="lift" data-strategy="${scope}"
    >${f(l.diff)}${l.lo !== null && l.hi !== null ? ` [${f(l.lo)}, ${f(l.hi)}]` : ''}</span
  >`;
}

export function overviewPage(who: Who, now: Snapshot, history: readonly Sample[]): string {
  const samples: Sample[] = [...history, now];
  const strategies = strategiesOf(samples);
  const over = (f: (s: Sample, strategy: string) => number): LineSeries[] =>
    strategies.map((name) => ({ name, points: samples.map((s) => [s.at, f(s, name)] as const) }));
  const ctor = (s: Sample, strategy: string) => {
    const o = opens(s, strategy);
    return o > 0 ? clicks(s, strategy) / o : 0;
  };
  const failed = Object.values(now.jobs).reduce((a, q) => a + q.failed, 0);
  const lag = now.lag ? now.lag.reduce((a, l) => a + l.lag, 0) : undefined;

  const perStrategy = table(
    ['strategy', 'pushes', 'opens', 'clicks', 'open rate', 'click-to-open', 'holdout lift'],
    strategies.map((name) => [
      html`<span data-strategy="${name}">${name}</span>`,
      html`<span data-figure="pushes" data-strategy="${name}">${fmt(now.pushes[name] ?? 0)}</span>`,
      html`<span data-figure="opens" data-strategy="${name}">${fmt(opens(now, name))}</span>`,
      html`<span data-figure="clicks" data-strategy="${name}">${fmt(clicks(now, name))}</span>`,
      pct(opens(now, name), now.pushes[name] ?? 0),
      pct(clicks(now, name), opens(now, name)),
      liftCell(now, name),
    ]),
    { numeric: [1, 2, 3, 4, 5], empty: 'No push sent yet.', id: 'strategies' },
  );

  const queues = table(
    ['queue', ...JOB_STATES],
    Object.entries(now.jobs).map(([q, c]) => [q, ...JOB_STATES.map((s) => fmt(c[s]))]),
    { numeric: JOB_STATES.map((_, i) => i + 1), id: 'queues' },
  );
  const due = table(
    ['lane', 'booked', 'due now', 'oldest due waited'],
    LANES.map((l) => [
      l,
      fmt(now.due[l].booked),
      fmt(now.due[l].due),
      `${fmt(now.due[l].oldestWaitMs / 1000, 1)} s`,
    ]),
    { numeric: [1, 2, 3] },
  );
  const lagRows = new Map<string, number>();
  for (const l of now.lag ?? [])
    lagRows.set(`${l.group}|${l.topic}`, (lagRows.get(`${l.group}|${l.topic}`) ?? 0) + l.lag);
  const lagTable = now.lag
    ? table(
        ['group', 'topic', 'messages behind'],
        [...lagRows].map(([k, n]) => [...k.split('|'), fmt(n)]),
        { numeric: [2] },
      )
    : html`<p class="err">Kafka did not answer: no consumer lag.</p>`;

  const body = html`<h1>Overview</h1>
    <div class="kpis">
      <div class="kpi"><b id="kpi-pushes">${fmt(sum(now.pushes))}</b><span>pushes sent</span></div>
      <div class="kpi">
        <b id="kpi-opens">${fmt(strategies.reduce((a, s) => a + opens(now, s), 0))}</b><span>opens</span>
      </div>
      <div class="kpi">
        <b id="kpi-clicks">${fmt(strategies.reduce((a, s) => a + clicks(now, s), 0))}</b><span>clicks</span>
      </div>
      <div class="kpi"><b id="kpi-drops">${fmt(sum(now.drops))}</b><span>users dropped</span></div>
      <div class="kpi">
        <b id="kpi-dead">${fmt(now.dead)}</b><span><a href="/dashboard/dead-letters">dead letters</a></span>
      </div>
      <div class="kpi">
        <b id="kpi-failed">${fmt(failed)}</b><span><a href="/dashboard/failed">failed jobs</a></span>
      </div>
      <div class="kpi"><b id="kpi-lag">${fmt(lag)}</b><span>consumer lag</span></div>
    </div>
    <h2>Per strategy</h2>
    <div class="card">
      ${perStrategy}
      <p class="note">
        Totals since this namespace began. Holdout lift: opens per user of the users the strategy may push
        minus those held out of it (HOLDOUT_STRATEGY_SHARE), with its 95% interval; a held-out user may get
        another strategy's push, so the lift is what the strategy adds. All of Herald against the global
        control group (HOLDOUT_SHARE): ${liftCell(now, 'all')}.
      </p>
    </div>
    <div class="grid">
      ${lineChart(
        'Pushes sent',
        over((s, n) => s.pushes[n] ?? 0),
      )}
      ${lineChart('Opens', over(opens))} ${lineChart('Clicks', over(clicks))}
      ${lineChart('Click-to-open', over(ctor), { percent: true })}
    </div>
    <h2>Drops by reason</h2>
    ${barChart(
      'Users dropped, by reason',
      Object.entries(now.drops).map(([label, value]) => ({ label, value })),
    )}
    <h2>Queues</h2>
    <div class="card">
      ${queues}
      <p class="note"><a href="/dashboard/queues/">Browse the jobs</a> (bull-board, read-only).</p>
    </div>
    <div class="grid">
      <div class="card"><b>Due for delivery</b>${due}</div>
      <div class="card"><b>Consumer lag</b>${lagTable}</div>
    </div>
    <p class="note">
      Charts: ${fmt(history.length)} samples taken by the ops process, and now. This page reloads every 10 s.
    </p>`;
  return frame(who, 'overview', 'Overview', body, 10);
}

const jobRef = (j: { queue: string; id: string }) => `${j.queue}/${j.id}`;

export function failedPage(
  who: Who,
  result: Page<FailedJobView>,
  filter: { queue?: string; reason?: string },
): string {
  const rows = result.items.map((j) => [
    j.queue,
    html`<code>${j.id}</code>`,
    j.reason,
    fmt(j.attempts),
    when(j.failedAt),
    j.strategies.join(', '),
    fmt(j.users),
    who.mayAct
      ? html`<form method="post" action="/dashboard/failed/replay">
          <input type="hidden" name="job" value="${jobRef(j)}" />
          <button type="submit" class="replay-dry">Replay (dry run)</button>
        </form>`
      : html`<span class="note">view only</span>`,
  ]);
  const body = html`<h1>Failed jobs</h1>
    <form method="get" action="/dashboard/failed" class="card">
      queue <input name="queue" value="${filter.queue ?? ''}" size="12" /> reason contains
      <input name="reason" value="${filter.reason ?? ''}" size="24" />
      <button type="submit">Filter</button>
    </form>
    <div class="card">
      ${table(['queue', 'job', 'reason', 'attempts', 'failed at', 'strategies', 'users', ''], rows, {
        numeric: [3, 6],
        empty: 'No failed job.',
        id: 'failed-jobs',
      })}
      ${result.next ? html`<p><a href="/dashboard/failed?${new URLSearchParams({ ...filter, cursor: result.next }).toString()}">Next page</a></p>` : ''}
      ${
        who.mayAct && result.items.length > 0
          ? html`<form method="post" action="/dashboard/failed/replay">
              ${filter.queue ? html`<input type="hidden" name="queue" value="${filter.queue}" />` : ''}
              ${filter.reason ? html`<input type="hidden" name="reason" value="${filter.reason}" />` : ''}
              <input type="hidden" name="all" value="1" />
              <button type="submit" id="replay-all-dry">
                Replay every job matching this filter (dry run)
              </button>
            </form>`
          : ''
      }
      <p class="note">
        A replay runs the jobs again through today's rules (opt-outs, caps, quiet hours, the contact ledger):
        the dry run says what would happen, and nothing is sent until you
        confirm.${who.mayAct ? '' : ' Your token is a viewer: it may look, not replay.'}
      </p>
    </div>`;
  return frame(who, 'failed', 'Failed jobs', body);
}

/** The hidden fields that carry a replay or re-drive selection from the dry run to its confirmation. */
export function hidden(fields: Record<string, string | readonly string[]>): Html {
  return html`${Object.entries(fields).flatMap(([k, v]) =>
    (typeof v === 'string' ? [v] : v).map((x) => html`<input type="hidden" name="${k}" value="${x}" />`),
  )}`;
}

const drops = (d: Partial<Record<string, number>>) =>
  Object.entries(d)
    .map(([k, n]) => `${k}: ${n ?? 0}`)
    .join(', ') || 'none';

export function replayReportPage(
  who: Who,
  report: ReplayReport,
  selection: Record<string, string | readonly string[]>,
): string {
  const box = report.dryRun
    ? html`<div class="dry" id="replay-report" data-dry-run="true">
        <b>Dry run: nothing was replayed.</b> ${count(report.jobs, 'job')} selected, concerning
        ${count(report.users, 'user')}: <b id="replay-pushes">${fmt(report.pushes)}</b> would get a push under
        today's rules (${fmt(report.deferred)} after their quiet hours); none for ${drops(report.dropped)}.
      </div>`
    : html`<div class="ok" id="replay-report" data-dry-run="false">
        <b>Replayed ${fmt(report.replayed)} of ${count(report.jobs, 'job')}.</b> ${fmt(report.pushes)} users
        should get a push; none for ${drops(report.dropped)}.
      </div>`;
  const perJob = table(
    ['job', 'users', 'pushes', 'after quiet hours', 'no push', 'note'],
    report.perJob.map((j) => [
      html`<code>${jobRef(j)}</code>`,
      fmt(j.users),
      fmt(j.pushes),
      fmt(j.deferred),
      drops(j.dropped),
      j.note ?? '',
    ]),
    { numeric: [1, 2, 3] },
  );
  const confirm =
    report.dryRun && who.mayAct && report.jobs > 0
      ? html`<form method="post" action="/dashboard/failed/replay">
          ${hidden(selection)}<input type="hidden" name="confirm" value="1" />
          <button type="submit" class="warn" id="replay-confirm">
            Confirm: replay ${count(report.jobs, 'job')}
          </button>
          <a href="/dashboard/failed">Cancel</a>
        </form>`
      : html`<p><a href="/dashboard/failed">Back to failed jobs</a></p>`;
  return frame(
    who,
    'failed',
    'Replay',
    html`<h1>Replay ${report.dryRun ? '(dry run)' : ''}</h1>
      ${box}
      <div class="card">${perJob}</div>
      ${confirm}`,
  );
}

export function deadLettersPage(
  who: Who,
  result: Page<DeadLetterView>,
  filter: { topic?: string; reason?: string },
  byReason: ReadonlyArray<{ label: string; value: number }>,
): string {
  const rows = result.items.map((l) => [
    html`<a href="/dashboard/dead-letters/${encodeURIComponent(l.id)}"><code>${l.id}</code></a>`,
    l.at,
    l.source.topic,
    l.reason,
    l.redrivenAt ? when(l.redrivenAt) : '',
    who.mayAct
      ? html`<form method="post" action="/dashboard/dead-letters/redrive">
          <input type="hidden" name="id" value="${l.id}" />
          <button type="submit" class="redrive-dry">Re-drive (dry run)</button>
        </form>`
      : html`<span class="note">view only</span>`,
  ]);
  const body = html`<h1>Dead letters</h1>
    ${barChart('Dead letters by reason (this page)', byReason)}
    <form method="get" action="/dashboard/dead-letters" class="card">
      topic <input name="topic" value="${filter.topic ?? ''}" size="14" /> reason contains
      <input name="reason" value="${filter.reason ?? ''}" size="24" /> <button type="submit">Filter</button>
    </form>
    <div class="card">
      ${table(['letter', 'at', 'topic', 'reason', 're-driven', ''], rows, { empty: 'No dead letter.', id: 'dead-letters' })}
      ${result.next ? html`<p><a href="/dashboard/dead-letters?${new URLSearchParams({ ...filter, cursor: result.next }).toString()}">Next page</a></p>` : ''}
      <p class="note">
        A re-drive sends a letter back to its topic once, if it now passes the topic's schema. Open a letter
        to re-drive it with a fix.
      </p>
    </div>`;
  return frame(who, 'dead', 'Dead letters', body);
}

export function deadLetterPage(who: Who, l: DeadLetterDetail): string {
  let pretty = l.value ?? '';
  try {
    pretty = JSON.stringify(JSON.parse(pretty), null, 2);
  } catch {
    // Not JSON (that may be why it is here): shown as it is.
  }
  const body = html`<h1>Dead letter <code>${l.id}</code></h1>
    <div class="card">
      ${table(
        ['field', 'value'],
        [
          ['reason', l.reason],
          ['at', l.at],
          ['worker', l.worker],
          ['source', `${l.source.topic} partition ${l.source.partition} offset ${l.source.offset}`],
          ['key', l.key ?? ''],
          ['re-driven', l.redrivenAt ? when(l.redrivenAt) : 'no'],
        ],
      )}
    </div>
    <h2>Original bytes</h2>
    <pre id="letter-value">${l.value ?? '(none)'}</pre>
    ${
      who.mayAct
        ? html`<h2>Re-drive with a fix</h2>
            <form method="post" action="/dashboard/dead-letters/redrive" class="card">
              <input type="hidden" name="fixId" value="${l.id}" />
              <textarea name="fix" rows="12" style="width:100%">${pretty}</textarea>
              <p><button type="submit" id="redrive-fix-dry">Re-drive with this event (dry run)</button></p>
            </form>`
        : ''
    }`;
  return frame(who, 'dead', `Dead letter ${l.id}`, body);
}

export function redriveReportPage(
  who: Who,
  report: RedriveReport,
  selection: Record<string, string | readonly string[]>,
): string {
  const box = report.dryRun
    ? html`<div class="dry" id="redrive-report" data-dry-run="true">
        <b>Dry run: nothing was re-driven.</b> ${fmt(report.selected)} selected:
        <b>${fmt(report.valid)}</b> now pass their schema and would go back; ${fmt(report.invalid.length)}
        still fail; ${fmt(report.alreadyRedriven)} were re-driven before.
      </div>`
    : html`<div class="ok" id="redrive-report" data-dry-run="false">
        <b>Re-drove ${count(report.redriven, 'letter')}.</b> ${Object.entries(report.byTopic)
          .map(([t, n]) => `${t}: ${n}`)
          .join(', ')};
        ${fmt(report.alreadyRedriven)} had been re-driven before.
      </div>`;
  const invalid = table(
    ['letter', 'still fails because'],
    report.invalid.map((i) => [i.id, i.reason]),
    {
      empty: 'Every selected letter passes.',
    },
  );
  const confirm =
    report.dryRun && who.mayAct && report.valid > 0
      ? html`<form method="post" action="/dashboard/dead-letters/redrive">
          ${hidden(selection)}<input type="hidden" name="confirm" value="1" />
          <button type="submit" class="warn" id="redrive-confirm">
            Confirm: re-drive ${count(report.valid, 'letter')}
          </button>
          <a href="/dashboard/dead-letters">Cancel</a>
        </form>`
      : html`<p><a href="/dashboard/dead-letters">Back to dead letters</a></p>`;
  return frame(
    who,
    'dead',
    'Re-drive',
    html`<h1>Re-drive ${report.dryRun ? '(dry run)' : ''}</h1>
      ${box}
      <div class="card">${invalid}</div>
      ${confirm}`,
  );
}

export function explainPage(who: Who, userId: string | undefined, e: Explanation | undefined): string {
  const form = html`<form method="get" action="/dashboard/explain" class="card">
    user id <input name="user" value="${userId ?? ''}" id="explain-user" required />
    <button type="submit" id="explain-go">Explain</button>
  </form>`;
  if (!userId || !e)
    return frame(
      who,
      'explain',
      'Explain a user',
      html`<h1>Explain a user</h1>
        ${form}`,
    );
  const trace = table(
    ['at', 'stage', 'what', 'strategy', 'target', 'detail'],
    e.trace.map((t) => [
      when(t.at),
      t.stage,
      t.what,
      t.strategy ?? '',
      t.targetId ?? '',
      html`<code>${JSON.stringify(t.detail)}</code>`,
    ]),
    { empty: e.traced ? 'No step recorded in this range.' : 'This user is not traced.' },
  );
  const body = html`<h1>Explain <code>${e.userId}</code></h1>
    ${form}
    <div class="card" id="explain-summary">
      <b>Summary</b>
      <ul>
        ${e.summary.map((l) => html`<li>${l}</li>`)}
      </ul>
    </div>
    <div class="card">
      <b>Now</b>: ${count(e.now.sent.length, 'push')} sent in the push-record
      retention${
        e.now.sent.length
          ? html` (${e.now.sent.map((s) => html`<code>${s.pushId}</code> at ${when(s.at)} `)})`
          : ''
      };
      ${e.now.booked ? html`booked on the ${e.now.booked.lane} lane, due ${when(e.now.booked.due)}` : 'not booked'}.
    </div>
    <h2>Trace</h2>
    <div class="card">${trace}</div>`;
  return frame(who, 'explain', `Explain ${e.userId}`, body);
}
