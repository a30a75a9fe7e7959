package org.milab.circuit;

import org.milab.atp.EdgeFaithfulness;
import org.milab.stage.StepChunks;

import java.util.ArrayList;
import java.util.List;
import java.util.function.IntFunction;

/**
 * The edge-graph rows of a circuit run (attribution passes, single-edge patches, faithfulness sweeps), made in
 * chunks of whole engine calls. When a step keeps partial progress ({@link StepChunks}), every finished chunk is
 * kept (scores bit for bit, or one metric value per row), so a killed circuit step resumes where it stopped.
 * A chunk holds the same rows in the same calls ({@code batchRows} rows each, from the chunk's start) as an
 * uninterrupted run, so its numbers are identical. Rows are built per chunk from {@code row}, so a sweep never holds
 * all its masks (GPT-2 small: 32,491 floats each) at once.
 */
public final class CircuitRows implements org.milab.atp.EdgeAttributionPatching.RowScores, EdgeFaithfulness.RowMetrics {
    /** Engine rows per chunk (rounded down to whole calls): seconds of work on a small model, a minute on GPT-2 small. */
    static final int CHUNK_ROWS = 256;

    private final EdgeRunner runner;
    private final StepChunks kept;
    private final int chunkRows;
    private final RemoteEdgePasses passes;

    /** @param kept where finished chunks are kept, or null to keep nothing */
    public CircuitRows(EdgeRunner runner, StepChunks kept, int batchRows) {
        this(runner, kept, batchRows, null);
    }

    /**
     * @param passes where the exactly patched rows of {@link #metrics} run (another engine, e.g. Spark), or null: the
     *               runner itself. Either way a chunk's rows go in the same calls, so the numbers are the same.
     */
    public CircuitRows(EdgeRunner runner, StepChunks kept, int batchRows, RemoteEdgePasses passes) {
        this.runner = runner;
        this.kept = kept;
        this.chunkRows = Math.max(1, CHUNK_ROWS / batchRows) * batchRows;
        this.passes = passes;
    }

    public EdgeRunner runner() {
        return runner;
    }

    /** The edge-gradient scores of {@code count} rows ({@code phase} names them among the step's chunks). */
    @Override
    public float[][] scores(String phase, int count, IntFunction<EdgeRunner.Row> row) {
        int E = runner.edges().size();
        float[][] out = new float[count][];
        for (int start = 0, c = 0; start < count; start += chunkRows, c++) {
            int from = start, to = Math.min(count, start + chunkRows);
            float[] flat = keep(phase + "." + c, () -> {
                EdgeRunner.Scored[] s = runner.scores(rows(from, to, row));
                float[] f = new float[s.length * E];
                for (int r = 0; r < s.length; r++) System.arraycopy(s[r].scores(), 0, f, r * E, E);
                return f;
            });
            for (int r = from; r < to; r++) out[r] = java.util.Arrays.copyOfRange(flat, (r - from) * E, (r - from + 1) * E);
        }
        return out;
    }

    /** The metric of each of {@code count} exactly patched rows. */
    @Override
    public double[] metrics(String phase, int count, IntFunction<EdgeRunner.Row> row, EdgeFaithfulness.MetricOf metric) {
        double[] out = new double[count];
        for (int start = 0, c = 0; start < count; start += chunkRows, c++) {
            int from = start, to = Math.min(count, start + chunkRows);
            String chunk = phase + "." + c;
            java.util.function.Supplier<double[]> compute = () -> {
                List<EdgeRunner.Row> rs = rows(from, to, row);
                float[][] logits = passes == null ? runner.logits(rs) : passes.logits(rs, "circuit " + chunk);
                double[] m = new double[logits.length];
                for (int r = 0; r < m.length; r++) m[r] = metric.of(from + r, logits[r]);
                return m;
            };
            double[] part = kept == null ? compute.get() : kept.doubles(chunk, compute);
            System.arraycopy(part, 0, out, from, to - from);
        }
        return out;
    }

    private float[] keep(String chunk, java.util.function.Supplier<float[]> compute) {
        return kept == null ? compute.get() : kept.floats(chunk, compute);
    }

    private static List<EdgeRunner.Row> rows(int from, int to, IntFunction<EdgeRunner.Row> row) {
        List<EdgeRunner.Row> out = new ArrayList<>(to - from);
        for (int r = from; r < to; r++) out.add(row.apply(r));
        return out;
    }
}
