/**
 * A signed webhook, for teams with their own sender: one JSON POST per (push, device) to a URL of theirs.
 * `Herald-Signature: t=<unix s>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>` lets the receiver check that
 * Herald sent it and refuse replays outside its tolerance (the scheme Stripe and others use);
 * `Idempotency-Key` is the same on every retry of a send, so a receiver that remembers it never sends twice.
 * Answers: 2xx accepted (an `id` in a JSON body is the receipt's), 404 / 410 the token is dead, 429 with
 * Retry-After, 5xx retried, other 4xx failed.
 */
import { createHmac } from 'node:crypto';
import { classifyHttp, transportFailure } from './classify';
import type { DeviceSend, Outcome, PushProvider } from './provider';

export interface WebhookOptions {
  url: string;
  /** The shared secret of the HMAC. */
  secret: string;
  timeoutMs: number;
  now?: () => number;
}

export const SIGNATURE_HEADER = 'herald-signature';

/** The signature header's value for `body` sent at `unixS`. */
export function webhookSignature(secret: string, unixS: number, body: string): string {
  const mac = createHmac('sha256', secret).update(`${unixS}.${body}`).digest('hex');
  return `t=${unixS},v1=${mac}`;
}

export function webhookBody(s: DeviceSend): string {
  const p = s.push;
  return JSON.stringify({
    pushId: p.pushId,
    userId: p.userId,
    strategy: p.strategy,
    device: s.device,
    title: p.title,
    body: p.body,
    deepLink: p.deepLink,
    ...(p.image ? { image: p.image } : {}),
    sentAt: p.sentAt,
  });
}

export function createWebhookProvider(o: WebhookOptions): PushProvider {
  const now = o.now ?? Date.now;
  return {
    name: 'webhook',
    app: new URL(o.url).host,
    async send(s: DeviceSend): Promise<Outcome> {
      const body = webhookBody(s);
      try {
        const res = await fetch(o.url, {
          method: 'POST',
          headers: {
            'content-type': 'application/json',
            [SIGNATURE_HEADER]: webhookSignature(o.secret, Math.floor(now() / 1000), body),
            'idempotency-key': s.idempotencyKey,
          },
          body,
          signal: AbortSignal.timeout(o.timeoutMs),
        });
        const answer = (await res.json().catch(() => null)) as { id?: unknown } | null;
        const id = typeof answer?.id === 'string' ? answer.id : undefined;
        return classifyHttp('webhook', res.status, res.headers.get('retry-after'), now(), id);
      } catch (err) {
        return transportFailure('webhook', err);
      }
    },
  };
}
