package dev.herald.recs;

import static org.apache.spark.sql.functions.*;

import java.io.IOException;
import java.lang.management.ManagementFactory;
import java.lang.management.MemoryPoolMXBean;
import java.lang.management.MemoryType;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Locale;
import java.util.Map;
import org.apache.spark.ml.recommendation.ALS;
import org.apache.spark.ml.recommendation.ALSModel;
import org.apache.spark.sql.Column;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.expressions.Window;
import org.apache.spark.sql.expressions.WindowSpec;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.StructType;

/**
 * Herald's product-recommendation batch job (services/recs is the TypeScript side of the same formulas).
 *
 * <p>In: a CSV of line items with a header, columns user_id, timestamp (epoch seconds or ISO 8601), item,
 * and optionally quantity, price and category: the file `npm run recs:train` exports from the purchases
 * topic, or anyone's log in the offline command's format. Out, under --output (JSON lines, Spark's part
 * files): users/ (each user's blended top candidates with their ALS, item-CF and popularity parts), items/
 * (each product's item-CF neighbours and repurchase cycle), popular/ (most bought, per category and '*'),
 * and run.json (counts, seconds, peak memory). Herald loads that into Redis as a new version and switches.
 *
 * <p>Steps: implicit strengths (clamp(1 + ln(w * spend/mean + (1 - w) * qty/mean), 0.1, 5.0)), ALS on
 * implicit feedback (MLlib), item-item cosine on strengths (each user's strongest products only),
 * popularity (buyers per product), the candidates (each source's best and the user's own products) with
 * each part scaled to the user's best and blended, repurchase cycles (median gap).
 *
 * <p>Runs unchanged under spark-submit (master from --master or the submit's own) and from
 * infra/stack/spark.ts with local[*].
 */
public final class RecsJob {
  private RecsJob() {}

  /** Options, as --name value. */
  static final class Options {
    String input;
    String output;
    String master = null;
    int rank = 16;
    int iterations = 10;
    double reg = 0.1;
    double alpha = 10;
    int top = 20;
    int sourceTop = 50;
    int neighbours = 20;
    int maxPerUser = 50;
    int popular = 50;
    double spendWeight = 0.5;
    double wAls = 0.4;
    double wCf = 0.4;
    double wPop = 0.2;
    int partitions = 0;
    boolean baseline = false;

    static Options parse(String[] args) {
      Map<String, String> m = new HashMap<>();
      Options o = new Options();
      for (int i = 0; i < args.length; i++) {
        String a = args[i];
        if (!a.startsWith("--")) throw new IllegalArgumentException("unexpected argument " + a);
        String key = a.substring(2);
        if (key.equals("baseline")) {
          o.baseline = true;
          continue;
        }
        if (i + 1 >= args.length) throw new IllegalArgumentException(a + " needs a value");
        m.put(key, args[++i]);
      }
      for (Map.Entry<String, String> e : m.entrySet()) {
        String v = e.getValue();
        switch (e.getKey()) {
          case "input" -> o.input = v;
          case "output" -> o.output = v;
          case "master" -> o.master = v;
          case "rank" -> o.rank = Integer.parseInt(v);
          case "iterations" -> o.iterations = Integer.parseInt(v);
          case "reg" -> o.reg = Double.parseDouble(v);
          case "alpha" -> o.alpha = Double.parseDouble(v);
          case "top" -> o.top = Integer.parseInt(v);
          case "source-top" -> o.sourceTop = Integer.parseInt(v);
          case "neighbours" -> o.neighbours = Integer.parseInt(v);
          case "max-per-user" -> o.maxPerUser = Integer.parseInt(v);
          case "popular" -> o.popular = Integer.parseInt(v);
          case "spend-weight" -> o.spendWeight = Double.parseDouble(v);
          case "partitions" -> o.partitions = Integer.parseInt(v);
          case "weights" -> {
            String[] w = v.split(",");
            o.wAls = Double.parseDouble(w[0]);
            o.wCf = Double.parseDouble(w[1]);
            o.wPop = Double.parseDouble(w[2]);
          }
          default -> throw new IllegalArgumentException("unknown option --" + e.getKey());
        }
      }
      if (o.input == null || o.output == null)
        throw new IllegalArgumentException("--input FILE.csv and --output DIR are required");
      return o;
    }
  }

  private static long started;

  static void progress(String what) {
    System.out.printf(Locale.ROOT, "recs: %s (%.1f s)%n", what, (System.nanoTime() - started) / 1e9);
    System.out.flush();
  }

  /** Peak heap (MB) since the last reset, over the JVM's heap pools. */
  static double peakHeapMb() {
    long sum = 0;
    for (MemoryPoolMXBean p : ManagementFactory.getMemoryPoolMXBeans())
      if (p.getType() == MemoryType.HEAP) sum += p.getPeakUsage().getUsed();
    return sum / 1048576.0;
  }

  /** The process's peak resident set (MB) since the last reset, from /proc (Linux), or -1. */
  static double peakRssMb() {
    try {
      for (String line : Files.readAllLines(Path.of("/proc/self/status")))
        if (line.startsWith("VmHWM:")) return Long.parseLong(line.replaceAll("[^0-9]", "")) / 1024.0;
    } catch (IOException | NumberFormatException e) {
      // not Linux: heap only
    }
    return -1;
  }

  static void resetPeaks() {
    for (MemoryPoolMXBean p : ManagementFactory.getMemoryPoolMXBeans()) p.resetPeakUsage();
    try {
      Files.writeString(Path.of("/proc/self/clear_refs"), "5");
    } catch (IOException | SecurityException e) {
      // the RSS peak then spans the whole process
    }
  }

  public static void main(String[] args) throws Exception {
    Options o = Options.parse(args);
    started = System.nanoTime();
    SparkSession.Builder b = SparkSession.builder().appName("herald-recs");
    if (o.master != null) b = b.master(o.master);
    SparkSession spark = b.getOrCreate();
    spark.sparkContext().setLogLevel("WARN");
    if (o.partitions > 0) spark.conf().set("spark.sql.shuffle.partitions", o.partitions);
    // ALS checkpoints its factors every 10 iterations when it has somewhere to: it cuts the lineage.
    spark.sparkContext().setCheckpointDir(o.output + "/_checkpoints");
    progress("spark " + spark.version() + " up, master " + spark.sparkContext().master());
    StringBuilder report = new StringBuilder("{");
    if (o.baseline) {
      resetPeaks();
      long t0 = System.nanoTime();
      long n = popularityOnly(spark, o);
      double s = (System.nanoTime() - t0) / 1e9;
      progress(String.format(Locale.ROOT,
          "popularity-only pass: %d products in %.1f s, peak heap %.0f MB, peak RSS %.0f MB",
          n, s, peakHeapMb(), peakRssMb()));
      report.append(String.format(Locale.ROOT,
          "\"popularityOnly\":{\"seconds\":%.2f,\"peakHeapMb\":%.0f,\"peakRssMb\":%.0f},", s, peakHeapMb(), peakRssMb()));
    }
    resetPeaks();
    long t0 = System.nanoTime();
    String counts = run(spark, o);
    double s = (System.nanoTime() - t0) / 1e9;
    progress(String.format(Locale.ROOT, "full job: %.1f s, peak heap %.0f MB, peak RSS %.0f MB", s, peakHeapMb(), peakRssMb()));
    report.append(String.format(Locale.ROOT,
        "\"full\":{\"seconds\":%.2f,\"peakHeapMb\":%.0f,\"peakRssMb\":%.0f},%s,\"maxHeapMb\":%.0f}",
        s, peakHeapMb(), peakRssMb(), counts, Runtime.getRuntime().maxMemory() / 1048576.0));
    Files.writeString(Path.of(o.output, "run.json"), report.toString());
    spark.stop();
  }

  /** The line items, typed; malformed rows (no user or item, bad quantity or price, no time) dropped. */
  static Dataset<Row> read(SparkSession spark, Options o) {
    Dataset<Row> raw = spark.read().option("header", "true").option("mode", "PERMISSIVE").csv(o.input);
    StructType schema = raw.schema();
    boolean hasQty = schema.getFieldIndex("quantity").isDefined();
    boolean hasPrice = schema.getFieldIndex("price").isDefined();
    boolean hasCategory = schema.getFieldIndex("category").isDefined();
    Column ts = col("timestamp");
    Column at = when(ts.rlike("^[0-9]+(\\.[0-9]*)?$"), ts.cast(DataTypes.DoubleType))
        .otherwise(unix_micros(to_timestamp(ts)).divide(1e6));
    return raw.select(
            trim(col("user_id")).as("user_id"),
            trim(col("item")).as("item"),
            at.as("at"),
            (hasQty ? coalesce(col("quantity").cast(DataTypes.DoubleType), lit(1.0)) : lit(1.0)).as("qty"),
            (hasPrice ? coalesce(col("price").cast(DataTypes.DoubleType), lit(0.0)) : lit(0.0)).as("price"),
            (hasCategory ? trim(col("category")) : lit(null).cast(DataTypes.StringType)).as("category"))
        .where(col("user_id").isNotNull().and(col("user_id").notEqual(""))
            .and(col("item").isNotNull()).and(col("item").notEqual(""))
            .and(col("at").isNotNull()).and(col("qty").gt(0)).and(col("price").geq(0)));
  }

  /** The baseline: buyers per product and the most bought per category, nothing else. */
  static long popularityOnly(SparkSession spark, Options o) {
    Dataset<Row> lines = read(spark, o);
    Dataset<Row> pop = lines.groupBy("item").agg(countDistinct("user_id").as("buyers"), first("category", true).as("category"));
    pop.cache();
    long n = pop.count();
    popularByCategory(pop, o).write().mode("overwrite").json(o.output + "/baseline-popular");
    pop.unpersist();
    return n;
  }

  static Dataset<Row> popularByCategory(Dataset<Row> pop, Options o) {
    Dataset<Row> all = pop.withColumn("category", lit("*"));
    Dataset<Row> both = pop.where(col("category").isNotNull()).unionByName(all);
    WindowSpec w = Window.partitionBy("category").orderBy(col("buyers").desc(), col("item"));
    return both.withColumn("r", row_number().over(w)).where(col("r").leq(o.popular))
        .groupBy("category")
        .agg(sort_array(collect_list(struct(col("r"), col("item").as("i"), col("buyers").as("b")))).as("p"))
        .select(col("category").as("k"), expr("transform(p, x -> named_struct('i', x.i, 'b', x.b))").as("p"));
  }

  /** The whole job; returns the counts as JSON fields. */
  static String run(SparkSession spark, Options o) {
    Dataset<Row> lines = read(spark, o).cache();
    long rows = lines.count();
    progress("read " + rows + " line items");

    // Dense int ids for ALS.
    Dataset<Row> users = index(spark, lines.select("user_id").distinct(), "user_id", "u");
    Dataset<Row> items = index(spark, lines.select("item").distinct(), "item", "i");
    Dataset<Row> ids = lines.join(broadcast(items), "item").join(users, "user_id");

    // Implicit strengths per (user, product).
    Dataset<Row> pairs = ids.groupBy("u", "i")
        .agg(sum(col("qty").multiply(col("price"))).as("spend"), sum("qty").as("q"));
    WindowSpec byUser = Window.partitionBy("u");
    Column qtyRatio = col("q").divide(avg("q").over(byUser));
    Column meanSpend = avg("spend").over(byUser);
    Column spendRatio = when(meanSpend.gt(0), col("spend").divide(meanSpend)).otherwise(qtyRatio);
    Column mixed = spendRatio.multiply(o.spendWeight).plus(qtyRatio.multiply(1 - o.spendWeight));
    Dataset<Row> strengths = pairs
        .withColumn("s", when(mixed.gt(0), least(lit(5.0), greatest(lit(0.1), log(mixed).plus(1)))).otherwise(lit(0.1)))
        .select("u", "i", "s")
        .cache();
    long nPairs = strengths.count();
    progress("strengths of " + nPairs + " (user, product) pairs");

    // Popularity: buyers per product.
    Dataset<Row> pop = strengths.groupBy("i").agg(count(lit(1)).as("buyers")).cache();
    double maxBuyers = pop.agg(max("buyers")).first().getLong(0);
    Dataset<Row> popTop = pop.orderBy(col("buyers").desc(), col("i")).limit(o.sourceTop);
    progress("popularity of " + pop.count() + " products");

    // ALS on implicit feedback.
    ALS als = new ALS().setImplicitPrefs(true).setRank(o.rank).setMaxIter(o.iterations).setRegParam(o.reg)
        .setAlpha(o.alpha).setUserCol("u").setItemCol("i").setRatingCol("s").setSeed(42L)
        .setColdStartStrategy("drop");
    ALSModel model = als.fit(strengths);
    Dataset<Row> alsTop = model.recommendForAllUsers(o.sourceTop)
        .select(col("u"), explode(col("recommendations")).as("r"))
        .select(col("u"), col("r.i").as("i"));
    progress("ALS trained (rank " + o.rank + ", " + o.iterations + " iterations)");

    // Item-CF: cosine over each user's strongest products.
    Dataset<Row> strongest = strengths
        .withColumn("r", row_number().over(byUser.orderBy(col("s").desc(), col("i"))))
        .where(col("r").leq(o.maxPerUser)).drop("r").cache();
    Dataset<Row> norms = strongest.groupBy("i").agg(sqrt(sum(col("s").multiply(col("s")))).as("n"));
    Dataset<Row> a = strongest.select(col("u"), col("i").as("j"), col("s").as("sj"));
    Dataset<Row> dots = strongest.join(a, "u").where(col("i").notEqual(col("j")))
        .groupBy("j", "i").agg(sum(col("s").multiply(col("sj"))).as("dot"));
    Dataset<Row> sims = dots
        .join(norms.select(col("i").as("j"), col("n").as("nj")), "j")
        .join(norms.select(col("i"), col("n").as("ni")), "i")
        .select(col("j"), col("i"), col("dot").divide(col("ni").multiply(col("nj"))).as("sim"));
    Dataset<Row> neighbours = sims
        .withColumn("r", row_number().over(Window.partitionBy("j").orderBy(col("sim").desc(), col("i"))))
        .where(col("r").leq(o.neighbours)).drop("r").cache();
    long nNeighbours = neighbours.count();
    progress("item-CF: " + nNeighbours + " neighbour links");
    // A user's CF score of i: sum over their products j of s_uj * sim(j, i), sim(i, i) = 1.
    Dataset<Row> cf = strongest.select(col("u"), col("i").as("j"), col("s"))
        .join(neighbours, "j")
        .select(col("u"), col("i"), col("s").multiply(col("sim")).as("cf"))
        .unionByName(strongest.select(col("u"), col("i"), col("s").as("cf")))
        .groupBy("u", "i").agg(sum("cf").as("cf"));
    Dataset<Row> cfTop = cf
        .withColumn("r", row_number().over(byUser.orderBy(col("cf").desc(), col("i"))))
        .where(col("r").leq(o.sourceTop)).select("u", "i");

    // Candidates: each source's best and the user's own products, with all three parts.
    Dataset<Row> everyone = strengths.select("u").distinct();
    Dataset<Row> cands = alsTop.unionByName(cfTop).unionByName(strongest.select("u", "i"))
        .unionByName(everyone.crossJoin(broadcast(popTop.select("i"))))
        .distinct();
    // ALS's score of each candidate is the dot product of its user's and product's factors (what
    // model.transform computes). Both factor tables are small enough to broadcast (100k x rank floats), so
    // the candidates are not shuffled for it, as transform's two joins would.
    Dataset<Row> uf = model.userFactors().select(col("id").as("u"), col("features").as("uf"));
    Dataset<Row> itf = model.itemFactors().select(col("id").as("i"), col("features").as("if"));
    Dataset<Row> withAls = cands.join(broadcast(uf), "u").join(broadcast(itf), "i")
        .select(col("u"), col("i"),
            expr("aggregate(zip_with(uf, if, (x, y) -> x * y), 0D, (acc, x) -> acc + x)").as("als"));
    Dataset<Row> scored = withAls
        .join(cf, new String[] {"u", "i"}, "left")
        .join(broadcast(pop), "i")
        .select(col("u"), col("i"), greatest(col("als"), lit(0.0)).as("als"),
            coalesce(col("cf"), lit(0.0)).as("cf"), col("buyers").divide(maxBuyers).as("pop"));
    Dataset<Row> scaled = scored
        .withColumn("als", part(col("als"), byUser))
        .withColumn("cf", part(col("cf"), byUser))
        .withColumn("pop", part(col("pop"), byUser))
        .withColumn("blend", col("als").multiply(o.wAls).plus(col("cf").multiply(o.wCf)).plus(col("pop").multiply(o.wPop)));
    Dataset<Row> best = scaled
        .withColumn("r", row_number().over(byUser.orderBy(col("blend").desc(), col("i"))))
        .where(col("r").leq(o.top));
    Dataset<Row> byUserOut = best
        .join(broadcast(items), "i").join(users, "u")
        .groupBy("user_id")
        .agg(sort_array(collect_list(struct(col("r"), col("item").as("i"),
            round(col("als"), 4).as("a"), round(col("cf"), 4).as("f"), round(col("pop"), 4).as("p")))).as("c"))
        .select(col("user_id").as("u"), expr("transform(c, x -> named_struct('i', x.i, 'a', x.a, 'f', x.f, 'p', x.p))").as("c"));
    byUserOut.write().mode("overwrite").json(o.output + "/users");
    long nUsers = spark.read().json(o.output + "/users").count();
    progress("wrote candidates of " + nUsers + " users");

    // Repurchase cycles: the median gap (days, at least half a day) between a user's purchases of a product.
    WindowSpec byPair = Window.partitionBy("u", "i").orderBy("at");
    Dataset<Row> times = ids.groupBy("u", "i", "at").agg(count(lit(1)).as("n"));
    Dataset<Row> gaps = times.withColumn("gap", col("at").minus(lag("at", 1).over(byPair)).divide(86400.0))
        .where(col("gap").geq(0.5));
    Dataset<Row> cycles = gaps.groupBy("i").agg(percentile_approx(col("gap"), lit(0.5), lit(10000)).as("c"), count(lit(1)).as("g"))
        .where(col("g").geq(3)).select("i", "c");
    // Product ids back from ints for the neighbour lists.
    Dataset<Row> named = neighbours
        .join(broadcast(items.select(col("i").as("j"), col("item").as("from"))), "j")
        .join(broadcast(items.select(col("i"), col("item").as("to"))), "i")
        .groupBy("from")
        .agg(sort_array(collect_list(struct(col("sim").multiply(-1).as("k"), col("to").as("t")))).as("n"))
        .select(col("from").as("i"), expr("transform(n, x -> named_struct('i', x.t, 's', round(-x.k, 4)))").as("n"));
    Dataset<Row> cyclesNamed = cycles.join(broadcast(items), "i").select(col("item").as("i"), round(col("c"), 2).as("c"));
    named.join(cyclesNamed, new String[] {"i"}, "full_outer").write().mode("overwrite").json(o.output + "/items");
    progress("wrote neighbours and repurchase cycles");

    Dataset<Row> popNamed = pop.join(broadcast(items), "i")
        .join(lines.groupBy("item").agg(first("category", true).as("category")), "item")
        .select(col("item"), col("buyers"), col("category"));
    popularByCategory(popNamed, o).write().mode("overwrite").json(o.output + "/popular");
    progress("wrote popularity");
    lines.unpersist();
    return String.format(Locale.ROOT, "\"rows\":%d,\"pairs\":%d,\"users\":%d,\"neighbourLinks\":%d",
        rows, nPairs, nUsers, nNeighbours);
  }

  /** A part scaled to the user's best (0 when their best is 0). */
  static Column part(Column c, WindowSpec byUser) {
    Column m = max(c).over(byUser);
    return when(m.gt(0), c.divide(m)).otherwise(lit(0.0));
  }

  /** Distinct values of `name` with a dense int id in `as`. */
  static Dataset<Row> index(SparkSession spark, Dataset<Row> values, String name, String as) {
    return values.withColumn(as, (row_number().over(Window.orderBy(name)).minus(1)).cast(DataTypes.IntegerType));
  }
}
