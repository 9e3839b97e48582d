/**
 * The providers of a send-time process, built from config once at start: each platform's provider (one
 * instance per provider, shared by the platforms routed to it), with every credential read and checked now,
 * so a missing key file, a bad PEM or a missing setting stops the process with one line naming the variable.
 * With every platform on `file`, there are no routes and delivery keeps the whole-push file sink.
 */
import type { Config } from '../../../shared/config';
import { ConfigError } from '../../../shared/errors';
import { createApnsProvider } from './apns.provider';
import { loadServiceAccount, privateKeyFrom, readConfigFile } from './credentials';
import { createFcmProvider } from './fcm.provider';
import { createFileProvider } from './file.provider';
import type { ProviderName, PushProvider, Routes } from './provider';
import { checkVapid, createWebPushProvider } from './webpush.provider';
import { createWebhookProvider } from './webhook.provider';

export type ProvidersConfig = Pick<
  Config,
  | 'PUSH_ANDROID'
  | 'PUSH_IOS'
  | 'PUSH_WEB'
  | 'FCM_SERVICE_ACCOUNT_FILE'
  | 'FCM_ENDPOINT'
  | 'FCM_TOKEN_URI'
  | 'APNS_KEY_FILE'
  | 'APNS_KEY_ID'
  | 'APNS_TEAM_ID'
  | 'APNS_TOPIC'
  | 'APNS_ENDPOINT'
  | 'APNS_CA_FILE'
  | 'WEBPUSH_VAPID_PUBLIC_KEY'
  | 'WEBPUSH_VAPID_PRIVATE_KEY'
  | 'WEBPUSH_SUBJECT'
  | 'WEBPUSH_TTL_S'
  | 'WEBPUSH_CA_FILE'
  | 'WEBHOOK_URL'
  | 'WEBHOOK_SECRET'
  | 'PUSH_TIMEOUT_MS'
  | 'SEND_LEASE_MS'
  | 'SINK_FILE'
>;

/**
 * Real ms from the start of a delivery batch during which its sends may start: a third of the lease, so
 * that with a credential fetch and a send each bounded by PUSH_TIMEOUT_MS (at most a quarter of the lease)
 * the batch is confirmed before its lease runs out and no other replica takes it over mid-send.
 */
export function sendBudgetMs(c: Pick<ProvidersConfig, 'SEND_LEASE_MS'>): number {
  return Math.floor(c.SEND_LEASE_MS / 3);
}

function required<T>(value: T | undefined, variable: string, by: string): T {
  if (value === undefined) throw new ConfigError(`config: ${variable} is required when ${by}`);
  return value;
}

function build(name: ProviderName, c: ProvidersConfig, by: string): PushProvider {
  const timeoutMs = c.PUSH_TIMEOUT_MS;
  switch (name) {
    case 'fcm':
      return createFcmProvider({
        account: loadServiceAccount(
          required(c.FCM_SERVICE_ACCOUNT_FILE, 'FCM_SERVICE_ACCOUNT_FILE', by),
          'FCM_SERVICE_ACCOUNT_FILE',
        ),
        endpoint: c.FCM_ENDPOINT,
        ...(c.FCM_TOKEN_URI ? { tokenUri: c.FCM_TOKEN_URI } : {}),
        timeoutMs,
      });
    case 'apns': {
      const pem = readConfigFile(required(c.APNS_KEY_FILE, 'APNS_KEY_FILE', by), 'APNS_KEY_FILE');
      return createApnsProvider({
        key: privateKeyFrom(pem, 'APNS_KEY_FILE', 'ec'),
        keyId: required(c.APNS_KEY_ID, 'APNS_KEY_ID', by),
        teamId: required(c.APNS_TEAM_ID, 'APNS_TEAM_ID', by),
        topic: required(c.APNS_TOPIC, 'APNS_TOPIC', by),
        endpoint: c.APNS_ENDPOINT,
        ...(c.APNS_CA_FILE ? { ca: readConfigFile(c.APNS_CA_FILE, 'APNS_CA_FILE') } : {}),
        timeoutMs,
      });
    }
    case 'webpush': {
      const vapid = {
        subject: required(c.WEBPUSH_SUBJECT, 'WEBPUSH_SUBJECT', by),
        publicKey: required(c.WEBPUSH_VAPID_PUBLIC_KEY, 'WEBPUSH_VAPID_PUBLIC_KEY', by),
        privateKey: required(c.WEBPUSH_VAPID_PRIVATE_KEY, 'WEBPUSH_VAPID_PRIVATE_KEY', by),
      };
      try {
        checkVapid(vapid);
      } catch (err) {
        throw new ConfigError(
          `config: WEBPUSH_VAPID_PUBLIC_KEY / WEBPUSH_VAPID_PRIVATE_KEY are not VAPID keys: ${err instanceof Error ? err.message : String(err)}`,
        );
      }
      return createWebPushProvider({
        vapid,
        ttlS: c.WEBPUSH_TTL_S,
        ...(c.WEBPUSH_CA_FILE ? { ca: readConfigFile(c.WEBPUSH_CA_FILE, 'WEBPUSH_CA_FILE') } : {}),
        timeoutMs,
      });
    }
    case 'webhook':
      return createWebhookProvider({
        url: required(c.WEBHOOK_URL, 'WEBHOOK_URL', by),
        secret: required(c.WEBHOOK_SECRET, 'WEBHOOK_SECRET', by),
        timeoutMs,
      });
    case 'file':
      return createFileProvider(c.SINK_FILE);
  }
}

/** Each platform's provider, or null when every platform goes to the file sink. Throws ConfigError. */
export function createRoutes(c: ProvidersConfig): Routes | null {
  const wanted = { android: c.PUSH_ANDROID, ios: c.PUSH_IOS, web: c.PUSH_WEB } as const;
  if (Object.values(wanted).every((n) => n === 'file')) return null;
  if (c.PUSH_TIMEOUT_MS * 4 > c.SEND_LEASE_MS)
    throw new ConfigError(
      `config: PUSH_TIMEOUT_MS=${c.PUSH_TIMEOUT_MS} is invalid: at most SEND_LEASE_MS / 4 ` +
        `(${Math.floor(c.SEND_LEASE_MS / 4)}), so a batch's sends end inside its lease`,
    );
  const built = new Map<ProviderName, PushProvider>();
  const get = (name: ProviderName, platform: string) => {
    let p = built.get(name);
    if (!p) built.set(name, (p = build(name, c, `PUSH_${platform.toUpperCase()}=${name}`)));
    return p;
  };
  return {
    android: get(wanted.android, 'android'),
    ios: get(wanted.ios, 'ios'),
    web: get(wanted.web, 'web'),
  };
}

export type { Outcome, ProviderName, PushProvider, Routes } from './provider';
