/**
 * The file sink as a per-device provider, for a platform routed to `file` while others go to real
 * providers: one JSON line per (push, device), the push with that device alone.
 */
import { mkdirSync } from 'node:fs';
import { appendFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { DeviceSend, Outcome, PushProvider } from './provider';

export function createFileProvider(path: string): PushProvider {
  mkdirSync(dirname(path), { recursive: true });
  return {
    name: 'file',
    app: 'file',
    async send(s: DeviceSend): Promise<Outcome> {
      await appendFile(path, JSON.stringify({ ...s.push, devices: [s.device] }) + '\n');
      return { kind: 'accepted' };
    },
  };
}
