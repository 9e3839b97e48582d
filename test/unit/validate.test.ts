import { parseEvent } from '../../shared/validate';

const now = Date.parse('2026-11-22T12:00:00Z');
const purchase = {
  v: 1,
  eventId: 'e1',
  userId: 'u1',
  storeId: 's1',
  category: 'groceries',
  amount: 12.5,
  at: '2026-11-22T11:59:00Z',
};
const bytes = (o: unknown) => Buffer.from(typeof o === 'string' ? o : JSON.stringify(o));

describe('parseEvent', () => {
  it('accepts a valid purchase and fills defaults', () => {
    const r = parseEvent('purchases', bytes(purchase), now);
    expect(r).toEqual({ ok: true, event: { ...purchase, currency: 'USD' } });
  });

  it('accepts a v2 purchase with its line items beside v1', () => {
    const items = [{ productId: 'p1', quantity: 2, unitPrice: 3.5 }];
    const r = parseEvent('purchases', bytes({ ...purchase, v: 2, items }), now);
    expect(r).toEqual({ ok: true, event: { ...purchase, v: 2, items, currency: 'USD' } });
  });

  it.each([
    ['bad JSON', '{"v":1,', /^invalid JSON/],
    ['unknown version', { ...purchase, v: 3 }, /^unknown version v=3 \(known: 1, 2\)/],
    ['a v2 purchase without line items', { ...purchase, v: 2 }, /^items: /],
    ['a missing field', { ...purchase, userId: undefined }, /^userId: /],
    ['a negative amount', { ...purchase, amount: -3 }, /^amount: /],
    ['a time far in the future', { ...purchase, at: '2027-01-01T00:00:00Z' }, /^at: .* is in the future/],
    ['a ":" in an id', { ...purchase, userId: 'u:1' }, /^userId: /],
    ['an array', [purchase], /^not a JSON object/],
  ])('refuses %s with a reason that says where', (_, input, reason) => {
    const r = parseEvent('purchases', bytes(input), now);
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.reason).toMatch(reason);
  });

  it('refuses a profile with a time zone that is not IANA', () => {
    const profile = {
      v: 1,
      eventId: 'p',
      userId: 'u',
      timeZone: 'Mars/Olympus',
      locale: 'en',
      pushOptIn: true,
      devices: [],
      at: purchase.at,
    };
    const r = parseEvent('profiles', bytes(profile), now);
    expect(r.ok ? '' : r.reason).toMatch(/^timeZone: not an IANA time zone/);
  });
});
