/** The `herald` CLI's answers for people: tables for lists, the dry-run reports spelled out. */
import type {
  AuditRecord,
  DeadLetterDetail,
  DeadLetterView,
  Explanation,
  FailedJobView,
  Page,
  RedriveReport,
  ReplayReport,
  TokenView,
  TopicReplayReport,
} from '../api';
import type { View } from './args';

const iso = (ms: number | undefined) => (ms === undefined ? '-' : new Date(ms).toISOString());

function counts(o: Record<string, number | undefined> | undefined): string {
  const parts = Object.entries(o ?? {})
    .filter(([, n]) => (n ?? 0) > 0)
    .map(([k, n]) => `${k} ${n}`);
  return parts.length ? parts.join(', ') : 'none';
}

/** Left-aligned columns, two spaces apart. */
function table(header: string[], rows: string[][]): string[] {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]!)))
      .join('  ')
      .trimEnd();
  return [line(header), ...rows.map(line)];
}

function nextPage(page: Page<unknown>): string[] {
  return page.next ? [`more: add --cursor ${page.next}`] : [];
}

function dryRunBanner(dryRun: boolean, what: string): string {
  return dryRun ? `DRY RUN: nothing was ${what}. Add --confirm to do it.` : `DONE: ${what}.`;
}

export function formatAnswer(view: View, answer: unknown): string {
  const lines: string[] = [];
  switch (view) {
    case 'failed': {
      const page = answer as Page<FailedJobView>;
      if (page.items.length === 0) lines.push('no failed jobs match');
      else
        lines.push(
          ...table(
            ['QUEUE:ID', 'FAILED', 'ATTEMPTS', 'USERS', 'STRATEGIES', 'REASON'],
            page.items.map((j) => [
              `${j.queue}:${j.id}`,
              iso(j.failedAt),
              String(j.attempts),
              String(j.users),
              j.strategies.join(',') || '-',
              j.reason.split('\n')[0] ?? '',
            ]),
          ),
        );
      lines.push(...nextPage(page));
      break;
    }
    case 'replay': {
      const r = answer as ReplayReport;
      lines.push(
        dryRunBanner(r.dryRun, 'replayed'),
        `jobs     ${r.jobs} selected, ${r.replayed} replayed`,
        `users    ${r.users}`,
        `pushes   ${r.pushes} ${r.dryRun ? 'would go out' : 'may go out'} under today's rules` +
          (r.deferred ? `, ${r.deferred} of them after the user's quiet hours` : ''),
        `dropped  ${counts(r.dropped)}`,
      );
      if (r.perJob.length) {
        lines.push('per job:');
        lines.push(
          ...table(
            ['  QUEUE:ID', 'USERS', 'PUSHES', 'DROPPED'],
            r.perJob.map((j) => [
              `  ${j.queue}:${j.id}`,
              String(j.users),
              String(j.pushes),
              counts(j.dropped) + (j.note ? ` (${j.note})` : ''),
            ]),
          ),
        );
      }
      break;
    }
    case 'letters': {
      const page = answer as Page<DeadLetterView>;
      if (page.items.length === 0) lines.push('no dead letters match');
      else
        lines.push(
          ...table(
            ['ID', 'AT', 'SOURCE', 'REDRIVEN', 'REASON'],
            page.items.map((d) => [
              d.id,
              d.at,
              `${d.source.topic}[${d.source.partition}]@${d.source.offset}`,
              d.redrivenAt === undefined ? '-' : iso(d.redrivenAt),
              d.reason,
            ]),
          ),
        );
      lines.push(...nextPage(page));
      break;
    }
    case 'letter': {
      const d = answer as DeadLetterDetail;
      lines.push(
        `id        ${d.id}`,
        `at        ${d.at}`,
        `worker    ${d.worker}`,
        `source    ${d.source.topic} partition ${d.source.partition} offset ${d.source.offset}`,
        `reason    ${d.reason}`,
        `redriven  ${d.redrivenAt === undefined ? 'no' : iso(d.redrivenAt)}`,
        `key       ${d.key ?? '(none)'}`,
        'value:',
        d.value ?? `(not UTF-8; base64) ${d.valueBase64 ?? '(none)'}`,
      );
      break;
    }
    case 'redrive': {
      const r = answer as RedriveReport;
      lines.push(
        dryRunBanner(r.dryRun, 're-driven'),
        `selected          ${r.selected}`,
        `valid now         ${r.valid}`,
        `still invalid     ${r.invalid.length}`,
        `already redriven  ${r.alreadyRedriven}`,
        `redriven          ${r.redriven}`,
        `by topic          ${counts(r.byTopic)}`,
        ...r.invalid.map((i) => `  invalid ${i.id}: ${i.reason}`),
      );
      break;
    }
    case 'topic-replay': {
      const r = answer as TopicReplayReport;
      lines.push(
        dryRunBanner(r.dryRun, 'copied'),
        `from      ${r.source}`,
        `to        ${r.target}`,
        `messages  ${r.messages} in the range`,
        `copied    ${r.copied}`,
      );
      break;
    }
    case 'explain': {
      const e = answer as Explanation;
      lines.push(`user ${e.userId}, ${iso(e.from)} to ${iso(e.to)}${e.traced ? '' : ' (not traced)'}`);
      lines.push(...e.summary.map((s) => `  ${s}`));
      if (e.trace.length) {
        lines.push('trace:');
        lines.push(
          ...table(
            ['  AT', 'STAGE', 'WHAT', 'STRATEGY', 'DETAIL'],
            e.trace.map((t) => [
              `  ${iso(t.at)}`,
              t.stage,
              t.what,
              t.strategy ?? '-',
              JSON.stringify(t.detail),
            ]),
          ),
        );
      }
      lines.push(
        `booked  ${e.now.booked ? `${iso(e.now.booked.due)} (${e.now.booked.lane})` : 'no'}`,
        `sent    ${e.now.sent.length ? e.now.sent.map((s) => `${s.pushId} at ${iso(s.at)}`).join(', ') : 'none'}`,
      );
      break;
    }
    case 'audit': {
      const page = answer as Page<AuditRecord>;
      if (page.items.length === 0) lines.push('no audit records match');
      else
        lines.push(
          ...table(
            ['AT', 'ACTOR', 'ACTION', 'DRY RUN', 'RESULT'],
            page.items.map((a) => [
              iso(a.at),
              `${a.actor.name} (${a.actor.tokenId}, ${a.actor.role})`,
              a.action,
              a.dryRun ? 'yes' : 'no',
              JSON.stringify(a.result),
            ]),
          ),
        );
      lines.push(...nextPage(page));
      break;
    }
    case 'tokens': {
      const { items } = answer as { items: TokenView[] };
      if (items.length === 0) lines.push('no tokens');
      else
        lines.push(
          ...table(
            ['ID', 'NAME', 'ROLE', 'CREATED', 'BY'],
            items.map((t) => [t.id, t.name, t.role, iso(t.createdAt), t.createdBy]),
          ),
        );
      break;
    }
    case 'token-created': {
      const { token, secret } = answer as { token: TokenView; secret: string };
      lines.push(
        `created ${token.id} (${token.name}, ${token.role})`,
        `token: ${secret}`,
        'Keep it now: it is shown once and Herald stores only its hash.',
      );
      break;
    }
    case 'token-revoked': {
      const { revoked } = answer as { revoked: string };
      lines.push(`revoked ${revoked}`);
      break;
    }
    case 'health': {
      const h = answer as { status: string; redis: boolean; kafka: boolean };
      lines.push(`${h.status}: redis ${h.redis ? 'up' : 'down'}, kafka ${h.kafka ? 'up' : 'down'}`);
      break;
    }
  }
  return lines.join('\n');
}
