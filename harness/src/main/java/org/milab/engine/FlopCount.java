package org.milab.engine;

import org.milab.model.ModelConfig;

/**
 * Analytic floating-point operation counts (2 per multiply-add) of GPT-2 forward work, so throughput can be
 * stated as a fraction of the machine's MatMul ceiling. Elementwise ops, LayerNorm and softmax are not
 * counted: they are not MatMul work.
 */
public final class FlopCount {
    private FlopCount() {}

    /** One token through one block, its query attending to {@code keys} keys: QKV, W_O, MLP, QK^T and PV. */
    public static double tokenLayer(ModelConfig c, int keys) {
        double d = c.dModel(), f = c.dMlp();
        return 2 * (4 * d * d + 2 * d * f) + 4.0 * keys * d;
    }

    /** The metric head of a patched row: {@code k} unembedding dot products plus the centring dot. */
    public static double metricHead(ModelConfig c, int k) {
        return 2.0 * c.dModel() * (k + 1);
    }

    /**
     * What a FLOP-minimal recompute must do for a row whose first patch is at block {@code start} and position
     * {@code pos} of a {@code length}-token prompt: blocks >= start at positions >= pos, each query attending
     * causally (to pos + 1 .. length keys), plus the metric head. A row without patches needs nothing: its
     * answer is the unpatched run's.
     */
    public static double minimalRow(ModelConfig c, int start, int pos, int length, int metricTokens) {
        double sum = 0;
        for (int q = pos; q < length; q++) sum += tokenLayer(c, q + 1);
        return sum * (c.nLayer() - start) + metricHead(c, metricTokens);
    }

    /** A clean causal forward of a {@code length}-token prompt through every block, plus the full unembedding at its end. */
    public static double capture(ModelConfig c, int length) {
        double sum = 0;
        for (int q = 0; q < length; q++) sum += tokenLayer(c, q + 1);
        return sum * c.nLayer() + 2.0 * c.dModel() * c.vocabSize();
    }

    /**
     * What an ORT call executes: {@code rows} x {@code width} padded tokens through {@code layers} blocks,
     * every query scored against {@code keys} keys (the whole padded score matrix is computed).
     */
    public static double executed(ModelConfig c, int rows, int width, int layers, int keys) {
        return (double) rows * width * layers * tokenLayer(c, keys);
    }
}
