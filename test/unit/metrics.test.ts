/** The metrics contract: names and labels that dashboards and alerts rely on, and bounded label values. */
import { registry, reasonClass } from '../../shared/metrics';

describe('metrics', () => {
  it('pins the names and labels', async () => {
    const pinned = (await registry.getMetricsAsJSON())
      .filter((m) => !m.name.startsWith('herald_process_'))
      .map((m) => m.name)
      .sort();
    expect(pinned).toEqual([
      'herald_consumer_lag',
      'herald_dead_letters_total',
      'herald_drops_total',
      'herald_events_total',
      'herald_feedback_total',
      'herald_pushes_sent_total',
      'herald_stage_duration_seconds',
      'herald_stage_jobs_total',
    ]);
  });

  it('labels a dead letter by the class of its reason, never by the value at fault', () => {
    expect(reasonClass('amount: Too small: expected number to be >0')).toBe('amount');
    expect(reasonClass('location.lat: Too big')).toBe('location.lat');
    expect(reasonClass('invalid JSON: Unexpected end of JSON input')).toBe('invalid JSON');
    expect(reasonClass('unknown version v=2 (known: 1)')).toBe('unknown version');
    expect(reasonClass('at: 2030-01-01T00:00:00.000Z is in the future (now ...)')).toBe('at');
    expect(reasonClass('something odd with user 12345')).toBe('other');
  });
});
