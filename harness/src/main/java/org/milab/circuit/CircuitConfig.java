package org.milab.circuit;

import org.milab.tables.RecordSchema;
import org.milab.util.UserError;

import java.util.Map;

/**
 * The knobs of a circuit run.
 *
 * @param igSteps        EAP-IG steps: the input node's edges at alpha = (j - 1/2) / steps, j = 1..steps
 * @param resamples      bootstrap resamples (over examples) of every interval
 * @param bootstrapSeed  seed of the bootstrap
 * @param batchRows      rows per edge-graph call
 * @param exactEdgeLimit edges whose single-edge exact effect is measured (all when the model has no more; else
 *                       the top ones by |EAP-IG|): the Spearman agreement is over these
 * @param threshold      the faithfulness a circuit must keep to be reported as the smallest (MIB: 0.9 is common)
 */
public record CircuitConfig(int igSteps, int resamples, long bootstrapSeed, int batchRows, int exactEdgeLimit, double threshold) {
    public CircuitConfig {
        if (igSteps < 1) throw new UserError("--ig-steps must be >= 1 (got " + igSteps + ").", "Pass --ig-steps 5 or more.");
        if (resamples < 100) throw new UserError("--resamples must be >= 100 (got " + resamples + ").", "Pass --resamples 1000.");
        if (batchRows < 1) throw new UserError("--batch-rows must be >= 1 (got " + batchRows + ").", "Pass --batch-rows 16.");
        if (exactEdgeLimit < 0) throw new UserError("--exact-edges must be >= 0 (got " + exactEdgeLimit + ").", "Pass --exact-edges 2000.");
        if (!(threshold > 0 && threshold <= 1)) throw new UserError("--threshold must be in (0, 1] (got " + threshold + ").", "Pass --threshold 0.9.");
    }

    public static CircuitConfig defaults() {
        return new CircuitConfig(10, 1000, 0, 4, 2000, 0.9); // 4 rows per call, as the CLI (docs/benchmarks.md)
    }

    /** circuit_config.json: the components in snake_case, in order ({@link RecordSchema#treeMap}). */
    public Map<String, Object> toMap() {
        return RecordSchema.treeMap(this);
    }
}
