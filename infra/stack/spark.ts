/**
 * The product-recommendation job on Apache Spark (infra/spark): its jar built and Spark's jars resolved
 * once with Maven into .cache/spark (like the Kafka jars: the folder carries the hash of the pom and the
 * sources it came from, so a second run calls no Maven and a changed job rebuilds), and the command that
 * runs it on this machine's Java in local[*]. A cluster runs the same jar with spark-submit instead.
 */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { requireJava, requireTool, run } from './jars';
import { StackError, errorLine, fileSize, rel, seconds, stdoutLine, type StackOptions } from './util';

export interface SparkJob {
  /** Herald's job jar. */
  jar: string;
  /** Spark's jars (the pom's provided scope). */
  libs: string;
  /** The Log4j 2 config of local runs. */
  log4j: string;
}

/** The job's main class; spark-submit names it with --class. */
export const RECS_MAIN = 'dev.herald.recs.RecsJob';

/**
 * What Spark 4 needs of Java 17's module system (the options spark-submit adds by itself; Spark's
 * JavaModuleOptions), given here because local runs start `java` directly.
 */
export const SPARK_JAVA_OPTIONS = [
  '-XX:+IgnoreUnrecognizedVMOptions',
  ...[
    'java.lang',
    'java.lang.invoke',
    'java.lang.reflect',
    'java.io',
    'java.net',
    'java.nio',
    'java.util',
    'java.util.concurrent',
    'java.util.concurrent.atomic',
    'jdk.internal.ref',
    'sun.nio.ch',
    'sun.nio.cs',
    'sun.security.action',
    'sun.util.calendar',
  ].map((p) => `--add-opens=java.base/${p}=ALL-UNNAMED`),
  '-Djdk.reflect.useDirectMethodHandle=false',
  '-Dio.netty.tryReflectionSetAccessible=true',
];

function sourcesHash(dir: string): string {
  const h = createHash('sha256');
  const walk = (d: string) => {
    for (const e of fs.readdirSync(d, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) walk(p);
      else h.update(`${path.relative(dir, p)}\0`).update(fs.readFileSync(p));
    }
  };
  walk(dir);
  return h.digest('hex');
}

/** Builds the job's jar and resolves Spark's jars into .cache/spark, once per version of infra/spark. */
export async function ensureSparkJob(root: string, options: StackOptions = {}): Promise<SparkJob> {
  const out = options.out ?? stdoutLine;
  const src = path.join(root, 'infra', 'spark');
  const dir = path.join(root, '.cache', 'spark');
  const job: SparkJob = {
    jar: path.join(dir, 'target', 'herald-recs.jar'),
    libs: path.join(dir, 'libs'),
    log4j: path.join(src, 'log4j2.properties'),
  };
  const marker = path.join(dir, '.build.sha256');
  const hash = sourcesHash(src);
  if (fs.existsSync(marker) && fs.readFileSync(marker, 'utf8').trim() === hash && fs.existsSync(job.jar))
    return job;

  requireJava();
  requireTool('mvn', ['-v'], 'install Maven 3.6+ (apt-get install maven); it fetches the Spark jars once');
  fs.mkdirSync(dir, { recursive: true });
  const mavenLog = path.join(dir, 'maven.log');
  const staging = `${job.libs}.partial`;
  fs.rmSync(staging, { recursive: true, force: true });
  out(
    `spark: building the job and resolving Spark's jars from Maven Central (once; cached in ${rel(root, dir)})...`,
  );
  const t0 = Date.now();
  const logOffset = fileSize(mavenLog);
  const pom = path.join(src, 'pom.xml');
  const code = await run(
    'mvn',
    ['-q', '-B', '-f', pom, 'package', 'dependency:copy-dependencies', `-Dspark.libs.dir=${staging}`],
    root,
    mavenLog,
  );
  if (code !== 0) {
    throw new StackError(
      `spark: building the job with Maven failed (exit ${code}): ${errorLine(mavenLog, logOffset, true) ?? '?'}; ` +
        `log: ${rel(root, mavenLog)}`,
    );
  }
  fs.rmSync(job.libs, { recursive: true, force: true });
  fs.renameSync(staging, job.libs);
  fs.writeFileSync(marker, `${hash}\n`);
  const count = fs.readdirSync(job.libs).filter((f) => f.endsWith('.jar')).length;
  out(`spark: job built, ${count} jars of Spark resolved in ${seconds(Date.now() - t0)}`);
  return job;
}

export interface RunSparkOptions {
  /** The JVM's heap (-Xmx), MB. Default 4096. */
  heapMb?: number;
  /** Spark master. Default local[*]. */
  master?: string;
  /** Shuffle partitions: Spark's default of 200 is for clusters; a couple of cores want a few. Default 8. */
  shufflePartitions?: number;
  /** Each line the job prints on stdout (its progress). Default: to stdout. */
  onLine?: (line: string) => void;
  /** Where Spark's own log (stderr) goes. Default .cache/spark/job.log. */
  logFile?: string;
  /** More Spark settings (spark.* names), e.g. spark.sql.codegen.wholeStage=false for tiny inputs. */
  conf?: Record<string, string>;
}

/** Runs the job in a JVM of its own with `args` (RecsJob's options); resolves when it ends. */
export async function runSparkJob(
  root: string,
  job: SparkJob,
  args: readonly string[],
  o: RunSparkOptions = {},
): Promise<void> {
  const logFile = o.logFile ?? path.join(root, '.cache', 'spark', 'job.log');
  fs.mkdirSync(path.dirname(logFile), { recursive: true });
  const logOffset = fileSize(logFile);
  const onLine = o.onLine ?? stdoutLine;
  const java = [
    `-Xmx${o.heapMb ?? 4096}m`,
    ...SPARK_JAVA_OPTIONS,
    `-Dlog4j2.configurationFile=${job.log4j}`,
    // SparkConf reads spark.* system properties: no UI to serve on a batch run, few partitions on few cores.
    '-Dspark.ui.enabled=false',
    `-Dspark.sql.shuffle.partitions=${o.shufflePartitions ?? 8}`,
    ...Object.entries(o.conf ?? {}).map(([k, v]) => `-D${k}=${v}`),
    // ALS's lineage over its iterations deserialises deep; the default thread stack overflows on it.
    '-Xss16m',
    '-cp',
    `${job.jar}${path.delimiter}${path.join(job.libs, '*')}`,
    RECS_MAIN,
    '--master',
    o.master ?? 'local[*]',
    ...args,
  ];
  const fd = fs.openSync(logFile, 'a');
  try {
    const code = await new Promise<number>((resolve, reject) => {
      const child = spawn('java', java, { cwd: root, stdio: ['ignore', 'pipe', fd] });
      let rest = '';
      child.stdout!.setEncoding('utf8');
      child.stdout!.on('data', (chunk: string) => {
        const lines = (rest + chunk).split('\n');
        rest = lines.pop() ?? '';
        for (const l of lines) if (l.trim()) onLine(l);
      });
      child.once('error', reject);
      child.once('close', (c) => {
        if (rest.trim()) onLine(rest);
        resolve(c ?? 1);
      });
    });
    if (code !== 0) {
      throw new StackError(
        `spark: the job failed (exit ${code}): ${errorLine(logFile, logOffset, true) ?? '?'}; log: ${rel(root, logFile)}`,
      );
    }
  } finally {
    fs.closeSync(fd);
  }
}
