/** The local provider servers (FCM + OAuth, APNs, Web Push, webhook); the benchmark runs the same ones. */
export * from '../../services/bench/push-servers';
