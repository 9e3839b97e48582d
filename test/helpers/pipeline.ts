/** Reading what a test's pipeline delivered. The probe itself is the operators' (services/operations). */
import { existsSync, readFileSync } from 'node:fs';
import type { PushSent } from '../../shared/schemas/events.schema';

export { PipelineProbe } from '../../services/operations/probe';

export function readSink(file: string): PushSent[] {
  if (!existsSync(file)) return [];
  return readFileSync(file, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as PushSent);
}
