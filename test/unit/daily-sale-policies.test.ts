import {
  createDailySale,
  dailySaleCandidates,
  mostBoughtCategory,
  saleAffinity,
} from '../../services/strategies/daily-sale/daily-sale.strategy';
import { rankScore } from '../../services/ranking/heuristic';
import { scoreGroup } from '../../services/pipeline/score';
import type { UserState } from '../../services/state';

const strategy = createDailySale({ policy: 'personal', maxCandidates: 20 });

const sale = (saleId: string, category: string, clicks: number, discount = 10) => ({
  saleId,
  title: saleId,
  category,
  discount,
  clicks,
  validFrom: 0,
  validTo: 9e12,
  deepLink: `https://x/${saleId}`,
});
const sales = [
  sale('shoes-a', 'shoes', 50),
  sale('shoes-b', 'shoes', 5),
  sale('books-a', 'books', 20),
  sale('wine-a', 'wine', 1),
];
const user = (userId: string, categories: Record<string, number>): UserState => ({
  userId,
  timeZone: 'UTC',
  locale: 'en',
  optIn: true,
  devices: [],
  categories,
});

describe('daily-sale policies', () => {
  it('baseline offers the most-clicked sale alone', () => {
    expect(dailySaleCandidates(sales, 'baseline', 20).map((c) => c.id)).toEqual(['shoes-a']);
  });

  it("segments give each dominant category its most-clicked sale and everyone else the day's top sale", () => {
    const candidates = dailySaleCandidates(sales, 'segments', 20);
    expect(candidates.map((c) => [c.id, c.segment])).toEqual([
      ['shoes-a', 'shoes'],
      ['books-a', 'books'],
      ['wine-a', 'wine'],
      ['shoes-a', '*'],
    ]);
    const group = {
      strategy: 'daily-sale',
      targetId: 'ds',
      at: 0,
      candidates,
      userIds: ['reader', 'drinker', 'cook', 'new'],
    };
    const users = new Map([
      ['reader', user('reader', { books: 3, shoes: 1 })],
      ['drinker', user('drinker', { wine: 2 })],
      ['cook', user('cook', { groceries: 4 })],
      ['new', user('new', {})],
    ]);
    const picks = scoreGroup(group, users, strategy, rankScore);
    const got = Object.fromEntries(
      picks.flatMap((p) => p.userIds.map((u) => [u, `${p.candidate.id}/${p.candidate.segment}`])),
    );
    expect(got).toEqual({
      reader: 'books-a/books',
      drinker: 'wine-a/wine',
      cook: 'shoes-a/*',
      new: 'shoes-a/*',
    });
  });

  it("personal picks each user's best among the top sales by their purchase mix", () => {
    const candidates = dailySaleCandidates(sales, 'personal', 3);
    expect(candidates.map((c) => c.id)).toEqual(['shoes-a', 'books-a', 'shoes-b']);
    const users = new Map([
      ['reader', user('reader', { books: 3, shoes: 1 })],
      ['runner', user('runner', { shoes: 1 })],
    ]);
    const picks = scoreGroup(
      { strategy: 'daily-sale', targetId: 'ds', at: 0, candidates, userIds: ['reader', 'runner'] },
      users,
      strategy,
      rankScore,
    );
    expect(Object.fromEntries(picks.flatMap((p) => p.userIds.map((u) => [u, p.candidate.id])))).toEqual({
      reader: 'books-a',
      runner: 'shoes-a',
    });
  });

  it('affinity is the share of purchases in the category, and the dominant category is the most bought', () => {
    const u = user('u', { books: 3, shoes: 1 });
    expect(
      saleAffinity({ id: 's', kind: 'sale', category: 'books', title: 't', discount: 0, affinity: 0 }, u),
    ).toBe(0.75);
    expect(mostBoughtCategory(u.categories)).toBe('books');
    expect(mostBoughtCategory({})).toBeUndefined();
  });
});
