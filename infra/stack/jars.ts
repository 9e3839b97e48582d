/**
 * The tools the stack runs: the Kafka jars (resolved once with Maven into .cache/kafka/libs), Java, and a
 * check that a command exists before it is needed, with a hint how to install it.
 */
import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { StackError, errorLine, fileSize, rel, seconds, stdoutLine, type StackOptions } from './util';

/**
 * Resolves the broker's jars into .cache/kafka/libs with Maven, once: the folder carries the hash of the pom
 * it came from, so a second run does not call Maven and a changed pom (a new version) resolves afresh.
 * Returns the Kafka version found in the jars.
 */
export async function ensureKafkaJars(root: string, options: StackOptions = {}): Promise<string> {
  const out = options.out ?? stdoutLine;
  const pom = path.join(root, 'infra', 'kafka', 'pom.xml');
  const libs = path.join(root, '.cache', 'kafka', 'libs');
  const marker = path.join(libs, '.pom.sha256');
  const hash = createHash('sha256').update(fs.readFileSync(pom)).digest('hex');
  const cached = fs.existsSync(marker) && fs.readFileSync(marker, 'utf8').trim() === hash;
  if (cached) {
    const version = kafkaVersion(libs);
    if (version) return version;
  }

  requireTool('mvn', ['-v'], 'install Maven 3.6+ (apt-get install maven); it fetches the Kafka jars once');
  const mavenLog = path.join(root, '.cache', 'kafka', 'maven.log');
  const staging = `${libs}.partial`;
  fs.rmSync(staging, { recursive: true, force: true });
  fs.mkdirSync(path.dirname(libs), { recursive: true });
  out(`kafka: resolving Kafka jars from Maven Central (once; cached in ${rel(root, libs)})...`);
  const t0 = Date.now();
  const logOffset = fileSize(mavenLog);
  const code = await run(
    'mvn',
    ['-q', '-B', '-f', pom, 'dependency:copy-dependencies', `-Dkafka.libs.dir=${staging}`],
    root,
    mavenLog,
  );
  if (code !== 0) {
    throw new StackError(
      `kafka: resolving the jars with Maven failed (exit ${code}): ${errorLine(mavenLog, logOffset, true) ?? '?'}; ` +
        `log: ${rel(root, mavenLog)}`,
    );
  }
  const version = kafkaVersion(staging);
  if (!version)
    throw new StackError(`kafka: Maven ran but no kafka_2.13 jar came; log: ${rel(root, mavenLog)}`);
  fs.writeFileSync(path.join(staging, '.pom.sha256'), `${hash}\n`);
  fs.rmSync(libs, { recursive: true, force: true });
  fs.renameSync(staging, libs);
  const count = fs.readdirSync(libs).filter((f) => f.endsWith('.jar')).length;
  out(`kafka: ${count} jars of Kafka ${version} resolved in ${seconds(Date.now() - t0)}`);
  return version;
}

function kafkaVersion(libs: string): string | undefined {
  if (!fs.existsSync(libs)) return undefined;
  for (const f of fs.readdirSync(libs)) {
    const m = /^kafka_2\.13-(\d+\.\d+\.\d+)\.jar$/.exec(f);
    if (m) return m[1];
  }
  return undefined;
}

export function requireJava(): void {
  const res = spawnSync('java', ['-version'], { encoding: 'utf8' });
  const hint = 'install Java 17 (apt-get install openjdk-17-jre-headless)';
  if (res.error) throw new StackError(`kafka: java not found; the local broker needs it: ${hint}`);
  const m = /version "(\d+)(?:\.(\d+))?/.exec(`${res.stderr}${res.stdout}`);
  const major = m ? (m[1] === '1' ? Number(m[2]) : Number(m[1])) : NaN;
  if (major < 11) throw new StackError(`kafka: Kafka 3.9 needs Java 11 or newer, found ${m?.[0]}; ${hint}`);
}

export function requireTool(cmd: string, args: string[], hint: string): void {
  const res = spawnSync(cmd, args, { stdio: 'ignore' });
  if (res.error) throw new StackError(`${cmd} not found: ${hint}`);
}

/** Runs a command to completion with its output appended to a log file; resolves with its exit code. */
export function run(cmd: string, args: string[], cwd: string, logFile: string): Promise<number> {
  fs.appendFileSync(logFile, `\n# ${new Date().toISOString()} ${cmd} ${args.join(' ')}\n`);
  const fd = fs.openSync(logFile, 'a');
  return new Promise<number>((resolve, reject) => {
    const child = spawn(cmd, args, { cwd, stdio: ['ignore', fd, fd] });
    child.once('error', reject);
    child.once('exit', (code) => resolve(code ?? 1));
  }).finally(() => fs.closeSync(fd));
}
