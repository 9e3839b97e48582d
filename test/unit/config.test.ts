import { acceleratedClock, systemClock, ttlMs } from '../../shared/clock';
import { loadConfig } from '../../shared/config';
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
    expect(() => loadConfig({ DAILY_SALE_TZ: 'Nowhere/City' })).toThrow(/DAILY_SALE_TZ="Nowhere\/City"/);
    expect(() => loadConfig({ KAFKA_BROKERS: 'localhost' })).toThrow(/KAFKA_BROKERS/);
  });
});

describe('ttlMs', () => {
  it('turns a clock-time window into wall-clock milliseconds for Redis', () => {
    expect(ttlMs(systemClock, 20 * 3_600_000)).toBe(72_000_000);
    expect(ttlMs(acceleratedClock(0, 1000, 0), 20 * 3_600_000)).toBe(72_000);
  });
});
