import { acceleratedClock, systemClock, ttlMs } from '../../shared/clock';
import { loadConfig } from '../../shared/config';
import { loadHeraldConfig } from '../../services/config';
import { ConfigError } from '../../shared/errors';

describe('loadConfig', () => {
  it('applies the defaults', () => {
    const c = loadConfig({});
    expect(c.REDIS_URL).toBe('redis://127.0.0.1:6379');
    expect(c.KAFKA_BROKERS).toEqual(['127.0.0.1:19092']);
    expect(c.BATCH_SIZE).toBe(500);
  });

  it('names the bad variable and its value in one line', () => {
    expect(() => loadConfig({ BATCH_SIZE: 'lots' })).toThrow(ConfigError);
    expect(() => loadConfig({ BATCH_SIZE: 'lots' })).toThrow(/^config: BATCH_SIZE="lots" is invalid: /);
    expect(() => loadHeraldConfig({ DAILY_SALE_TZ: 'Nowhere/City' })).toThrow(
      /DAILY_SALE_TZ="Nowhere\/City"/,
    );
    expect(() => loadConfig({ KAFKA_BROKERS: 'localhost' })).toThrow(/KAFKA_BROKERS/);
  });
});

describe('Herald config', () => {
  it('composes every strategy’s own settings with the platform’s, each with its default', () => {
    const c = loadHeraldConfig({});
    expect(c.BATCH_SIZE).toBe(500);
    expect(c.STRATEGIES).toEqual(['market-basket', 'daily-sale', 'online-to-offline', 'product-recs']);
    expect(c.MARKET_BASKET_MAX_STORES).toBe(20);
    expect(c.DAILY_SALE_POLICY).toBe('personal');
    expect(c.PRODUCT_RECS_BLEND).toEqual({ als: 0.4, cf: 0.4, pop: 0.2 });
    expect(c.PRODUCT_RECS_TRAIN_CRON).toBe('');
  });

  it('refuses a strategy that is not registered, naming it', () => {
    expect(() => loadHeraldConfig({ STRATEGIES: 'daily-sale,telepathy' })).toThrow(
      /^config: STRATEGIES="daily-sale,telepathy" is invalid: /,
    );
  });

  it('keeps a sent push id longer than a failed job waits for replay', () => {
    expect(() => loadHeraldConfig({ PUSH_RECORD_DAYS: '3' })).toThrow(/PUSH_RECORD_DAYS="3".*at least 8/);
  });
});

describe('ttlMs', () => {
  it('turns a clock-time window into wall-clock milliseconds for Redis', () => {
    expect(ttlMs(systemClock, 20 * 3_600_000)).toBe(72_000_000);
    expect(ttlMs(acceleratedClock(0, 1000, 0), 20 * 3_600_000)).toBe(72_000);
  });
});
