/**
 * Push sinks: where a push leaves Herald. The file sink is the development provider: one JSON line per
 * push. Like FCM or APNs it keeps no memory of what it delivered; exactly-once is the contact ledger's job
 * (services/state/delivery.store.ts), so what this file shows is what a real provider would have been asked
 * to send.
 */
import { mkdirSync } from 'node:fs';
import { appendFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { PushSent } from '../../shared/schemas/events.schema';

export interface PushSink {
  /** Delivers the pushes; resolves once the provider has accepted them all, throws otherwise. */
  deliver(pushes: readonly PushSent[]): Promise<void>;
}

export function openFileSink(path: string, opts: { console?: boolean } = {}): PushSink {
  mkdirSync(dirname(path), { recursive: true });
  return {
    async deliver(pushes) {
      if (pushes.length === 0) return;
      await appendFile(path, pushes.map((p) => JSON.stringify(p)).join('\n') + '\n');
      if (opts.console)
        process.stdout.write(pushes.map((p) => `push ${p.userId}: ${p.title}`).join('\n') + '\n');
    },
  };
}
