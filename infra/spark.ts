/**
 * The product-recommendation job on this machine: `node dist/infra/spark.js --input FILE.csv --output DIR
 * [RecsJob options]` builds the job and resolves Spark's jars once (infra/stack/spark.ts), then runs it in
 * local[*] and prints its progress. `npm run recs:train` calls it; a cluster runs the same jar with
 * `spark-submit --class dev.herald.recs.RecsJob .cache/spark/target/herald-recs.jar --input ... --output ...`.
 *
 * `node dist/infra/spark.js --prepare` only builds the job and resolves the jars (CI does it before the tests).
 *
 * Environment: SPARK_HEAP_MB (default 4096), SPARK_MASTER (default local[*]), SPARK_SHUFFLE_PARTITIONS
 * (default 8), SPARK_CONF (more settings, `spark.a=1,spark.b=2`). Exit 0 done, 1 failed (one line on stderr).
 */
import { ensureSparkJob, runSparkJob } from './stack/spark';
import { findRoot, message, stderrLine } from './stack/util';

async function main(args: string[]): Promise<void> {
  const root = findRoot();
  const job = await ensureSparkJob(root);
  if (args[0] === '--prepare') return;
  const env = process.env;
  const conf = Object.fromEntries(
    (env.SPARK_CONF ?? '')
      .split(',')
      .filter((kv) => kv.includes('='))
      .map((kv) => [kv.slice(0, kv.indexOf('=')).trim(), kv.slice(kv.indexOf('=') + 1).trim()]),
  );
  await runSparkJob(root, job, args, {
    ...(env.SPARK_HEAP_MB ? { heapMb: Number(env.SPARK_HEAP_MB) } : {}),
    ...(env.SPARK_MASTER ? { master: env.SPARK_MASTER } : {}),
    ...(env.SPARK_SHUFFLE_PARTITIONS ? { shufflePartitions: Number(env.SPARK_SHUFFLE_PARTITIONS) } : {}),
    conf,
  });
}

if (require.main === module) {
  main(process.argv.slice(2)).catch((err: unknown) => {
    stderrLine(message(err));
    process.exitCode = 1;
  });
}
