package org.milab.api;

import java.util.Collection;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;

/**
 * A circuit: a set of edges of the model's graph in MIB's names ({@code input->a0.h1<v>}, {@code a0.h1->a1.h2<k>},
 * {@code a1.h2->logits}; see {@link EdgeAttribution}), optionally with the score of every edge of the graph it was
 * ranked by (written as MIB's {@code score} by {@link HookedModel#writeCircuit}). Build one from scores
 * ({@link EdgeAttribution#circuit(int, EdgeAttribution.Method)}, {@link EdgeAttribution#circuitAbove}), by hand
 * ({@link #of}) or from a file ({@link HookedModel#readCircuit}); {@link HookedModel#faithfulness} measures it exactly.
 *
 * @param edges  the circuit's edges (each once; ranked circuits in rank order, others in graph order)
 * @param scores per edge of the whole graph, its score (empty: none)
 */
public record Circuit(List<String> edges, Map<String, Double> scores) {
    /**
     * Drops repeated edges and copies both collections.
     *
     * @param edges  the edges
     * @param scores per edge, its score (null: none)
     */
    public Circuit {
        edges = List.copyOf(new LinkedHashSet<>(edges));
        scores = scores == null ? Map.of() : Collections.unmodifiableMap(new LinkedHashMap<>(scores));
    }

    /**
     * @param edges MIB edge names
     * @return the circuit of these edges, without scores
     */
    public static Circuit of(Collection<String> edges) {
        return new Circuit(List.copyOf(edges), Map.of());
    }

    /** @return the number of edges */
    public int size() {
        return edges.size();
    }

    /**
     * @param edge an edge name
     * @return whether the circuit holds it
     */
    public boolean contains(String edge) {
        return edges.contains(edge);
    }
}
