/**
 * The operator service: what the ops HTTP API (services/ops/http) and the `herald` CLI do, as one interface.
 * The transport authenticates, checks the role, rate-limits and writes the audit record; the service
 * decides. Every state-changing call is a dry run unless `dryRun: false` is given.
 */
import type { QueueKey } from '../../shared/queue-catalog';
import type { TraceEntry } from '../state';

export type Role = 'viewer' | 'operator' | 'admin';

/** Who calls: the token's id and name (never the token itself). */
export interface Actor {
  tokenId: string;
  name: string;
  role: Role;
}

/** A page of results; `next` is the opaque cursor of the following page, absent on the last one. */
export interface Page<T> {
  items: T[];
  next?: string;
}

export interface PageRequest {
  cursor?: string;
  /** Default 50, at most 500. */
  limit?: number;
}

/** Which failed jobs: every field narrows; times are epoch ms of the failure. */
export interface FailedJobFilter {
  queue?: QueueKey;
  /** Substring of the failure reason, case-insensitive. */
  reason?: string;
  strategy?: string;
  userId?: string;
  from?: number;
  to?: number;
}

export interface FailedJobView {
  queue: QueueKey;
  id: string;
  reason: string;
  attempts: number;
  failedAt: number;
  createdAt: number;
  strategies: string[];
  /** Users the job concerns (a campaign's audience job concerns a whole page not yet known: 0). */
  users: number;
  /** The payload as the stage took it. */
  data: unknown;
}

/** What a replay concerns: explicit jobs, or every job that matches a filter. */
export interface ReplayRequest {
  jobs?: Array<{ queue: QueueKey; id: string }>;
  filter?: FailedJobFilter;
  /** Default true: report what would happen, change nothing. */
  dryRun?: boolean;
  /** More jobs than the configured cap need this. */
  override?: boolean;
}

/** Why a user of a replayed job would get nothing now. */
export type ReplayDrop =
  | 'unknown_user'
  | 'opted_out'
  | 'no_device'
  | 'no_location_opt_in'
  | 'cooldown'
  | 'expired'
  | 'already_sent'
  | 'quiet_hours';

export interface ReplayReport {
  dryRun: boolean;
  /** Jobs selected. */
  jobs: number;
  /** Jobs moved back to their queue (0 in a dry run). */
  replayed: number;
  /** Distinct users the selected jobs concern. */
  users: number;
  /** Users who would get a push under today's rules (now, or after their quiet hours). */
  pushes: number;
  /** Of those, users whose push waits for their quiet hours to end. */
  deferred: number;
  /** Users who would get none, by reason. */
  dropped: Partial<Record<ReplayDrop, number>>;
  /** Per job: its users, pushes and drops (the first 100 jobs). */
  perJob: Array<{
    queue: QueueKey;
    id: string;
    users: number;
    pushes: number;
    deferred: number;
    dropped: Partial<Record<ReplayDrop, number>>;
    /** Campaign pages whose users are not known until the job runs. */
    note?: string;
  }>;
}

export interface DeadLetterFilter {
  reason?: string;
  /** The source topic's logical name or full name. */
  topic?: string;
  from?: number;
  to?: number;
}

export interface DeadLetterView {
  /** `<partition>:<offset>` on the dead-letter topic. */
  id: string;
  reason: string;
  at: string;
  worker: string;
  source: { topic: string; partition: number; offset: string };
  /** Already re-driven (and when), if so. */
  redrivenAt?: number;
}

export interface DeadLetterDetail extends DeadLetterView {
  key: string | null;
  /** The original bytes as UTF-8 text, and as base64 for exact bytes. */
  value: string | null;
  valueBase64: string | null;
}

export interface RedriveRequest {
  ids?: string[];
  filter?: DeadLetterFilter;
  /** A corrected event for one letter: re-driven instead of the letter's original bytes. */
  fix?: { id: string; value: unknown };
  dryRun?: boolean;
  override?: boolean;
}

export interface RedriveReport {
  dryRun: boolean;
  selected: number;
  /** Letters that now pass their topic's schema, and would (or did) go back. */
  valid: number;
  /** Letters that still fail, with the first reasons. */
  invalid: Array<{ id: string; reason: string }>;
  /** Letters re-driven before: never sent twice. */
  alreadyRedriven: number;
  redriven: number;
  byTopic: Record<string, number>;
}

/** Copy an input topic's events of a time range into a separate namespace's topic, for a backtest. */
export interface TopicReplayRequest {
  /** Logical topic name (purchases, locations, ...). */
  topic: string;
  from: number;
  to: number;
  /** The target namespace: topics `<namespace>.<topic>`. Must differ from production's prefix. */
  namespace: string;
  dryRun?: boolean;
}

export interface TopicReplayReport {
  dryRun: boolean;
  source: string;
  target: string;
  /** Messages in the range. */
  messages: number;
  copied: number;
}

export type { TraceEntry };

export interface Explanation {
  userId: string;
  from: number;
  to: number;
  /** Whether the user's decisions are traced (the campaign lane traces a sample of users). */
  traced: boolean;
  trace: TraceEntry[];
  /** State now: the open winner, its plan, the pushes sent in the push-record retention. */
  now: {
    winner: unknown;
    plan: unknown;
    booked: { due: number; lane: 'realtime' | 'bulk'; inflightUntil: number | null } | null;
    sent: Array<{ pushId: string; at: number }>;
  };
  /** One line per step, for people. */
  summary: string[];
}

export interface AuditRecord {
  id: string;
  at: number;
  actor: { tokenId: string; name: string; role: Role };
  action: string;
  /** The request as given (filters, ids, flags). */
  request: unknown;
  dryRun: boolean;
  /** The counts the call produced. */
  result: Record<string, unknown>;
}

export interface TokenView {
  id: string;
  name: string;
  role: Role;
  createdAt: number;
  createdBy: string;
}

/** The service the transport calls. Throws OpsError with a status for bad requests (see errors.ts). */
export interface OpsService {
  listFailed(filter: FailedJobFilter, page: PageRequest): Promise<Page<FailedJobView>>;
  replay(req: ReplayRequest): Promise<ReplayReport>;
  listDeadLetters(filter: DeadLetterFilter, page: PageRequest): Promise<Page<DeadLetterView>>;
  getDeadLetter(id: string): Promise<DeadLetterDetail | undefined>;
  redrive(req: RedriveRequest): Promise<RedriveReport>;
  replayTopic(req: TopicReplayRequest): Promise<TopicReplayReport>;
  explain(userId: string, range: { from?: number; to?: number }): Promise<Explanation>;
  health(): Promise<{ redis: boolean; kafka: boolean }>;
  close(): Promise<void>;
}
