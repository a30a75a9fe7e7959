package org.milab.spark;

import org.apache.spark.api.java.function.Function;
import org.milab.circuit.EdgeRunner;
import org.milab.circuit.TokenPair;
import org.milab.graph.GraphVariant;
import org.milab.graph.WeightsLayout;
import org.milab.lab.LabModel;
import org.milab.runtime.Device;
import org.milab.util.UserError;

import java.io.Serializable;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Runs one partition of a circuit run's exactly patched edge rows (single-edge effects, faithfulness sweeps) on an
 * executor: the executor opens the model from the shared project root once, builds the task's {@link EdgeRunner}
 * (its clean and corrupt caches: one pass per example) once per task and JVM, and runs the partition's rows in calls
 * of {@code batchRows} rows from its first row. A partition starts at a multiple of {@code batchRows} in the job, so
 * these are the calls the local run makes, with the same rows and the same padded width (float32 results depend on
 * both).
 */
record EdgeTask(Spec spec) implements Function<EdgeTask.Unit, byte[]> {
    static final String ROWS = "edge_rows", CALLS = "edge_calls";

    /**
     * What an executor needs to rebuild the driver's runner: the project root (graphs/ and manifests/ on shared
     * storage), the model, the sha256 the driver's manifests give for the edge-masked graph and the weights (the
     * executor's copy must match), the task's tokenized examples and the call size.
     */
    record Spec(String root, String modelId, String device, int threads, int maxRows, int maxTokens, String edgeMaskSha256,
                String weightsSha256, int[][] clean, int[][] corrupt, int[] answer, int[] contrast, int batchRows)
            implements Serializable {

        static Spec of(LabModel model, List<TokenPair> pairs, int batchRows, int threads) {
            int n = pairs.size();
            int[][] clean = new int[n][], corrupt = new int[n][];
            int[] answer = new int[n], contrast = new int[n];
            for (int i = 0; i < n; i++) {
                clean[i] = pairs.get(i).clean();
                corrupt[i] = pairs.get(i).corrupt();
                answer[i] = pairs.get(i).answer();
                contrast[i] = pairs.get(i).contrast();
            }
            var graph = model.manifest(GraphVariant.EDGE_MASK).path("graph");
            return new Spec(model.layout().root().toAbsolutePath().toString(), model.id(),
                    model.sessions().execution().requested().id(), threads, model.maxRows(), model.maxTokens(),
                    graph.path("sha256").asText(), graph.path("weights_file_sha256").asText(), clean, corrupt, answer,
                    contrast, batchRows);
        }

        List<TokenPair> pairs() {
            List<TokenPair> out = new ArrayList<>(clean.length);
            for (int i = 0; i < clean.length; i++) out.add(new TokenPair(i, clean[i], corrupt[i], answer[i], contrast[i]));
            return out;
        }

        /** One executor runner per model files, task and call size. */
        String key() {
            return String.join("|", root, modelId, device, Integer.toString(threads), Integer.toString(batchRows),
                    edgeMaskSha256, weightsSha256, Arrays.deepToString(clean), Arrays.deepToString(corrupt),
                    Arrays.toString(answer), Arrays.toString(contrast));
        }
    }

    /**
     * A mask as sent: the value most of its edges have and the edges that differ (a circuit of k edges, or all edges
     * but one, is k or 1 entries instead of every edge's float). Values are copied, never rounded.
     */
    record SparseMask(int size, float base, int[] at, float[] value) implements Serializable {
        static SparseMask of(float[] m) {
            int ones = 0;
            for (float v : m) if (v == 1f) ones++;
            float base = 2 * ones >= m.length ? 1f : 0f;
            int differ = 0;
            for (float v : m) if (Float.floatToRawIntBits(v) != Float.floatToRawIntBits(base)) differ++;
            int[] at = new int[differ];
            float[] value = new float[differ];
            for (int e = 0, k = 0; e < m.length; e++)
                if (Float.floatToRawIntBits(m[e]) != Float.floatToRawIntBits(base)) {
                    at[k] = e;
                    value[k++] = m[e];
                }
            return new SparseMask(m.length, base, at, value);
        }

        float[] dense() {
            float[] m = new float[size];
            Arrays.fill(m, base);
            for (int k = 0; k < at.length; k++) m[at[k]] = value[k];
            return m;
        }
    }

    /**
     * One partition: rows {@code from ..} of the job (from a multiple of the call size), each its example and mask.
     */
    record Unit(int id, int of, int from, int[] example, SparseMask[] mask) implements Serializable {
        static Unit of(int id, int of, int from, List<EdgeRunner.Row> rows) {
            return new Unit(id, of, from, rows.stream().mapToInt(EdgeRunner.Row::example).toArray(),
                    rows.stream().map(r -> SparseMask.of(r.mask())).toArray(SparseMask[]::new));
        }
    }

    /**
     * A job's partitions as row ranges [from, to): contiguous runs of whole calls of {@code batchRows} rows (only
     * the job's last call may be short), at least {@code parallelism} of them or one per {@code partitionRows}
     * rows, never more than there are calls, balanced by call count. Every range starts at a multiple of
     * {@code batchRows}, so its calls are the job's.
     */
    static List<int[]> partitions(int rows, int batchRows, int parallelism, int partitionRows) {
        int calls = (rows + batchRows - 1) / batchRows;
        int parts = Math.min(calls, Math.max(parallelism, (rows + partitionRows - 1) / partitionRows));
        List<int[]> out = new ArrayList<>(parts);
        for (int p = 0; p < parts; p++)
            out.add(new int[]{(int) ((long) p * calls / parts) * batchRows,
                    Math.min(rows, (int) ((long) (p + 1) * calls / parts) * batchRows)});
        return out;
    }

    @Override
    public byte[] call(Unit unit) {
        EdgeRunner runner = Runners.get(spec);
        int n = unit.example().length, B = spec.batchRows();
        float[][] logits = new float[n][];
        long calls = 0;
        for (int s = 0; s < n; s += B, calls++) { // one call per slice, as EdgeRunner.logits would make them
            List<EdgeRunner.Row> rows = new ArrayList<>(B);
            for (int r = s; r < Math.min(n, s + B); r++) rows.add(new EdgeRunner.Row(unit.example()[r], unit.mask()[r].dense()));
            float[][] part = runner.logits(rows);
            System.arraycopy(part, 0, logits, s, part.length);
        }
        int[] index = new int[n];
        for (int r = 0; r < n; r++) index[r] = unit.from() + r;
        Map<String, Long> counters = new LinkedHashMap<>();
        counters.put(ROWS, (long) n);
        counters.put(CALLS, calls);
        return ArrowRows.write(index, logits, counters);
    }

    /** The executor JVM's open models and runners, at most {@link #KEEP} (each holds an ORT session and its caches). */
    static final class Runners {
        private static final int KEEP = 2;
        private record Open(LabModel model, EdgeRunner runner) {}
        private static final Map<String, Open> OPEN = new LinkedHashMap<>(4, 0.75f, true);

        private Runners() {}

        static synchronized EdgeRunner get(Spec spec) {
            Open o = OPEN.get(spec.key());
            if (o != null) return o.runner();
            LabModel model = LabModel.open(Path.of(spec.root()), spec.modelId(), Device.parse(spec.device()), spec.threads(),
                    spec.maxRows(), spec.maxTokens());
            try {
                var graph = model.manifest(GraphVariant.EDGE_MASK).path("graph");
                check(spec, GraphVariant.EDGE_MASK.fileName(), spec.edgeMaskSha256(), graph.path("sha256").asText());
                check(spec, WeightsLayout.FILE_NAME, spec.weightsSha256(), graph.path("weights_file_sha256").asText());
                o = new Open(model, new EdgeRunner(model, spec.pairs(), spec.batchRows()));
            } catch (RuntimeException e) {
                model.close();
                throw e;
            }
            OPEN.put(spec.key(), o);
            for (Iterator<Open> it = OPEN.values().iterator(); OPEN.size() > KEEP; ) { // least recently used first
                Open old = it.next();
                it.remove();
                close(old);
            }
            return o.runner();
        }

        private static void check(Spec spec, String file, String driver, String executor) {
            if (!driver.equals(executor))
                throw new UserError("Spark executor: model '" + spec.modelId() + "' under " + spec.root() + " has " + file
                        + " with sha256 " + executor + " in its manifest, but the driver's says " + driver + ".",
                        "Every executor must read the exported graphs the run's manifests describe, at the same path: put "
                                + spec.root() + "/graphs and /manifests on storage all executors share, or re-run "
                                + "'make export MODEL=" + spec.modelId() + "' and start the run again.");
        }

        private static void close(Open o) {
            try {
                o.runner().close();
            } finally {
                o.model().close();
            }
        }

        /** Closes every runner and model (a local master's executors live in the driver JVM). */
        static synchronized void closeAll() {
            OPEN.values().forEach(Runners::close);
            OPEN.clear();
        }
    }
}
