package org.milab.circuit;

import org.milab.lab.LabModel;

import java.util.List;

/**
 * Where the exactly patched rows of a circuit run (single-edge effects, faithfulness sweeps) run when not in this
 * JVM's {@link EdgeRunner}: an engine that can run them elsewhere (the Spark engine) is a {@link Provider}, and the
 * circuit step uses it whenever the model's engine is one.
 */
@FunctionalInterface
public interface RemoteEdgePasses {
    /**
     * The centred final-position logits of each row, as {@link EdgeRunner#logits} gives them: the rows go in calls
     * of {@code batchRows} rows from the first one (float32 results depend on a call's rows), over the same
     * clean/corrupt caches.
     */
    float[][] logits(List<EdgeRunner.Row> rows, String label);

    /** An engine that runs edge-masked passes elsewhere. */
    interface Provider {
        RemoteEdgePasses edgePasses(LabModel model, List<TokenPair> pairs, int batchRows);
    }
}
