package org.milab.circuit;

import org.milab.atp.EdgePasses;
import org.milab.atp.PromptPair;
import org.milab.engine.TokenIds;
import org.milab.lab.LabModel;

import java.util.List;

/**
 * {@link EdgePasses} over a circuit task's {@link TokenPair}s: the edge-masked and edge-gradient graphs (caches,
 * exact edge-patched logits, EAP scores per row) live in {@code org.milab.atp}, below the Java API, which runs the
 * same passes; this keeps the task's pairs and the circuit stage's {@link CircuitEdges}.
 */
public final class EdgeRunner extends EdgePasses {
    private final List<TokenPair> pairs;

    public EdgeRunner(LabModel model, List<TokenPair> pairs, int batchRows) {
        super(model, new CircuitEdges(model.config()), pairs.stream().map(p -> new PromptPair(p.index(), new TokenIds(p.clean()),
                new TokenIds(p.corrupt()), p.answer(), p.contrast())).toList(), batchRows);
        this.pairs = List.copyOf(pairs);
    }

    @Override
    public CircuitEdges edges() {
        return (CircuitEdges) super.edges();
    }

    public List<TokenPair> pairs() {
        return pairs;
    }
}
