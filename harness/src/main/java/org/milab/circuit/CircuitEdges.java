package org.milab.circuit;

import org.milab.atp.EdgeGraph;
import org.milab.model.ModelConfig;

/**
 * The circuit stage's name for a model's {@link EdgeGraph} (MIB-named edges in the edge-masked graph's mask order);
 * the edge list itself lives in {@code org.milab.atp}, below the Java API, which scores the same edges.
 */
public final class CircuitEdges extends EdgeGraph {
    public CircuitEdges(ModelConfig c) {
        super(c);
    }
}
