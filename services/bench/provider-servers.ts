/**
 * The local provider servers as a process of their own, for the providers benchmark: their CPU (TLS,
 * signature checks, Web Push decryption) is not charged to the delivery being measured. Prints one JSON line
 * (Herald's provider config pointing at them, and a Web Push subscription's token), then serves until
 * SIGTERM.
 */
import webpush from 'web-push';
import { apnsServer, fcmServer, scratch, webhookServer, webPushServer } from './push-servers';

async function main(): Promise<void> {
  const dir = scratch();
  const tls = dir.tls();
  const fcm = await fcmServer('herald-bench');
  const apns = await apnsServer(tls, { keyId: 'KEY1234567', teamId: 'TEAM123456', topic: 'com.example.app' });
  const web = await webPushServer(tls);
  const secret = 'bench-webhook-secret';
  const hook = await webhookServer(secret);
  const vapid = webpush.generateVAPIDKeys();
  // The benchmark sends thousands; keep no record of them.
  const forget = () => {
    for (const s of [fcm.seen, apns.seen, web.seen, hook.seen]) s.length = 0;
  };
  const timer = setInterval(forget, 1000);
  const env = {
    FCM_SERVICE_ACCOUNT_FILE: dir.file('sa.json', JSON.stringify(fcm.serviceAccount)),
    FCM_ENDPOINT: fcm.url,
    APNS_KEY_FILE: dir.file('AuthKey.p8', apns.p8),
    APNS_KEY_ID: 'KEY1234567',
    APNS_TEAM_ID: 'TEAM123456',
    APNS_TOPIC: 'com.example.app',
    APNS_ENDPOINT: apns.url,
    APNS_CA_FILE: tls.certFile,
    WEBPUSH_VAPID_PUBLIC_KEY: vapid.publicKey,
    WEBPUSH_VAPID_PRIVATE_KEY: vapid.privateKey,
    WEBPUSH_SUBJECT: 'mailto:bench@example.com',
    WEBPUSH_CA_FILE: tls.certFile,
    WEBHOOK_URL: hook.url,
    WEBHOOK_SECRET: secret,
  };
  process.stdout.write(`${JSON.stringify({ env, webToken: web.subscribe('bench') })}\n`);
  process.on('SIGTERM', () => {
    clearInterval(timer);
    void Promise.all([fcm.close(), apns.close(), web.close(), hook.close()]).finally(() => {
      dir.remove();
      process.exit(0);
    });
  });
}

void main();
