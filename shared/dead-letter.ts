/**
 * The dead-letter producer: an event that fails its contract is quarantined with the reason, where it came
 * from and its original bytes, never dropped and never fatal (DESIGN rule 6).
 */
import type { Producer } from 'kafkajs';
import type { Clock } from './clock';
import type { DeadLetter } from './schemas/events.schema';
import { topicName } from './topics';

export interface Refused {
  reason: string;
  topic: string;
  partition: number;
  offset: string;
  key: Buffer | null;
  value: Buffer | null;
}

export interface DeadLetters {
  send(refused: readonly Refused[]): Promise<void>;
}

export function createDeadLetters(
  producer: Producer,
  topicPrefix: string,
  worker: string,
  clock: Clock,
): DeadLetters {
  const topic = topicName(topicPrefix, 'deadLetters');
  return {
    async send(refused) {
      if (refused.length === 0) return;
      const at = new Date(clock.now()).toISOString();
      await producer.send({
        topic,
        acks: -1,
        messages: refused.map((r) => {
          const letter: DeadLetter = {
            v: 1,
            reason: r.reason,
            source: { topic: r.topic, partition: r.partition, offset: r.offset },
            key: r.key ? r.key.toString('base64') : null,
            value: r.value ? r.value.toString('base64') : null,
            worker,
            at,
          };
          return { key: `${r.topic}-${r.partition}-${r.offset}`, value: JSON.stringify(letter) };
        }),
      });
    },
  };
}
