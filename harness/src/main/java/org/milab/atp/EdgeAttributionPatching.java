package org.milab.atp;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.function.IntFunction;

/**
 * The core of edge attribution patching, shared by the circuit stage and the Java API. EAP: per example and edge,
 * {@code (clean_u - corrupt_u) . d(L[answer] - L[contrast]) / d in_v} at the clean run (the edge-gradient graph at all
 * masks 1). EAP-IG: the same gradient averaged over {@code igSteps} runs whose {@code input} node feeds every edge
 * {@code alpha E[clean] + (1 - alpha) E[corrupt]}, alpha = (j - 1/2) / steps (MIB's EAP-IG-inputs). Nothing here knows
 * which component plays which role.
 */
public final class EdgeAttributionPatching {
    private EdgeAttributionPatching() {}

    /** Edge-gradient scores of {@code count} rows; {@code phase} names them (the circuit stage keeps chunks by it). */
    @FunctionalInterface
    public interface RowScores {
        float[][] scores(String phase, int count, IntFunction<EdgePasses.Row> row);
    }

    /** Rows scored straight through {@code passes} (batched by its batch size), nothing kept. */
    public static RowScores direct(EdgePasses passes) {
        return (phase, count, row) -> {
            List<EdgePasses.Row> rows = new ArrayList<>(count);
            for (int r = 0; r < count; r++) rows.add(row.apply(r));
            EdgePasses.Scored[] s = passes.scores(rows);
            float[][] out = new float[count][];
            for (int r = 0; r < count; r++) out[r] = s[r].scores();
            return out;
        };
    }

    /** The EAP-IG input-node mask values: (j - 1/2) / steps for j = 1..steps (EAP itself: the single value 1). */
    public static List<Float> alphas(int igSteps) {
        List<Float> alphas = new ArrayList<>();
        for (int j = 1; j <= igSteps; j++) alphas.add((j - 0.5f) / igSteps);
        return alphas;
    }

    /**
     * Per example and edge, the edge-gradient graph's score averaged over the input-node mask values {@code alphas}
     * ({@code List.of(1f)}: EAP; {@link #alphas(int)}: EAP-IG).
     */
    public static double[][] perExample(RowScores rowsOf, String phase, int n, List<Float> alphas, EdgeGraph edges) {
        int A = alphas.size();
        float[][] s = rowsOf.scores(phase, n * A, r -> {
            float[] m = new float[edges.size()];
            Arrays.fill(m, 1f);
            for (EdgeGraph.Edge e : edges.edges()) if (e.upstream() == 0) m[e.index()] = alphas.get(r % A);
            return new EdgePasses.Row(r / A, m);
        });
        double[][] out = new double[n][edges.size()];
        for (int i = 0; i < n; i++)
            for (int j = 0; j < A; j++) {
                float[] sc = s[i * A + j];
                for (int e = 0; e < sc.length; e++) out[i][e] += sc[e] / (double) A;
            }
        return out;
    }
}
