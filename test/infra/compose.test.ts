/**
 * docker-compose.yml cannot be run here (no Docker engine), so its structure is checked by reading it: the
 * same Kafka as infra/kafka/pom.xml in KRaft mode, Redis safe for BullMQ, one service per worker from one
 * image, and a Dockerfile that builds with `npm ci`. Each check is also run on a broken copy and must throw,
 * so none of them can pass by accident.
 */
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { parse } from 'yaml';
import { WORKERS } from '../../shared/workers';

const ROOT = path.resolve(__dirname, '..', '..');

interface Service {
  image?: string;
  build?: unknown;
  command?: string | string[];
  environment?: Record<string, string | number | boolean | null> | string[];
  depends_on?: string[] | Record<string, { condition?: string }>;
  healthcheck?: { test?: unknown };
}
interface Compose {
  services: Record<string, Service>;
}

function loadCompose(): Compose {
  // Compose reads `<<` merge keys (YAML 1.1); the workers share their settings through one.
  return parse(readFileSync(path.join(ROOT, 'docker-compose.yml'), 'utf8'), { merge: true }) as Compose;
}

function readRoot(file: string): string {
  return readFileSync(path.join(ROOT, file), 'utf8');
}

function tokens(command: Service['command']): string[] {
  if (command === undefined) return [];
  return Array.isArray(command) ? command.map(String) : command.split(/\s+/).filter(Boolean);
}

function env(service: Service | undefined): Record<string, string> {
  const raw = service?.environment ?? {};
  if (Array.isArray(raw)) {
    return Object.fromEntries(raw.map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)]));
  }
  return Object.fromEntries(Object.entries(raw).map(([k, v]) => [k, String(v)]));
}

function condition(service: Service | undefined, dependency: string): string | undefined {
  const deps = service?.depends_on;
  if (deps === undefined || Array.isArray(deps)) return undefined;
  return deps[dependency]?.condition;
}

const clone = (doc: Compose): Compose => structuredClone(doc);

// --- the checks ------------------------------------------------------------------------------------------

function checkKafka(doc: Compose, pom: string): void {
  const kafka = doc.services.kafka;
  expect(kafka?.image).toMatch(/^apache\/kafka:3\.9\.\d+$/);
  const pomVersion = /<kafka\.version>([^<]+)<\/kafka\.version>/.exec(pom)?.[1];
  // DESIGN: the containers run the same version as the local broker.
  expect(kafka?.image).toBe(`apache/kafka:${pomVersion}`);
  const e = env(kafka);
  expect(
    e.KAFKA_PROCESS_ROLES?.split(',')
      .map((r) => r.trim())
      .sort(),
  ).toEqual(['broker', 'controller']);
  expect(e.KAFKA_CONTROLLER_QUORUM_VOTERS).toMatch(/^\d+@[^:]+:\d+$/);
  expect(e.KAFKA_CONTROLLER_LISTENER_NAMES).toBe('CONTROLLER');
  expect(e.KAFKA_LISTENERS).toContain('CONTROLLER://');
  expect(e.KAFKA_ADVERTISED_LISTENERS).toContain('PLAINTEXT://kafka:9092');
  expect(e.CLUSTER_ID).toMatch(/^[A-Za-z0-9_-]{22}$/);
  expect(e.KAFKA_AUTO_CREATE_TOPICS_ENABLE).toBe('false');
  expect(e.KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR).toBe('1');
  expect(kafka?.healthcheck?.test).toBeDefined();
}

function checkRedis(doc: Compose): void {
  const redis = doc.services.redis;
  expect(redis?.image).toMatch(/^redis:7(\.|-|$)/);
  const args = tokens(redis?.command);
  expect(args[args.indexOf('--appendonly') + 1]).toBe('yes');
  expect(args).toContain('--appendonly');
  expect(args).toContain('--maxmemory-policy');
  expect(args[args.indexOf('--maxmemory-policy') + 1]).toBe('noeviction');
  expect(redis?.healthcheck?.test).toBeDefined();
}

const OPS_SCRIPT = 'dist/workers/ops/ops.main.js';

function checkWorkers(doc: Compose): void {
  const byWorkerScript = new Map<string, string[]>();
  for (const [name, service] of Object.entries(doc.services)) {
    const script = tokens(service.command).find((t) => t.startsWith('dist/workers/'));
    if (script) byWorkerScript.set(script, [...(byWorkerScript.get(script) ?? []), name]);
  }
  for (const worker of WORKERS) {
    const service = doc.services[worker];
    expect({ worker, defined: service !== undefined }).toEqual({ worker, defined: true });
    expect(tokens(service?.command)).toEqual(['node', `dist/workers/${worker}/${worker}.worker.js`]);
    // One service per worker: no second service runs the same entry point.
    expect(byWorkerScript.get(`dist/workers/${worker}/${worker}.worker.js`)).toEqual([worker]);
  }
  // And no service runs a worker that is not in the list (the operator API is its own process, not a stage).
  expect([...byWorkerScript.keys()].filter((k) => k !== OPS_SCRIPT).sort()).toEqual(
    WORKERS.map((w) => `dist/workers/${w}/${w}.worker.js`).sort(),
  );
}

function checkOneImage(doc: Compose): void {
  const images = new Set(
    WORKERS.map((w) => JSON.stringify([doc.services[w]?.image, doc.services[w]?.build])),
  );
  expect(images.size).toBe(1);
  const first = doc.services[WORKERS[0]];
  expect(first?.image).toEqual(expect.any(String));
  expect(first?.build).toBeDefined();
  // The topics one-shot comes from the same image too.
  expect(JSON.stringify([doc.services.topics?.image, doc.services.topics?.build])).toBe([...images][0]);
}

function checkWiring(doc: Compose): void {
  expect(tokens(doc.services.topics?.command)).toEqual(['node', 'dist/infra/stack.js', 'topics']);
  expect(condition(doc.services.topics, 'kafka')).toBe('service_healthy');
  for (const worker of WORKERS) {
    const service = doc.services[worker];
    const e = env(service);
    expect({ worker, REDIS_URL: e.REDIS_URL, KAFKA_BROKERS: e.KAFKA_BROKERS }).toEqual({
      worker,
      REDIS_URL: 'redis://redis:6379',
      KAFKA_BROKERS: 'kafka:9092',
    });
    expect({ worker, redis: condition(service, 'redis') }).toEqual({ worker, redis: 'service_healthy' });
    expect({ worker, kafka: condition(service, 'kafka') }).toEqual({ worker, kafka: 'service_healthy' });
    expect({ worker, topics: condition(service, 'topics') }).toEqual({
      worker,
      topics: 'service_completed_successfully',
    });
  }
}

function checkDockerfile(dockerfile: string): void {
  const lines = dockerfile.split('\n').map((l) => l.trim());
  const stages = lines.filter((l) => /^FROM\s/i.test(l));
  expect(stages.length).toBeGreaterThanOrEqual(2);
  expect(stages[stages.length - 1]).toMatch(/^FROM\s+node:20-slim\b/i);
  const runs = lines.filter((l) => /^RUN\s/i.test(l));
  expect(runs.some((l) => /\bnpm ci\b(?!.*--omit=dev)/.test(l))).toBe(true);
  expect(runs.some((l) => /\bnpm ci\b.*--omit=dev/.test(l))).toBe(true);
  expect(runs.some((l) => /\bnpm run build\b/.test(l))).toBe(true);
  expect(lines.some((l) => /^COPY\s+--from=\S+\s+\S*dist\b/i.test(l))).toBe(true);
}

/** Prometheus scrapes every worker's /metrics, by its compose service name, on the default METRICS_PORT. */
function checkScrape(prometheusYml: string): void {
  const cfg = parse(prometheusYml) as {
    scrape_configs: Array<{ static_configs: Array<{ targets: string[] }> }>;
  };
  const targets = cfg.scrape_configs.flatMap((c) => c.static_configs.flatMap((s) => s.targets));
  expect([...targets].sort()).toEqual(WORKERS.map((w) => `${w}:9464`).sort());
}

// --- the tests -------------------------------------------------------------------------------------------

describe('docker-compose.yml', () => {
  const doc = loadCompose();
  const pom = readRoot('infra/kafka/pom.xml');

  it('runs Kafka 3.9 (the pom version) as a single KRaft node', () => checkKafka(doc, pom));
  it('runs Redis 7 with appendonly and noeviction', () => checkRedis(doc));
  it('has one service per worker, each running dist/workers/<name>/<name>.worker.js', () =>
    checkWorkers(doc));
  it('builds every worker from the same image', () => checkOneImage(doc));
  it('points workers at the compose Redis and Kafka, after health checks and topic creation', () =>
    checkWiring(doc));
  it('has Prometheus scrape every worker, and runs Prometheus and Grafana with the files in infra/', () => {
    checkScrape(readRoot('infra/prometheus/prometheus.yml'));
    expect(doc.services.prometheus?.image).toMatch(/^prom\/prometheus:/);
    expect(doc.services.grafana?.image).toMatch(/^grafana\/grafana:/);
    const panels = (JSON.parse(readRoot('infra/grafana/dashboards/herald.json')) as { panels: unknown[] })
      .panels;
    expect(panels.length).toBeGreaterThan(0);
  });
});

describe('Dockerfile', () => {
  it('is multi-stage: npm ci + build, then node:20-slim with npm ci --omit=dev', () =>
    checkDockerfile(readRoot('Dockerfile')));
});

describe('the checks fail on a broken file', () => {
  const doc = loadCompose();
  const pom = readRoot('infra/kafka/pom.xml');

  it('kafka: a 3.8 image, no KRaft roles, a version other than the pom', () => {
    const old = clone(doc);
    old.services.kafka!.image = 'apache/kafka:3.8.1';
    expect(() => checkKafka(old, pom)).toThrow();
    const zk = clone(doc);
    delete (zk.services.kafka!.environment as Record<string, string>).KAFKA_PROCESS_ROLES;
    expect(() => checkKafka(zk, pom)).toThrow();
    expect(() => checkKafka(doc, pom.replace(/<kafka\.version>[^<]+</, '<kafka.version>3.9.99<'))).toThrow();
  });

  it('redis: without appendonly, or with an evicting policy', () => {
    const noAof = clone(doc);
    noAof.services.redis!.command = ['redis-server', '--maxmemory-policy', 'noeviction'];
    expect(() => checkRedis(noAof)).toThrow();
    const lru = clone(doc);
    lru.services.redis!.command = [
      'redis-server',
      '--appendonly',
      'yes',
      '--maxmemory-policy',
      'allkeys-lru',
    ];
    expect(() => checkRedis(lru)).toThrow();
  });

  it('workers: one missing, one pointing at the wrong file, one duplicated', () => {
    const missing = clone(doc);
    delete missing.services.scheduler;
    expect(() => checkWorkers(missing)).toThrow();
    const wrong = clone(doc);
    wrong.services['send-time']!.command = ['node', 'dist/workers/send-time/index.js'];
    expect(() => checkWorkers(wrong)).toThrow();
    const twice = clone(doc);
    twice.services['score-2'] = { ...twice.services.score };
    expect(() => checkWorkers(twice)).toThrow();
  });

  it('image: one worker built from another image', () => {
    const other = clone(doc);
    other.services.filter!.image = 'herald-filter:local';
    expect(() => checkOneImage(other)).toThrow();
  });

  it('wiring: a worker on localhost Redis, or not waiting for the topics', () => {
    const local = clone(doc);
    local.services.audience!.environment = {
      ...env(local.services.audience),
      REDIS_URL: 'redis://127.0.0.1:6379',
    };
    expect(() => checkWiring(local)).toThrow();
    const eager = clone(doc);
    eager.services.ingest!.depends_on = { kafka: { condition: 'service_started' } };
    expect(() => checkWiring(eager)).toThrow();
  });

  it('scrape: a worker missing from Prometheus', () => {
    const yml = readRoot('infra/prometheus/prometheus.yml').replace(/\n\s*- send-time:9464/, '');
    expect(() => checkScrape(yml)).toThrow();
  });

  it('dockerfile: single stage, or without npm ci', () => {
    const dockerfile = readRoot('Dockerfile');
    expect(() => checkDockerfile('FROM node:20-slim\nRUN npm ci\nRUN npm run build\n')).toThrow();
    expect(() =>
      checkDockerfile(dockerfile.replace(/npm ci --no-audit/g, 'npm install --no-audit')),
    ).toThrow();
    expect(() => checkDockerfile(dockerfile.replace(/--omit=dev/g, ''))).toThrow();
  });
});
