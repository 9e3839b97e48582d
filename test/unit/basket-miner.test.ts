/**
 * The market-basket miner: counts, lift and the 2nd-purchase variant on a hand-computed example; redelivery
 * and late events; the rankings on rare pairs; the offline command on a small file.
 */
import { affinityTable } from '../../services/affinity/affinity-table';
import { BasketMiner, type BasketCounts } from '../../services/affinity/basket-counts';
import { basketRebuildRound } from '../../services/affinity/basket-miner';
import { buildMinedTable, effectiveAffinity, renderMinedTable } from '../../services/affinity/basket-table';
import { followStat, rankAfter, viewCounts, wilsonLower } from '../../services/affinity/basket-rank';
import { evaluateBasket, purchaseLogFromText, rates } from '../../services/offline/basket';
import { main } from '../../services/offline/offline';
import { createMarketBasket } from '../../services/strategies/market-basket/market-basket.strategy';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const DAY = 86_400_000;
const T0 = Date.parse('2026-03-02T10:00:00Z');

function mine(rows: Array<[user: string, day: number, category: string]>): BasketMiner {
  const m = new BasketMiner();
  rows.forEach(([u, d, c], i) => m.add(u, { eventId: `e${i}`, category: c, at: T0 + d * DAY }));
  return m;
}

const example: Array<[string, number, string]> = [
  ['u1', 0, 'A'],
  ['u1', 1, 'B'],
  ['u1', 20, 'C'], // 19 days after B, 20 after A: outside the 14-day window
  ['u2', 0, 'A'],
  ['u2', 2, 'C'],
  ['u3', 0, 'B'],
  ['u3', 1, 'A'],
];

const plain = (c: BasketCounts) => ({
  n: Object.fromEntries(c.n),
  next: Object.fromEntries(c.next),
  pairs: Object.fromEntries([...c.pairs].map(([a, row]) => [a, Object.fromEntries(row)])),
});

describe('basket counts', () => {
  it('counts episodes, follow-ups and second purchases as computed by hand', () => {
    const m = mine(example);
    expect(plain(m.counts)).toEqual({
      n: { A: 3, B: 2, C: 2 },
      next: { A: 2, B: 1 },
      pairs: { A: { B: 1, C: 1 }, B: { A: 1 } },
    });
  });

  it('gives the lift and the 2nd-purchase lift by hand', () => {
    const v = viewCounts(mine(example).counts);
    expect(v.episodes).toBe(7);
    expect(v.followed).toBe(3);
    const s = followStat(v, 'A', 'B');
    // P(B|A) = 1/3; P(B) = episodes followed by B / episodes = 1/7; lift = 7/3.
    expect(s.pBA).toBeCloseTo(1 / 3);
    expect(s.pB).toBeCloseTo(1 / 7);
    expect(s.lift).toBeCloseTo(7 / 3);
    // Among episodes followed by anything: P(B|A, 2nd) = 1/2, P(B | 2nd) = 1/3; lift2 = 1.5.
    expect(s.lift2).toBeCloseTo(1.5);
  });

  it('counts a redelivered purchase once', () => {
    const m = mine(example);
    const before = JSON.stringify(plain(m.counts));
    // u1 has bought since, 19 days later: too late to pair with anything held, so refused as late.
    expect(m.add('u1', { eventId: 'e1', category: 'B', at: T0 + DAY })).toBe('late');
    expect(m.add('u2', { eventId: 'e3', category: 'A', at: T0 })).toBe('duplicate');
    expect(JSON.stringify(plain(m.counts))).toBe(before);
    expect(m.duplicates).toBe(1);
  });

  it('credits a follow-up that arrives before the purchase it follows, once', () => {
    const m = new BasketMiner();
    m.add('u', { eventId: 'b', category: 'B', at: T0 + DAY });
    m.add('u', { eventId: 'a', category: 'A', at: T0 });
    m.add('u', { eventId: 'b2', category: 'B', at: T0 + 2 * DAY });
    expect(plain(m.counts).pairs).toEqual({ A: { B: 1 } });
    expect(plain(m.counts).next).toEqual({ A: 1 });
  });

  it('refuses a purchase older than the window behind the newest, and counts nothing for it', () => {
    const m = new BasketMiner();
    m.add('u', { eventId: 'x', category: 'A', at: T0 + 30 * DAY });
    expect(m.add('u', { eventId: 'y', category: 'B', at: T0 })).toBe('late');
    expect(plain(m.counts).n).toEqual({ A: 1 });
    expect(m.late).toBe(1);
  });

  it('keeps a bounded history per user', () => {
    const m = new BasketMiner({ windowMs: 14 * DAY, maxHistory: 4 });
    for (let i = 0; i < 10; i++) m.add('u', { eventId: `e${i}`, category: `c${i}`, at: T0 + i * 60_000 });
    // Each purchase follows every one still held (at most 4 earlier ones).
    expect([...m.counts.pairs.values()].reduce((s, r) => s + r.size, 0)).toBe(1 + 2 + 3 + 4 * 6);
  });
});

describe('rankings on rare pairs', () => {
  // 1,000 episodes: A 100 times, of which 40 followed by the popular B and 1 by the rare R; B is followed
  // after 400 episodes in all, R after 1.
  const counts: BasketCounts = {
    n: new Map([
      ['A', 100],
      ['B', 500],
      ['R', 1],
      ['X', 399],
    ]),
    next: new Map([
      ['A', 41],
      ['X', 360],
    ]),
    pairs: new Map([
      [
        'A',
        new Map([
          ['B', 40],
          ['R', 1],
        ]),
      ],
      ['X', new Map([['B', 360]])],
    ]),
  };
  const v = viewCounts(counts);
  const top = (m: Parameters<typeof rankAfter>[1]) => rankAfter(v, m, 'A')[0]!.category;

  it('naive lift puts the rare category first', () => {
    expect(followStat(v, 'A', 'R').lift).toBeCloseTo(10);
    expect(followStat(v, 'A', 'B').lift).toBeCloseTo(1);
    expect(top('naive-lift')).toBe('R');
  });

  it('the smoothed and bounded rankings do not', () => {
    expect(top('bayes')).toBe('B');
    expect(top('p-b-given-a')).toBe('B');
    expect(top('lcb-diff')).toBe('B');
    // Below the minimum support the lower bound gives R nothing.
    expect(rankAfter(v, 'lcb-lift', 'A').find((r) => r.category === 'R')!.score).toBe(0);
  });

  it('the Wilson bound is below the rate and tightens with n', () => {
    expect(wilsonLower(1, 1, 1.96)).toBeLessThan(0.25);
    expect(wilsonLower(50, 100, 1.96)).toBeGreaterThan(0.39);
    expect(wilsonLower(0, 10, 1.96)).toBe(0);
  });
});

describe('offline basket evaluation', () => {
  // A is always followed by B two days later; C by D. 40 users before the split day, 10 after.
  const lines = ['user_id,timestamp,category,extra'];
  for (let u = 0; u < 50; u++) {
    const day = u < 40 ? u % 8 : 20;
    const t = T0 + day * DAY;
    const first = u % 2 === 0 ? ['A', 'B'] : ['C', 'D'];
    lines.push(`u${u},${new Date(t).toISOString()},${first[0]},x`);
    lines.push(`u${u},${(t + 2 * DAY) / 1000},${first[1]},y`);
  }
  lines.push('broken,row');
  lines.push('u1,not-a-time,A,x');
  const text = `${lines.join('\n')}\n`;

  it('scores the rankings and reports malformed rows by line', () => {
    const log = purchaseLogFromText(text);
    expect(log.malformed).toBe(2);
    expect(log.examples.map((e) => e.line)).toEqual([102, 103]);
    const r = evaluateBasket(log, { split: 0.75 });
    expect(r.cases).toBe(20);
    expect(r.scored).toBe(10);
    const rt = rates(r);
    expect(rt['p-b-given-a']!.hit).toBe(1);
    expect(rt.herald!.mrr).toBe(1);
  });

  it('runs as `npm run offline -- basket --json`', async () => {
    const file = join(mkdtempSync(join(tmpdir(), 'basket-')), 'tx.csv');
    writeFileSync(file, text.replace(/category/, 'mcc'));
    let out = '';
    let err = '';
    const io = { out: (s: string) => (out += s), err: (s: string) => (err += s) };
    expect(
      await main(
        ['basket', '--transactions', file, '--item-col', 'mcc', '--json', '--k', '1', '--split', '0.75'],
        io,
      ),
    ).toBe(0);
    const json = JSON.parse(out) as { cases: number; k: number; methods: Record<string, { hit: number }> };
    expect(json.cases).toBe(10);
    expect(json.k).toBe(1);
    expect(Object.keys(json.methods)).toEqual(
      expect.arrayContaining(['popularity', 'p-b-given-a', 'naive-lift', 'bayes', 'bayes+own', 'herald']),
    );
    expect(err).toMatch(/2 malformed rows skipped; first: line 102/);
    expect(await main(['basket', '--transactions', file], io)).toBe(2);
    expect(err).toMatch(/no column "category"/);
  });
});

describe('the mined table and its cold-start seed', () => {
  const seed = affinityTable({
    version: 1,
    categories: ['A', 'B', 'W'],
    follows: { A: [{ category: 'W', affinity: 0.4 }], B: [{ category: 'W', affinity: 0.2 }] },
  });
  const rows: Array<[string, number, string]> = [];
  for (let u = 0; u < 6; u++) rows.push([`u${u}`, 0, 'A'], [`u${u}`, 1, 'B']);
  const table = buildMinedTable(mine(rows).counts, T0, { top: 5 });

  it('ranks follow-ups with their support and figures, leaving out what nobody bought', () => {
    expect(table.rows.A!.n).toBe(6);
    expect(table.rows.A!.follows).toEqual([expect.objectContaining({ category: 'B', support: 6, pBA: 1 })]);
    expect(table.rows.B!.follows).toEqual([]);
    expect(renderMinedTable(table)).toMatch(/A \[6 episodes, 6 followed\]: B \(6, /);
  });

  it('uses a category’s mined row once it has enough episodes, else the seed’s', () => {
    const enough = effectiveAffinity(table, seed, 5);
    expect(enough.following('A').map((f) => f.category)).toEqual(['B']);
    expect(enough.source('A')).toBe('mined');
    // B has episodes but no mined follow-up: it keeps the seed's.
    expect(enough.following('B').map((f) => f.category)).toEqual(['W']);
    const tooFew = effectiveAffinity(table, seed, 7);
    expect(tooFew.following('A')).toEqual([{ category: 'W', affinity: 0.4 }]);
    expect(effectiveAffinity(null, seed, 0).source('A')).toBe('seed');
  });
});

describe('market-basket features', () => {
  const seedTable = affinityTable({ version: 1, categories: ['A', 'B', 'C'], follows: {} });
  const cand = (category: string, affinity: number) => ({
    id: category,
    kind: 'store' as const,
    category,
    title: category,
    discount: 0,
    affinity,
  });
  const user = {
    userId: 'u',
    timeZone: 'UTC',
    locale: 'en',
    optIn: true,
    devices: [],
    categories: { B: 3, C: 1 },
  };

  it('blends the follow-up’s affinity with the user’s own share of the category', () => {
    const s = createMarketBasket({ affinity: seedTable, maxStores: 5, maxAgeMs: 60_000, ownWeight: 0.5 });
    expect(s.usesCategories).toBe(true);
    expect(s.features(cand('B', 0.2), user).affinity).toBeCloseTo(0.5 * 0.2 + 0.5 * 0.75);
    expect(s.features(cand('A', 0.4), user).affinity).toBeCloseTo(0.2);
  });

  it('uses the affinity alone with no weight on the user', () => {
    const s = createMarketBasket({ affinity: seedTable, maxStores: 5, maxAgeMs: 60_000 });
    expect(s.usesCategories).toBe(false);
    expect(s.features(cand('B', 0.2), user).affinity).toBe(0.2);
  });
});

describe('the scheduled rebuild', () => {
  it('rebuilds when the table is missing or older than the period, and not otherwise', async () => {
    let builtAt: number | null = null;
    let version = 0;
    const basket = {
      counts: () => Promise.resolve(mine(example).counts),
      writeTable: (t: { builtAt: number }) => {
        builtAt = t.builtAt;
        return Promise.resolve(++version);
      },
      builtAt: () => Promise.resolve(builtAt),
    };
    let now = T0;
    const round = basketRebuildRound({ basket, now: () => now, periodMs: 3_600_000 });
    expect(await round()).toBe(1);
    expect(version).toBe(1);
    now += 59 * 60_000;
    expect(await round()).toBe(0);
    now += 60_000;
    expect(await round()).toBe(1);
    expect(version).toBe(2);
    expect(await basketRebuildRound({ basket, now: () => now + 1e9, periodMs: 0 })()).toBe(0);
  });
});
