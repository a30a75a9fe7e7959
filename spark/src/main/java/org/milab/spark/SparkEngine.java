package org.milab.spark;

import org.apache.spark.SparkConf;
import org.apache.spark.SparkContext;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.broadcast.Broadcast;
import org.apache.spark.scheduler.SparkListener;
import org.apache.spark.scheduler.SparkListenerTaskEnd;
import org.apache.spark.sql.SparkSession;
import org.milab.circuit.RemoteEdgePasses;
import org.milab.circuit.EdgeRunner;
import org.milab.circuit.TokenPair;
import org.milab.engine.Capture;
import org.milab.engine.Engine;
import org.milab.engine.InterventionEngine;
import org.milab.engine.RecomputePath;
import org.milab.engine.PatchRow;
import org.milab.engine.TokenIds;
import org.milab.graph.GraphVariant;
import org.milab.graph.HookNames;
import org.milab.graph.PatchSite;
import org.milab.lab.LabModel;
import org.milab.model.ModelConfig;
import org.milab.util.UserError;

import java.util.ArrayList;
import java.util.Collection;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The engine on Apache Spark. A patch job becomes partitions, each a run of the local engine's own batches
 * ({@link LocalBatches}: batch composition changes float32 results, so this makes them equal a local run's
 * bit for bit); executors run them with the local engine's batched code path, on the recompute path the
 * driver's engine is set to, with sessions they open once per JVM from the exported graphs (shared storage,
 * checked by sha256), reading the job's prompts and cached activations from one broadcast; rows come back
 * as Arrow batches and are put back in row order, each exactly once. Clean captures run on the driver with
 * the local engine: stages read them there (donor values, patterns), and they are one pass per prompt.
 */
public final class SparkEngine implements Engine, RemoteEdgePasses.Provider, AutoCloseable {
    public static final int DEFAULT_PARTITION_ROWS = 1024;
    private static final Pattern MASTER = Pattern.compile("local(\\[(\\d+|\\*)(,\\s*\\d+)?])?|local-cluster\\[.+]|spark://.+|yarn|k8s://.+");
    private static final String MASTER_FIX = "Use --spark-master local[N], local[N,F] (F attempts per task), "
            + "spark://host:port, yarn or k8s://... (SPARK_MASTER=... with make).";
    private static final Pattern REMOTE_USER_ERROR = Pattern.compile(UserError.class.getName() + ": ([^\\n]+)");

    private final InterventionEngine local;
    private final SparkSession spark;
    private final JavaSparkContext jsc;
    private final GraphSpec graphs;
    private final int partitionRows;
    private final Map<String, Long> executorCounters = new LinkedHashMap<>();
    private final List<Map<String, Object>> jobs = new ArrayList<>();
    private final TaskFailures failures = new TaskFailures();
    private int failPartition = -1;

    private SparkEngine(InterventionEngine local, SparkSession spark, GraphSpec graphs, int partitionRows) {
        this.local = local;
        this.spark = spark;
        this.jsc = JavaSparkContext.fromSparkContext(spark.sparkContext());
        this.graphs = graphs;
        this.partitionRows = partitionRows;
        spark.sparkContext().addSparkListener(failures);
    }

    /** Failed task attempts (Spark retried them, or the job failed): counted for the run manifest. */
    private static final class TaskFailures extends SparkListener {
        private final AtomicInteger count = new AtomicInteger();
        private final List<String> first = new CopyOnWriteArrayList<>();

        @Override
        public void onTaskEnd(SparkListenerTaskEnd end) {
            if (end.taskInfo().successful()) return;
            count.incrementAndGet();
            if (first.size() < 5) first.add(end.reason().toString().lines().findFirst().orElse(""));
        }
    }

    /**
     * @param master null: the master spark-submit set (spark.master), else local[*]
     */
    static SparkEngine open(LabModel model, InterventionEngine local, String master, int partitionRows) {
        SparkConf conf = new SparkConf(); // spark.* system properties, as spark-submit sets them
        String m = master != null ? master : conf.get("spark.master", "local[*]");
        if (!MASTER.matcher(m).matches()) // before Spark, which would log a stack trace first
            throw new UserError("Spark master '" + m + "' is not a master URL.", MASTER_FIX);
        MasterChecks.require(m, MASTER_FIX);
        SparkSession.Builder b = SparkSession.builder().appName("milab " + model.id()).master(m);
        if (!conf.contains("spark.log.level")) b.config("spark.log.level", "WARN"); // quiet unless asked
        if (m.startsWith("local")) // one JVM: no web UI, no hostname lookups
            b.config("spark.ui.enabled", "false").config("spark.driver.host", "127.0.0.1")
                    .config("spark.driver.bindAddress", "127.0.0.1");
        SparkSession spark;
        try {
            spark = b.getOrCreate();
        } catch (Exception e) { // a bad master URL is a SparkException, checked though Scala does not declare it
            throw new UserError("Spark could not start with master '" + m + "': " + e.getMessage(), MASTER_FIX, e);
        }
        int taskCpus = Integer.parseInt(spark.sparkContext().getConf().get("spark.task.cpus", "1"));
        return new SparkEngine(local, spark, GraphSpec.of(model, taskCpus), partitionRows);
    }

    @Override
    public ModelConfig config() {
        return local.config();
    }

    @Override
    public Map<TokenIds, Capture> capture(Collection<TokenIds> prompts, Set<String> hooks, String label) {
        return local.capture(prompts, hooks, label);
    }

    @Override
    public float[][] patch(PatchSite site, List<PatchRow> rows, String label, Map<TokenIds, Capture> kv,
                           RecomputePath requested) {
        float[][] out = new float[rows.size()][];
        if (rows.isEmpty()) return out;
        RecomputePath path = pathOf(site, kv, requested);
        LocalBatches.Plan plan = LocalBatches.plan(rows, path, local);
        List<WorkUnit.Part> parts = WorkUnit.partition(plan, partitionRows);
        long[] expected = new long[3];
        boolean reproduces = reproduces(plan, parts, expected);
        List<WorkUnit> units = new ArrayList<>(parts.size());
        for (int p = 0; p < parts.size(); p++) units.add(WorkUnit.of(p, parts.size(), site, label, plan, parts.get(p)));
        Broadcast<WorkUnit.JobData> job = jsc.broadcast(WorkUnit.JobData.of(plan.promptIndex(),
                path == RecomputePath.WHOLE ? null : kv, path.cacheHooks(config(), 0)));
        PatchTask task = new PatchTask(graphs, job, path, failPartition);
        failPartition = -1; // the test hook fails one job only
        long t0 = System.nanoTime();
        List<byte[]> batches;
        try {
            batches = collect(units, task, label);
        } finally {
            job.destroy();
        }
        float[][] unique = new float[plan.unique().size()][];
        Map<String, Long> counted = new LinkedHashMap<>();
        for (byte[] b : batches) ArrowRows.read(b, unique, counted);
        for (int i = 0; i < unique.length; i++)
            if (unique[i] == null) throw new IllegalStateException("row " + i + " of '" + label + "' never arrived");
        for (int i = 0; i < out.length; i++) out[i] = unique[plan.source()[i]].clone();
        counted.forEach((k, v) -> executorCounters.merge(k, v, Long::sum));
        // the executors' engines made exactly the planned calls, or the numbers may differ from a local run's
        boolean same = reproduces && counted.getOrDefault("forward_calls", -1L) == expected[0]
                && counted.getOrDefault("forward_rows", -1L) == expected[1]
                && counted.getOrDefault("forward_tokens", -1L) == expected[2];
        if (!same)
            System.err.println("warning: the Spark partitions of '" + label + "' did not reproduce the local engine's "
                    + "batches (planned calls/rows/tokens " + java.util.Arrays.toString(expected) + ", executors counted "
                    + counted + "); its numbers may differ from a local run's at float precision. LocalBatches "
                    + "must follow InterventionEngine's batching.");
        Map<String, Object> entry = new LinkedHashMap<>();
        entry.put("label", label);
        entry.put("site", site.name());
        entry.put("path", path.name().toLowerCase(java.util.Locale.ROOT));
        entry.put("rows", rows.size());
        entry.put("distinct_rows", plan.unique().size());
        entry.put("ort_calls", plan.calls().size());
        entry.put("partitions", units.size());
        entry.put("partition_rows", parts.stream().map(p -> p.rows().size()).toList());
        if (plan.resume() != null) entry.put("past_positions", plan.resume().pastWidth());
        entry.put("batches_match_local_engine", same);
        entry.put("seconds", (System.nanoTime() - t0) / 1e9);
        jobs.add(entry);
        return out;
    }

    /**
     * The circuit step's exactly patched edge rows (single-edge effects, faithfulness sweeps) on Spark: each job is
     * split into runs of whole calls of {@code batchRows} rows (at least one per task slot, or per
     * {@code partitionRows} rows), so every executor makes the local run's calls; attribution and the base passes
     * stay on the driver.
     */
    @Override
    public RemoteEdgePasses edgePasses(LabModel model, List<TokenPair> pairs, int batchRows) {
        EdgeTask task = new EdgeTask(EdgeTask.Spec.of(model, pairs, batchRows, graphs.threads()));
        return (rows, label) -> edgeJob(task, rows, batchRows, label);
    }

    /** One Spark job: a partition per unit, each answered by one Arrow batch. */
    private <U> List<byte[]> collect(List<U> units, org.apache.spark.api.java.function.Function<U, byte[]> task, String label) {
        jsc.setJobDescription(label);
        try {
            return jsc.parallelize(units, units.size()).map(task).collect();
        } catch (Exception e) { // SparkException is checked, though Scala does not declare it
            throw executorFailure(label, e);
        }
    }

    private float[][] edgeJob(EdgeTask task, List<EdgeRunner.Row> rows, int batchRows, String label) {
        float[][] out = new float[rows.size()][];
        if (rows.isEmpty()) return out;
        int calls = (rows.size() + batchRows - 1) / batchRows;
        List<int[]> ranges = EdgeTask.partitions(rows.size(), batchRows, jsc.defaultParallelism(), partitionRows);
        List<EdgeTask.Unit> units = new ArrayList<>(ranges.size());
        for (int[] r : ranges) units.add(EdgeTask.Unit.of(units.size(), ranges.size(), r[0], rows.subList(r[0], r[1])));
        long t0 = System.nanoTime();
        List<byte[]> batches = collect(units, task, label);
        Map<String, Long> counted = new LinkedHashMap<>();
        for (byte[] b : batches) ArrowRows.read(b, out, counted);
        for (int i = 0; i < out.length; i++)
            if (out[i] == null) throw new IllegalStateException("row " + i + " of '" + label + "' never arrived");
        counted.forEach((k, v) -> executorCounters.merge(k, v, Long::sum));
        Map<String, Object> entry = new LinkedHashMap<>();
        entry.put("label", label);
        entry.put("site", GraphVariant.EDGE_MASK.id());
        entry.put("path", GraphVariant.EDGE_MASK.id());
        entry.put("rows", rows.size());
        entry.put("distinct_rows", rows.size());
        entry.put("ort_calls", calls);
        entry.put("partitions", units.size());
        entry.put("partition_rows", units.stream().map(u -> u.example().length).toList());
        entry.put("pad_rows", 0);
        entry.put("batches_match_local_engine", counted.getOrDefault(EdgeTask.CALLS, -1L) == calls
                && counted.getOrDefault(EdgeTask.ROWS, -1L) == rows.size());
        entry.put("seconds", (System.nanoTime() - t0) / 1e9);
        jobs.add(entry);
        return out;
    }

    /** The path the local engine would take for this request (InterventionEngine.patch's own choice). */
    private RecomputePath pathOf(PatchSite site, Map<TokenIds, Capture> kv, RecomputePath p) {
        if (kv == null || site != PatchSite.HOOK_Z || p == RecomputePath.WHOLE) return RecomputePath.WHOLE;
        String last = HookNames.hookResidPre(config().nLayer() - 1); // captures made for the minimal path hold it
        return p.resumes() && kv.values().stream().allMatch(c -> c.hooks().containsKey(last)) ? p : RecomputePath.SUFFIX;
    }

    /**
     * Whether the partitions make exactly the job's calls: on the resuming paths each runs its calls as given, which
     * together must be the job's, each once, over caches of the job's widths; on the others each partition,
     * planned on its own as an executor's engine plans it, must make exactly the job's calls. Adds the calls,
     * rows and padded tokens the executors will count to {@code expected}.
     */
    private boolean reproduces(LocalBatches.Plan plan, List<WorkUnit.Part> parts, long[] expected) {
        Map<String, LocalBatches.Call> jobCalls = new java.util.HashMap<>();
        for (LocalBatches.Call c : plan.calls()) jobCalls.put(key(c.layer(), c.rows()), c);
        java.util.Set<String> made = new java.util.HashSet<>();
        boolean ok = true;
        for (WorkUnit.Part part : parts) {
            List<LocalBatches.Call> calls = new ArrayList<>(); // widths: -1 where the job's call decides it
            if (part.plan() != null) {
                ok &= part.plan().cacheWidth() == plan.resume().cacheWidth() && part.plan().pastWidth() == plan.resume().pastWidth();
                for (org.milab.engine.ResumePlan.Call c : part.plan().calls())
                    calls.add(new LocalBatches.Call(c.rows(), -1, c.startLayer()));
            } else {
                LocalBatches.Plan p = LocalBatches.plan(part.engineRows(plan), plan.path(), local);
                ok &= p.unique().size() == part.rows().size();
                calls.addAll(p.calls());
            }
            for (LocalBatches.Call c : calls) {
                String k = key(c.layer(), java.util.Arrays.stream(c.rows()).map(part.rows()::get).toArray());
                LocalBatches.Call job = jobCalls.get(k);
                ok &= job != null && made.add(k) && (c.width() < 0 || c.width() == job.width());
                int width = job != null ? job.width() : c.width();
                expected[0]++;
                expected[1] += c.rows().length;
                expected[2] += (long) c.rows().length * width;
            }
        }
        return ok && made.size() == plan.calls().size();
    }

    private static String key(int layer, int[] rows) {
        int[] sorted = rows.clone();
        java.util.Arrays.sort(sorted);
        return layer + ":" + java.util.Arrays.toString(sorted);
    }

    /** One clear message: an executor's UserError (e.g. a missing or mismatched graph) as the run's error. */
    private static RuntimeException executorFailure(String label, Exception e) {
        for (Throwable c = e; c != null; c = c.getCause())
            if (c instanceof UserError u) return new UserError(u.getMessage(), null, e);
        for (Throwable c = e; c != null; c = c.getCause()) {
            Matcher m = REMOTE_USER_ERROR.matcher(String.valueOf(c.getMessage()));
            if (m.find()) return new UserError(m.group(1), null, e);
        }
        return new IllegalStateException("Spark job '" + label + "' failed: " + e.getMessage(), e);
    }

    /** Driver (captures) and executors (patched passes, successful task attempts) together. */
    @Override
    public Map<String, Long> counters() {
        Map<String, Long> c = new LinkedHashMap<>(local.counters());
        executorCounters.forEach((k, v) -> c.merge(k, v, Long::sum));
        return c;
    }

    @Override
    public Map<String, Object> describe() {
        SparkContext sc = spark.sparkContext();
        Map<String, Object> d = new LinkedHashMap<>();
        d.put("engine", SparkEngineProvider.NAME);
        d.put("spark_version", spark.version());
        d.put("master", sc.master());
        // a local master's executor is the driver JVM; a cluster lists the driver too
        int registered = sc.getExecutorMemoryStatus().size();
        d.put("executors", sc.isLocal() ? 1 : Math.max(0, registered - 1));
        d.put("default_parallelism", sc.defaultParallelism());
        d.put("task_max_attempts", maxAttempts(sc));
        d.put("executor_ort_threads", graphs.threads());
        d.put("graph_dir", graphs.graphDir());
        d.put("partition_rows_target", partitionRows);
        d.put("batch_rows", graphs.maxRows());
        d.put("captures", "driver, local engine");
        d.put("failed_task_attempts", failures.count.get());
        d.put("task_failures", List.copyOf(failures.first));
        d.put("driver_counters", local.counters());
        d.put("executor_counters", Map.copyOf(executorCounters));
        d.put("jobs", List.copyOf(jobs));
        return d;
    }

    /** Attempts per task: local[N,F] gives F, other local masters 1; a cluster spark.task.maxFailures (4). */
    private static int maxAttempts(SparkContext sc) {
        Matcher m = Pattern.compile("local\\[[^,\\]]+,\\s*(\\d+)\\]").matcher(sc.master());
        if (sc.isLocal()) return m.matches() ? Integer.parseInt(m.group(1)) : 1;
        return Integer.parseInt(sc.getConf().get("spark.task.maxFailures", "4"));
    }

    /** Test hook: the next job's partition {@code index} fails mid-partition on its first attempt. */
    void failOnceMidPartition(int index) {
        failPartition = index;
    }

    @Override
    public void close() {
        boolean local = spark.sparkContext().isLocal();
        spark.stop();
        if (local) {
            ExecutorModels.closeAll();
            EdgeTask.Runners.closeAll();
        }
    }
}
