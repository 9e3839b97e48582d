/**
 * The dashboard's HTML: escaping, the page frame, tables, and charts drawn as inline SVG on the server. No
 * script and nothing fetched from outside the machine; the pages work with JavaScript off.
 */

/** Escapes text for HTML content and double-quoted attributes. */
export function esc(v: string | number | boolean | null | undefined): string {
  return String(v ?? '')
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&#39;');
}

/** HTML already escaped, to pass through `html` untouched. */
export class Html {
  constructor(readonly text: string) {}
  toString(): string {
    return this.text;
  }
}

/** A template tag that escapes every value except Html (and arrays of Html, joined). */
export function html(strings: TemplateStringsArray, ...values: unknown[]): Html {
  let out = strings[0]!;
  values.forEach((v, i) => {
    out += render(v) + strings[i + 1]!;
  });
  return new Html(out);
}

function render(v: unknown): string {
  if (v instanceof Html) return v.text;
  if (Array.isArray(v)) return v.map(render).join('');
  if (v === undefined || v === null || v === false) return '';
  if (typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean') return esc(v);
  return esc(JSON.stringify(v));
}

export const NAV = [
  ['overview', '/dashboard', 'Overview'],
  ['queues', '/dashboard/queues/', 'Queues'],
  ['failed', '/dashboard/failed', 'Failed jobs'],
  ['dead', '/dashboard/dead-letters', 'Dead letters'],
  ['explain', '/dashboard/explain', 'Explain a user'],
] as const;
export type NavKey = (typeof NAV)[number][0];

const CSS = `
*{box-sizing:border-box}body{margin:0;font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:#1d232b;background:#f5f6f8}
header{display:flex;align-items:center;gap:18px;padding:10px 20px;background:#1d2633;color:#fff}
header b{font-size:16px;letter-spacing:.02em}header nav a{color:#c9d3e0;text-decoration:none;margin-right:14px}
header nav a.on{color:#fff;border-bottom:2px solid #5fa8ff}header .who{margin-left:auto;color:#c9d3e0;font-size:12px}
header form{display:inline;margin:0}header button{background:none;border:1px solid #6b7a8f;color:#c9d3e0;border-radius:4px;padding:2px 8px;cursor:pointer}
main{padding:18px 22px;max-width:1200px}h1{font-size:20px;margin:0 0 12px}h2{font-size:16px;margin:22px 0 8px}
.card{background:#fff;border:1px solid #dde2e8;border-radius:6px;padding:12px 14px;margin-bottom:14px}
.grid{display:grid;grid-template-columns:repeat(auto-fit,minmax(520px,1fr));gap:14px}
figure{margin:0 0 14px}figure svg{display:block;max-width:100%;height:auto}
table{border-collapse:collapse;width:100%;background:#fff}th,td{border-bottom:1px solid #e6e9ee;padding:5px 8px;text-align:left;vertical-align:top}
th{font-weight:600;color:#4a5564;font-size:12px;text-transform:uppercase;letter-spacing:.03em}td.n{text-align:right;font-variant-numeric:tabular-nums}
.note{color:#5b6675;font-size:13px}.err{background:#fdecec;border:1px solid #f2b8b8;color:#8a1f1f;padding:8px 12px;border-radius:5px}
.ok{background:#eaf6ec;border:1px solid #b5dfbd;padding:8px 12px;border-radius:5px}
.dry{background:#fff7e0;border:1px solid #f0d890;padding:8px 12px;border-radius:5px}
button,.btn{background:#2a6fdb;color:#fff;border:0;border-radius:4px;padding:4px 10px;cursor:pointer;font:inherit;font-size:13px}
button.warn{background:#c0392b}input,select,textarea{font:inherit;padding:3px 6px;border:1px solid #c3cad3;border-radius:4px}
code,pre{font:12px/1.4 ui-monospace,SFMono-Regular,Menlo,monospace}pre{background:#f0f2f5;padding:8px;overflow:auto;white-space:pre-wrap}
.kpis{display:flex;gap:12px;flex-wrap:wrap}.kpi{background:#fff;border:1px solid #dde2e8;border-radius:6px;padding:8px 14px;min-width:130px}
.kpi b{display:block;font-size:22px;font-variant-numeric:tabular-nums}.kpi span{color:#5b6675;font-size:12px}
svg text{font:11px system-ui,sans-serif;fill:#4a5564}
`;

/** The page frame: header with the navigation and the signed-in token's name and role. */
export function page(opts: {
  title: string;
  nav?: NavKey;
  who?: { name: string; role: string };
  body: Html;
  refreshSeconds?: number;
}): string {
  const links = NAV.map(
    ([key, href, label]) => html`<a href="${href}" class="${key === opts.nav ? 'on' : ''}">${label}</a>`,
  );
  const head = opts.who
    ? html`<nav>${links}</nav>
        <span class="who"
          >${opts.who.name} (${opts.who.role})
          <form method="post" action="/dashboard/logout"><button type="submit">Sign out</button></form></span
        >`
    : html``;
  return html`<!doctype html>
    <html lang="en">
      <head>
        <meta charset="utf-8" />
        <meta name="viewport" content="width=device-width, initial-scale=1" />
        ${opts.refreshSeconds ? html`<meta http-equiv="refresh" content="${opts.refreshSeconds}" />` : ''}
        <title>${opts.title} · Herald</title>
        <style>
          ${new Html(CSS)}
        </style>
      </head>
      <body>
        <header><b>Herald</b>${head}</header>
        <main>${opts.body}</main>
      </body>
    </html>`.text;
}

/** A table; `numeric` columns are right-aligned. */
export function table(
  headers: readonly string[],
  rows: ReadonlyArray<readonly unknown[]>,
  opts: { numeric?: readonly number[]; empty?: string; id?: string } = {},
): Html {
  if (rows.length === 0) return html`<p class="note">${opts.empty ?? 'Nothing yet.'}</p>`;
  const num = new Set(opts.numeric ?? []);
  return html`<table id="${opts.id ?? ''}">
    <thead>
      <tr>
        ${headers.map((h) => html`<th>${h}</th>`)}
      </tr>
    </thead>
    <tbody>
      ${rows.map(
        (r) =>
          html`<tr>
            ${r.map((c, i) => html`<td class="${num.has(i) ? 'n' : ''}">${c}</td>`)}
          </tr>`,
      )}
    </tbody>
  </table>`;
}

export function fmt(n: number | undefined, digits = 0): string {
  if (n === undefined || !Number.isFinite(n)) return '–';
  return n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });
}

/** `1 job`, `3 jobs`, `2 pushes`. */
export function count(n: number, word: string): string {
  return `${fmt(n)} ${word}${n === 1 ? '' : /(s|sh|ch|x)$/.test(word) ? 'es' : 's'}`;
}

export function pct(num: number, den: number): string {
  return den > 0 ? `${fmt((100 * num) / den, 1)}%` : '–';
}

export function when(ms: number | undefined): string {
  if (ms === undefined || !Number.isFinite(ms)) return '–';
  return new Date(ms).toISOString().replace('T', ' ').slice(0, 19);
}

/** Distinct colours for series, picked by position (strategies come from data, in name order). */
const PALETTE = ['#2a6fdb', '#e07b39', '#2e9e5b', '#9b4fc4', '#c0392b', '#1a9aa0', '#8a6d1f', '#d6489b'];
export const colour = (i: number) => PALETTE[i % PALETTE.length]!;

export interface LineSeries {
  name: string;
  points: ReadonlyArray<readonly [number, number]>;
}

/** A line chart of series over time (x: epoch ms), with its y range, its time range and a legend. */
export function lineChart(
  title: string,
  series: readonly LineSeries[],
  opts: { width?: number; height?: number; percent?: boolean } = {},
): Html {
  const W = opts.width ?? 540;
  const H = opts.height ?? 190;
  const pad = { l: 46, r: 10, t: 24, b: 34 };
  const all = series.flatMap((s) => s.points);
  if (all.length === 0) {
    return html`<figure class="card">
      <figcaption><b>${title}</b></figcaption>
      <p class="note">No samples yet.</p>
    </figure>`;
  }
  const xs = all.map((p) => p[0]);
  const ys = all.map((p) => p[1]);
  const x0 = Math.min(...xs);
  const x1 = Math.max(...xs, x0 + 1);
  const y1 = Math.max(...ys, opts.percent ? 0.01 : 1);
  const sx = (x: number) => pad.l + ((x - x0) / (x1 - x0)) * (W - pad.l - pad.r);
  const sy = (y: number) => H - pad.b - (y / y1) * (H - pad.t - pad.b);
  const yText = (y: number) => (opts.percent ? `${fmt(100 * y, 1)}%` : fmt(y));
  const lines = series.map((s, i) => {
    const d = s.points.map((p) => `${sx(p[0]).toFixed(1)},${sy(p[1]).toFixed(1)}`).join(' ');
    const last = s.points[s.points.length - 1];
    return html`<polyline fill="none" stroke="${colour(i)}" stroke-width="2" points="${d}"
        ><title>${s.name}</title></polyline
      >${
        last
          ? html`<circle
              cx="${sx(last[0]).toFixed(1)}"
              cy="${sy(last[1]).toFixed(1)}"
              r="3"
              fill="${colour(i)}"
            />`
          : ''
      }`;
  });
  const legend = series.map(
    (s, i) =>
      html`<tspan fill="${colour(i)}">■ </tspan
        ><tspan>${s.name}${i < series.length - 1 ? '   ' : ''}</tspan>`,
  );
  const hhmm = (ms: number) => new Date(ms).toISOString().slice(11, 16);
  return html`<figure class="card" data-chart="${title}">
    <svg viewBox="0 0 ${W} ${H}" width="${W}" height="${H}" role="img" aria-label="${title}">
      <text x="${pad.l}" y="14" font-weight="600">${title}</text>
      <text x="${W - pad.r}" y="14" text-anchor="end">${legend}</text>
      <line x1="${pad.l}" y1="${H - pad.b}" x2="${W - pad.r}" y2="${H - pad.b}" stroke="#c3cad3" />
      <line x1="${pad.l}" y1="${pad.t}" x2="${pad.l}" y2="${H - pad.b}" stroke="#c3cad3" />
      <line x1="${pad.l}" y1="${pad.t}" x2="${W - pad.r}" y2="${pad.t}" stroke="#eef0f3" />
      <text x="${pad.l - 4}" y="${pad.t + 4}" text-anchor="end">${yText(y1)}</text>
      <text x="${pad.l - 4}" y="${H - pad.b}" text-anchor="end">0</text>
      <text x="${pad.l}" y="${H - pad.b + 14}">${hhmm(x0)}</text>
      <text x="${W - pad.r}" y="${H - pad.b + 14}" text-anchor="end">${hhmm(x1)} UTC (Herald clock)</text>
      ${lines}
    </svg>
  </figure>`;
}

/** Horizontal bars, largest first. */
export function barChart(title: string, items: ReadonlyArray<{ label: string; value: number }>): Html {
  if (items.length === 0) {
    return html`<figure class="card">
      <figcaption><b>${title}</b></figcaption>
      <p class="note">None yet.</p>
    </figure>`;
  }
  const sorted = [...items].sort((a, b) => b.value - a.value);
  const W = 540;
  const row = 22;
  const H = 26 + sorted.length * row;
  const labelW = 170;
  const max = Math.max(...sorted.map((i) => i.value), 1);
  const bars = sorted.map((it, i) => {
    const y = 24 + i * row;
    const w = Math.max(1, (it.value / max) * (W - labelW - 60));
    return html`<text x="${labelW - 6}" y="${y + 13}" text-anchor="end">${it.label}</text>
      <rect
        x="${labelW}"
        y="${y + 2}"
        width="${w.toFixed(1)}"
        height="${row - 6}"
        fill="${colour(0)}"
        rx="2"
      />
      <text x="${(labelW + w + 6).toFixed(1)}" y="${y + 13}">${fmt(it.value)}</text>`;
  });
  return html`<figure class="card" data-chart="${title}">
    <svg viewBox="0 0 ${W} ${H}" width="${W}" height="${H}" role="img" aria-label="${title}">
      <text x="0" y="14" font-weight="600">${title}</text>
      ${bars}
    </svg>
  </figure>`;
}
