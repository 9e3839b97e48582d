/** The benchmark's Kafka: its own topics per part (created with ensureTopics, deleted at the end). */
import type { Admin } from 'kafkajs';
import { createAdmin, ensureTopics } from '../../shared/kafka/admin';
import { allTopicNames } from '../../shared/topics';

export class BenchKafka {
  private readonly created = new Set<string>();
  readonly admin: Admin;
  constructor(readonly brokers: string[]) {
    this.admin = createAdmin(brokers, 'herald-bench-admin', { retries: 2 });
  }

  async connect(): Promise<void> {
    try {
      await this.admin.connect();
      await this.admin.listTopics();
    } catch (err) {
      throw new Error(
        `bench: Kafka at ${this.brokers.join(',')} does not answer (${err instanceof Error ? err.message : String(err)}); ` +
          'start it with `node dist/infra/stack.js up`',
        { cause: err },
      );
    }
  }

  /** Herald's topic registry under `prefix`, plus `extra` names. */
  async topics(prefix: string, partitions: number, extra: readonly string[] = []): Promise<void> {
    const names = [...allTopicNames(prefix), ...extra];
    await ensureTopics(this.admin, names, partitions);
    for (const n of names) this.created.add(n);
  }

  /** Sum over partitions of the offsets committed by `groupId` on `topics`. */
  async committed(groupId: string, topics: readonly string[]): Promise<number> {
    const res = await this.admin.fetchOffsets({ groupId, topics: [...topics] });
    let n = 0;
    for (const t of res) for (const p of t.partitions) n += Math.max(0, Number(p.offset));
    return n;
  }

  /** Sum over partitions of the high watermarks of `topics`. */
  async ends(topics: readonly string[]): Promise<number> {
    let n = 0;
    for (const t of topics) for (const p of await this.admin.fetchTopicOffsets(t)) n += Number(p.high);
    return n;
  }

  async close(): Promise<void> {
    if (this.created.size > 0) {
      await this.admin.deleteTopics({ topics: [...this.created], timeout: 30_000 }).catch(() => undefined);
    }
    await this.admin.disconnect();
  }
}
