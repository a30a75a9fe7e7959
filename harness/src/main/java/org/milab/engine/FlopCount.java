package org.milab.engine;

import org.milab.model.ModelConfig;

import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;

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
     * An upper bound used for estimates: blocks >= start at positions >= pos, whole (each query attending
     * causally to pos + 1 .. length keys), plus the metric head. {@link #minimalRow(ModelConfig, List, int, int)}
     * is what a row really needs.
     */
    public static double minimalRow(ModelConfig c, int start, int pos, int length, int metricTokens) {
        double sum = 0;
        for (int q = pos; q < length; q++) sum += tokenLayer(c, q + 1);
        return sum * (c.nLayer() - start) + metricHead(c, metricTokens);
    }

    /**
     * What a FLOP-minimal computation of a hook_z row's final-position metric logits must do, given the
     * unpatched run's activations (counted as useful; the engine may execute more). Block by block, with
     * {@code from} the earliest position whose residual differs from the unpatched run entering the block:
     * positions >= from run the whole block (their queries attend causally); a patched position before
     * {@code from} needs only its changed heads' share of W_O (2 d_head d_model per head: every other head's z
     * is the cached one) and the MLP; nothing else changes. In the last block only the final position reaches
     * the metric: positions in [from, final) need their keys and values (LN1 and 2 x d_model^2 each), the final
     * position the whole block (or, when only it is patched there, its W_O share and MLP). Last-block patches
     * before the final position change nothing the metric reads: a row left without patches needs nothing.
     */
    public static double minimalRow(ModelConfig c, List<SitePatch> patches, int length, int metricTokens) {
        int L = c.nLayer(), fin = length - 1;
        double d = c.dModel(), cellMlp = 4.0 * d * c.dMlp(), headShare = 2.0 * c.dHead() * d, kv = 4.0 * d * d;
        if (patches.stream().noneMatch(o -> o.layer() < L - 1 || o.position() == fin)) return 0;
        double sum = 0;
        int from = Integer.MAX_VALUE;
        for (int l = 0; l < L; l++) {
            final int layer = l;
            TreeMap<Integer, Set<Integer>> cells = new TreeMap<>(); // patched position -> its patched heads
            patches.stream().filter(o -> o.layer() == layer)
                    .forEach(o -> cells.computeIfAbsent(o.position(), k -> new HashSet<>()).add(o.head()));
            if (l == L - 1) {
                if (from <= fin) sum += (fin - from) * kv + tokenLayer(c, length);
                else sum += cells.get(fin).size() * headShare + cellMlp;
                break;
            }
            for (Map.Entry<Integer, Set<Integer>> cell : cells.entrySet())
                if (cell.getKey() < from) sum += cell.getValue().size() * headShare + cellMlp;
            for (int q = Math.min(from, length); q < length; q++) sum += tokenLayer(c, q + 1);
            if (!cells.isEmpty()) from = Math.min(from, cells.firstKey());
        }
        return sum + metricHead(c, metricTokens);
    }

    /**
     * What one resume call (a graph from block {@code start}) executes: {@code cells} patched positions of block
     * start (W_O and MLP; none when start is the last block), {@code rows} x {@code width} padded suffix tokens
     * through the blocks between, keys and values of every suffix token in the last block and its query,
     * attention, W_O and MLP at each row's final position; every query scored against {@code keys} keys.
     */
    public static double executedResume(ModelConfig c, int rows, int width, int cells, int start, int keys) {
        int L = c.nLayer();
        double d = c.dModel(), kv = 4.0 * d * d;
        double startBlock = start < L - 1 ? cells * (2.0 * d * d + 4.0 * d * c.dMlp()) : 0;
        int between = Math.max(0, L - 2 - start);
        return startBlock + executed(c, rows, width, between, keys) + (double) rows * width * kv
                + rows * (tokenLayer(c, keys) - kv);
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
