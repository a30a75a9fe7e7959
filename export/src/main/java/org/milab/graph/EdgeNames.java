package org.milab.graph;

import org.milab.model.ModelConfig;

/**
 * Nodes, edges and the input/output names of the edge-masked graphs, in MIB's circuit-track naming: upstream
 * nodes {@code input}, {@code a{l}.h{h}}, {@code m{l}} (index order: input, then per layer its heads and its
 * MLP); downstream inputs {@code a{l}.h{h}<q>}, {@code <k>}, {@code <v>}, {@code m{l}}, {@code logits}; an edge
 * is {@code upstream->downstream}, e.g. {@code a0.h1->a1.h2<k>}.
 */
public final class EdgeNames {
    private EdgeNames() {}

    public static final String EXAMPLE_INDEX = "example_index";
    public static final String CORRUPT_OUTPUTS = "corrupt_node_outputs";
    public static final String CLEAN_OUTPUTS = "clean_node_outputs";
    public static final String NODE_OUTPUTS = "node_outputs";
    public static final String MASK_LOGITS = "edge_mask.logits";
    public static final String INPUT = "input", LOGITS = "logits";
    public static final String[] QKV = {"q", "k", "v"};

    public static String maskAttn(int layer) { return "edge_mask.a" + layer; }
    public static String maskMlp(int layer) { return "edge_mask.m" + layer; }
    public static String scoreAttn(int layer) { return "edge_score.a" + layer; }
    public static String scoreMlp(int layer) { return "edge_score.m" + layer; }
    public static String scoreLogits() { return "edge_score.logits"; }

    /** Upstream nodes: input, every head, every MLP. */
    public static int upstreamCount(ModelConfig c) {
        return 1 + c.nLayer() * (c.nHead() + 1);
    }

    /** How many upstream nodes precede layer {@code l}'s heads ({@code mlp} false) or its MLP (true). */
    public static int upstreamBefore(ModelConfig c, int l, boolean mlp) {
        return 1 + l * (c.nHead() + 1) + (mlp ? c.nHead() : 0);
    }

    public static int headIndex(ModelConfig c, int l, int h) {
        return 1 + l * (c.nHead() + 1) + h;
    }

    public static int mlpIndex(ModelConfig c, int l) {
        return 1 + l * (c.nHead() + 1) + c.nHead();
    }

    /** MIB's name of upstream node {@code index}. */
    public static String upstreamName(ModelConfig c, int index) {
        if (index == 0) return INPUT;
        int l = (index - 1) / (c.nHead() + 1), r = (index - 1) % (c.nHead() + 1);
        return r == c.nHead() ? "m" + l : "a" + l + ".h" + r;
    }
}
