/**
 * Dead letters, read from the dead-letter topic: listed by reason, source topic and time, shown one by one
 * with their original bytes, and re-driven to their source topic once the cause is fixed (the consumer's
 * code, or the event itself: a re-drive may carry a corrected event for one letter).
 *
 * A re-drive checks each letter against its topic's contract as ingest will (the same parseEvent), sends
 * only those that pass, and marks each letter re-driven after Kafka has it. A crash between the two sends it
 * again at the next re-drive; ingest folds every event once by its eventId, so that costs nothing.
 */
import type { Admin, Kafka, KafkaMessage, Producer } from 'kafkajs';
import type { Redis } from 'ioredis';
import type { Clock } from '../../shared/clock';
import { TTL, type StateKeys } from '../../shared/keys';
import { readRange, wholeTopic, type PartitionRanges } from '../../shared/kafka/read-range';
import { DeadLetterV1, type DeadLetter } from '../../shared/schemas/events.schema';
import { TOPICS, topicName, type TopicKey } from '../../shared/topics';
import { parseEvent } from '../../shared/validate';
import type {
  DeadLetterDetail,
  DeadLetterFilter,
  DeadLetterView,
  Page,
  RedriveReport,
  RedriveRequest,
} from './api';
import { OpsError } from './errors';

/** Newest letters read per partition when listing: the list is for people, not for bulk export. */
export const LIST_WINDOW = 20_000;

export interface DeadLetterDeps {
  kafka: Kafka;
  admin: Admin;
  producer: () => Promise<Producer>;
  redis: Redis;
  keys: StateKeys;
  topicPrefix: string;
  clock: Clock;
  maxBatch: number;
}

interface Letter {
  view: DeadLetterView;
  letter: DeadLetter | null;
}

const letterId = (partition: number, offset: string) => `${partition}:${offset}`;

function parseLetterId(id: string): { partition: number; offset: bigint } {
  const m = /^(\d+):(\d+)$/.exec(id);
  if (!m) throw new OpsError(400, `dead letter id ${JSON.stringify(id)} is not <partition>:<offset>`);
  return { partition: Number(m[1]), offset: BigInt(m[2]!) };
}

/** The logical topic of a full topic name under this prefix (e.g. herald.purchases -> purchases). */
export function logicalTopic(prefix: string, full: string): TopicKey | undefined {
  return (Object.keys(TOPICS) as TopicKey[]).find((k) => topicName(prefix, k) === full);
}

function toLetter(partition: number, m: KafkaMessage, redriven: Map<string, number>): Letter {
  const id = letterId(partition, m.offset);
  let letter: DeadLetter | null = null;
  try {
    const parsed = DeadLetterV1.safeParse(JSON.parse(m.value?.toString('utf8') ?? 'null'));
    if (parsed.success) letter = parsed.data;
  } catch {
    letter = null;
  }
  const at = redriven.get(id);
  return {
    letter,
    view: {
      id,
      reason: letter?.reason ?? 'unreadable dead letter',
      at: letter?.at ?? new Date(Number(m.timestamp)).toISOString(),
      worker: letter?.worker ?? '?',
      source: letter?.source ?? { topic: '?', partition: -1, offset: '-1' },
      ...(at !== undefined ? { redrivenAt: at } : {}),
    },
  };
}

/** Pure: whether a letter matches the filter. */
export function letterMatches(prefix: string, f: DeadLetterFilter, v: DeadLetterView): boolean {
  if (f.reason && !v.reason.toLowerCase().includes(f.reason.toLowerCase())) return false;
  if (f.topic && v.source.topic !== f.topic && logicalTopic(prefix, v.source.topic) !== f.topic) return false;
  const at = Date.parse(v.at);
  if (f.from !== undefined && at < f.from) return false;
  if (f.to !== undefined && at > f.to) return false;
  return true;
}

export function createDeadLetterOps(d: DeadLetterDeps) {
  const topic = topicName(d.topicPrefix, 'deadLetters');

  async function redrivenMarks(): Promise<Map<string, number>> {
    const all = await d.redis.hgetall(d.keys.redriven);
    return new Map(Object.entries(all).map(([k, v]) => [k, Number(v)]));
  }

  async function read(ranges: PartitionRanges): Promise<Letter[]> {
    const marks = await redrivenMarks();
    const out: Letter[] = [];
    await readRange(d.kafka, topic, ranges, (partition, messages) => {
      for (const m of messages) out.push(toLetter(partition, m, marks));
    });
    return out;
  }

  /** Matching letters, newest first, from the newest LIST_WINDOW of each partition. */
  async function matching(filter: DeadLetterFilter): Promise<Letter[]> {
    const ranges = await wholeTopic(d.admin, topic);
    for (const r of ranges.values()) {
      if (r.end - r.start > BigInt(LIST_WINDOW)) r.start = r.end - BigInt(LIST_WINDOW);
    }
    const letters = await read(ranges);
    return letters
      .filter((l) => letterMatches(d.topicPrefix, filter, l.view))
      .sort((a, b) => b.view.at.localeCompare(a.view.at) || b.view.id.localeCompare(a.view.id));
  }

  async function byIds(ids: readonly string[]): Promise<Letter[]> {
    const wanted = ids.map(parseLetterId);
    const found: Letter[] = [];
    // One read per letter: each is a range of one offset, so nothing else is read.
    for (const w of wanted) {
      const letters = await read(new Map([[w.partition, { start: w.offset, end: w.offset + 1n }]]));
      const hit = letters.find((l) => l.view.id === letterId(w.partition, w.offset.toString()));
      if (!hit) throw new OpsError(404, `dead letter ${w.partition}:${w.offset} does not exist on ${topic}`);
      found.push(hit);
    }
    return found;
  }

  return {
    async list(
      filter: DeadLetterFilter,
      page: { cursor?: string; limit: number },
    ): Promise<Page<DeadLetterView>> {
      const start = page.cursor ? Number(page.cursor) : 0;
      if (!Number.isInteger(start) || start < 0) {
        throw new OpsError(400, `cursor ${JSON.stringify(page.cursor)} is not one this API gave`);
      }
      const all = await matching(filter);
      const items = all.slice(start, start + page.limit).map((l) => l.view);
      return { items, ...(start + page.limit < all.length ? { next: String(start + page.limit) } : {}) };
    },

    async get(id: string): Promise<DeadLetterDetail | undefined> {
      const [hit] = await byIds([id]).catch((err: unknown) => {
        if (err instanceof OpsError && err.status === 404) return [];
        throw err;
      });
      if (!hit) return undefined;
      const bytes = hit.letter?.value ? Buffer.from(hit.letter.value, 'base64') : null;
      return {
        ...hit.view,
        key: hit.letter?.key ? Buffer.from(hit.letter.key, 'base64').toString('utf8') : null,
        value: bytes ? bytes.toString('utf8') : null,
        valueBase64: hit.letter?.value ?? null,
      };
    },

    async redrive(req: RedriveRequest): Promise<RedriveReport> {
      const dryRun = req.dryRun !== false;
      if (!req.ids?.length && !req.filter && !req.fix) {
        throw new OpsError(400, 'redrive: give ids, a filter, or a fix');
      }
      const ids = [...new Set([...(req.ids ?? []), ...(req.fix ? [req.fix.id] : [])])];
      const selected = req.filter ? await matching(req.filter) : await byIds(ids);
      if (selected.length > d.maxBatch && !req.override) {
        throw new OpsError(
          413,
          `redrive: ${selected.length} letters selected, more than OPS_MAX_REPLAY=${d.maxBatch}; narrow the filter or pass override`,
        );
      }
      const now = d.clock.now();
      const report: RedriveReport = {
        dryRun,
        selected: selected.length,
        valid: 0,
        invalid: [],
        alreadyRedriven: 0,
        redriven: 0,
        byTopic: {},
      };
      const toSend: Array<{ id: string; topic: string; key: Buffer | null; value: Buffer }> = [];
      for (const l of selected) {
        if (l.view.redrivenAt !== undefined) {
          report.alreadyRedriven++;
          continue;
        }
        const source = l.letter ? logicalTopic(d.topicPrefix, l.letter.source.topic) : undefined;
        if (!l.letter || !source) {
          report.invalid.push({
            id: l.view.id,
            reason: `source topic ${l.view.source.topic} is not one of this prefix`,
          });
          continue;
        }
        const fixed = req.fix?.id === l.view.id;
        const value = fixed
          ? Buffer.from(JSON.stringify(req.fix!.value))
          : l.letter.value
            ? Buffer.from(l.letter.value, 'base64')
            : null;
        const parsed = parseEvent(source, value, now);
        if (!parsed.ok || !value) {
          if (report.invalid.length < 100) {
            report.invalid.push({ id: l.view.id, reason: parsed.ok ? 'empty message' : parsed.reason });
          }
          continue;
        }
        report.valid++;
        report.byTopic[source] = (report.byTopic[source] ?? 0) + 1;
        toSend.push({
          id: l.view.id,
          topic: l.letter.source.topic,
          key: l.letter.key ? Buffer.from(l.letter.key, 'base64') : null,
          value,
        });
      }
      if (dryRun || toSend.length === 0) return report;
      const producer = await d.producer();
      for (const s of toSend) {
        await producer.send({
          topic: s.topic,
          acks: -1,
          messages: [{ key: s.key, value: s.value, headers: { 'herald-redrive': s.id } }],
        });
        await d.redis
          .multi()
          .hset(d.keys.redriven, s.id, String(now))
          .pexpire(d.keys.redriven, TTL.redriven)
          .exec();
        report.redriven++;
      }
      return report;
    },
  };
}

export type DeadLetterOps = ReturnType<typeof createDeadLetterOps>;
