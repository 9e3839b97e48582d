/**
 * Feedback: folds deliveries, opens, clicks and conversions into counters, each event once, and teaches
 * the engagement-time model when the user acted: an open or a click at its own local hour (not the hour it
 * was sent).
 */
import type { Feedback } from '../../shared/schemas/events.schema';
import { metrics } from '../../shared/metrics';
import type { State, Tracer } from '../state';
import {
  DEFAULT_ENGAGEMENT,
  activityEvidence,
  type Activity,
  type EvidenceWeights,
} from '../timing/engagement';

export async function foldFeedback(
  state: Pick<State, 'telemetry' | 'users' | 'timing'>,
  events: readonly Feedback[],
  weights: EvidenceWeights = DEFAULT_ENGAGEMENT.weights,
  trace?: Pick<Tracer, 'record'>,
  fold?: Parameters<State['telemetry']['foldFeedback']>[1],
): Promise<void> {
  const fresh = await state.telemetry.foldFeedback(events, fold);
  events.forEach((e, i) => {
    if (fresh[i]) metrics.feedback.inc({ strategy: e.strategy, type: e.type });
  });
  // Feedback is rare next to decisions (a few opens per hundred pushes): every user's is traced.
  await trace?.record(
    events.flatMap((e, i) =>
      fresh[i]
        ? [
            {
              userId: e.userId,
              entry: {
                stage: 'feedback' as const,
                what: e.type,
                strategy: e.strategy,
                detail: { pushId: e.pushId, happenedAt: e.at },
              },
            },
          ]
        : [],
    ),
  );
  const activities: Activity[] = events.flatMap((e, i) =>
    fresh[i] && (e.type === 'opened' || e.type === 'clicked')
      ? [{ userId: e.userId, at: Date.parse(e.at), kind: e.type }]
      : [],
  );
  if (activities.length === 0) return;
  const zones = await state.users.timeZones(activities.map((a) => a.userId));
  await state.timing.record(activityEvidence(activities, zones, weights));
}
