/**
 * The conciliation's decision log read back for offline evaluation: the decisions that sent nothing
 * (push.decisions), the pushes with the decision that chose them (push.sent), and the feedback on those
 * pushes (feedback), from JSONL files or from a namespace's Kafka topics.
 *
 * Every source is at-least-once, so records are deduplicated: decisions by decisionId, pushes by pushId,
 * feedback by eventId. A record that cannot be used (not JSON, fails its schema, or a decision whose
 * probabilities do not fit its arms) is counted under its source and reason, and the first few are kept with
 * where they were; nothing here throws on bad input. Timestamps are not judged: an old log is what offline
 * evaluation is for.
 */
import { createInterface } from 'node:readline';
import type { Kafka } from 'kafkajs';
import { readRange, wholeTopic } from '../../shared/kafka/read-range';
import { DecisionV1, FeedbackV1, PushSentV1, type Decision } from '../../shared/schemas/events.schema';
import { topicName, type TopicKey } from '../../shared/topics';
import type { DecisionOutcome } from '../conciliation/ope';

/** The three streams of the log. */
export const LOG_SOURCES = ['decisions', 'pushes', 'feedback'] as const;
export type LogSource = (typeof LOG_SOURCES)[number];

const TOPIC_OF: Record<LogSource, TopicKey> = {
  decisions: 'decisions',
  pushes: 'pushSent',
  feedback: 'feedback',
};

/** How far a decision's probabilities may sum from 1 before it is refused. */
const SUM_TOLERANCE = 1e-3;

export interface SkippedExample {
  source: LogSource;
  /** `FILE:LINE` or `TOPIC@PARTITION:OFFSET`. */
  where: string;
  reason: string;
}

export interface DecisionLog {
  /** Decisions acted on (holdout left out), sorted by decisionId, with their rewards. */
  outcomes: DecisionOutcome[];
  /** Holdout decisions left out: records, and the decisions they stand for. */
  holdout: { records: number; weighted: number };
  /** Records read per source (duplicates and skipped ones included). */
  read: Record<LogSource, number>;
  duplicates: Record<LogSource, number>;
  /** Pushes that carry no decision (decided by the plain compare-and-set): not evaluated. */
  pushesWithoutDecision: number;
  /** Records skipped, by `source: reason`. */
  skipped: Map<string, number>;
  examples: SkippedExample[];
}

/** A zod path with array indices as `#`, so that reasons count by kind, not by position. */
function issueReason(error: { issues: ReadonlyArray<{ path: PropertyKey[]; message: string }> }): string {
  const i = error.issues[0];
  if (!i) return 'fails its schema';
  const path = i.path.map((p) => (typeof p === 'number' ? '#' : String(p))).join('.');
  return `${path || '(root)'}: ${i.message}`;
}

/** Why a decision's probabilities or choice cannot be evaluated, or null. */
export function decisionProblem(d: Decision): string | null {
  const arms = d.input.arms.length;
  if (d.probs.length !== arms + 1) return 'probs: not one per arm plus none';
  if (d.chosen >= arms) return 'chosen: beyond the arms';
  const sum = d.probs.reduce((s, p) => s + p, 0);
  if (Math.abs(sum - 1) > SUM_TOLERANCE) return 'probs: do not sum to 1';
  if (!(d.probs[d.chosen < 0 ? arms : d.chosen]! > 0)) return 'probs: the action taken has probability 0';
  if (d.outcome === 'sent' && (d.chosen < 0 || d.input.arms[d.chosen]!.anticipated === true))
    return 'outcome sent, but no sendable arm chosen';
  return null;
}

/** Collects records of the three sources, then joins them into outcomes (`build`). */
export class DecisionLogBuilder {
  private readonly decisions = new Map<string, Decision>();
  private readonly pushIds = new Set<string>();
  private readonly feedbackIds = new Set<string>();
  private readonly opened = new Set<string>();
  private readonly clicked = new Set<string>();
  private readonly read: Record<LogSource, number> = { decisions: 0, pushes: 0, feedback: 0 };
  private readonly duplicates: Record<LogSource, number> = { decisions: 0, pushes: 0, feedback: 0 };
  private pushesWithoutDecision = 0;
  private readonly skipped = new Map<string, number>();
  private readonly examples: SkippedExample[] = [];

  /** @param keepExamples how many skipped records are kept with where they were. Default 5. */
  constructor(private readonly keepExamples = 5) {}

  /** One record's text (a JSONL line, a message's value). */
  add(source: LogSource, text: string, where: string): void {
    this.read[source]++;
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      return this.skip(source, where, 'invalid JSON');
    }
    if (source === 'decisions') {
      const d = DecisionV1.safeParse(json);
      if (!d.success) return this.skip(source, where, issueReason(d.error));
      return this.addDecision(d.data, source, where);
    }
    if (source === 'pushes') {
      const p = PushSentV1.safeParse(json);
      if (!p.success) return this.skip(source, where, issueReason(p.error));
      if (!this.firstSeen(this.pushIds, p.data.pushId, source)) return;
      const d = p.data.decision;
      if (!d) {
        this.pushesWithoutDecision++;
        return;
      }
      if (d.outcome !== 'sent') return this.skip(source, where, `decision: outcome ${d.outcome} on a push`);
      if (d.input.arms[d.chosen]?.pushId !== p.data.pushId)
        return this.skip(source, where, "decision: the chosen arm's pushId is not the push's");
      return this.addDecision(d, source, where);
    }
    const f = FeedbackV1.safeParse(json);
    if (!f.success) return this.skip(source, where, issueReason(f.error));
    if (!this.firstSeen(this.feedbackIds, f.data.eventId, source)) return;
    if (f.data.type === 'opened') this.opened.add(f.data.pushId);
    else if (f.data.type === 'clicked') this.clicked.add(f.data.pushId);
  }

  private addDecision(d: Decision, source: LogSource, where: string): void {
    const problem = decisionProblem(d);
    if (problem) return this.skip(source, where, problem);
    if (this.decisions.has(d.decisionId)) {
      this.duplicates[source]++;
      return;
    }
    this.decisions.set(d.decisionId, d);
  }

  /** Whether `id` is new to `seen` (it is now in it); a repeat is a duplicate of `source`. */
  private firstSeen(seen: Set<string>, id: string, source: LogSource): boolean {
    if (seen.has(id)) {
      this.duplicates[source]++;
      return false;
    }
    seen.add(id);
    return true;
  }

  private skip(source: LogSource, where: string, reason: string): void {
    const key = `${source}: ${reason}`;
    this.skipped.set(key, (this.skipped.get(key) ?? 0) + 1);
    if (this.examples.length < this.keepExamples) this.examples.push({ source, where, reason });
  }

  /**
   * Every decision acted on with its rewards: a push when it sent; opened and clicked when the push's
   * feedback says so. Holdout decisions (the policy chose, a control user got nothing) are counted apart.
   */
  build(): DecisionLog {
    const outcomes: DecisionOutcome[] = [];
    const holdout = { records: 0, weighted: 0 };
    const ids = [...this.decisions.keys()].sort();
    for (const id of ids) {
      const d = this.decisions.get(id)!;
      if (d.outcome === 'holdout') {
        holdout.records++;
        holdout.weighted += d.weight;
        continue;
      }
      const pushId = d.outcome === 'sent' ? d.input.arms[d.chosen]!.pushId : undefined;
      outcomes.push({
        decision: d,
        rewards: {
          pushes: pushId === undefined ? 0 : 1,
          opens: pushId !== undefined && this.opened.has(pushId) ? 1 : 0,
          clicks: pushId !== undefined && this.clicked.has(pushId) ? 1 : 0,
        },
      });
    }
    return {
      outcomes,
      holdout,
      read: { ...this.read },
      duplicates: { ...this.duplicates },
      pushesWithoutDecision: this.pushesWithoutDecision,
      skipped: new Map(this.skipped),
      examples: [...this.examples],
    };
  }
}

/** How often progress is reported, in records. */
export const PROGRESS_EVERY = 100_000;

/** Feeds every non-blank line of a JSONL stream to `log` as `source`; resolves to the lines read. */
export async function readJsonl(
  input: NodeJS.ReadableStream,
  name: string,
  source: LogSource,
  log: DecisionLogBuilder,
  progress?: (lines: number) => void,
): Promise<number> {
  const lines = createInterface({ input, crlfDelay: Infinity });
  let n = 0;
  for await (const line of lines) {
    n++;
    if (line.trim() !== '') log.add(source, line, `${name}:${n}`);
    if (progress && n % PROGRESS_EVERY === 0) progress(n);
  }
  return n;
}

/** The namespace lacks one of the log's topics. */
export class MissingTopicError extends Error {
  override name = 'MissingTopicError';
}

/**
 * Feeds the three topics of a namespace (`<prefix>push.decisions`, `<prefix>push.sent`, `<prefix>feedback`)
 * from their first to their last message as of now to `log`, with a throwaway consumer group each.
 */
export async function readNamespace(
  kafka: Kafka,
  prefix: string,
  log: DecisionLogBuilder,
  progress?: (topic: string, read: number, total: number) => void,
): Promise<void> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    const existing = new Set(await admin.listTopics());
    const topics = LOG_SOURCES.map((s) => ({ source: s, topic: topicName(prefix, TOPIC_OF[s]) }));
    const missing = topics.filter((t) => !existing.has(t.topic)).map((t) => t.topic);
    if (missing.length > 0) throw new MissingTopicError(`no topic ${missing.join(', ')} on the brokers`);
    for (const { source, topic } of topics) {
      const ranges = await wholeTopic(admin, topic);
      let total = 0;
      for (const r of ranges.values()) total += Number(r.end - r.start);
      let n = 0;
      // A tool's read of a big topic takes as long as it takes: about 10 s per million messages, plus slack.
      await readRange(
        kafka,
        topic,
        ranges,
        (partition, messages) => {
          for (const m of messages) {
            log.add(source, m.value?.toString('utf8') ?? '', `${topic}@${partition}:${m.offset}`);
            n++;
            if (progress && n % PROGRESS_EVERY === 0) progress(topic, n, total);
          }
        },
        { timeoutMs: 60_000 + total / 50 },
      );
    }
  } finally {
    await admin.disconnect();
  }
}
