/**
 * Push sinks. The file sink is the development provider: one JSON line per push. Like a provider with
 * idempotency keys, it delivers a push id once: ids already in the file are remembered when it opens, so
 * a push resent after a crash is dropped here instead of reaching the user twice.
 */
import { createReadStream, existsSync, mkdirSync } from 'node:fs';
import { appendFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import { createInterface } from 'node:readline';
import type { PushSent } from '../../shared/schemas/events.schema';

export interface PushSink {
  /** Delivers the pushes; returns those that went out now (a push id delivered before is skipped). */
  deliver(pushes: readonly PushSent[]): Promise<PushSent[]>;
}

export async function openFileSink(path: string, opts: { console?: boolean } = {}): Promise<PushSink> {
  const delivered = new Set<string>();
  mkdirSync(dirname(path), { recursive: true });
  if (existsSync(path)) {
    const lines = createInterface({ input: createReadStream(path, 'utf8'), crlfDelay: Infinity });
    for await (const line of lines) {
      const m = /"pushId":"([^"]+)"/.exec(line);
      if (m) delivered.add(m[1]!);
    }
  }
  return {
    async deliver(pushes) {
      const fresh = pushes.filter((p) => !delivered.has(p.pushId));
      if (fresh.length === 0) return [];
      const text = fresh.map((p) => JSON.stringify(p)).join('\n') + '\n';
      await appendFile(path, text);
      for (const p of fresh) delivered.add(p.pushId);
      if (opts.console)
        process.stdout.write(fresh.map((p) => `push ${p.userId}: ${p.title}`).join('\n') + '\n');
      return fresh;
    },
  };
}
