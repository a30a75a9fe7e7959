package org.milab.atp;

import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OrtException;
import ai.onnxruntime.OrtSession;
import org.milab.graph.EdgeNames;
import org.milab.graph.GraphVariant;
import org.milab.graph.HookNames;
import org.milab.lab.LabModel;
import org.milab.model.ModelConfig;
import org.milab.runtime.Feeds;
import org.milab.engine.TokenIds;

import java.nio.FloatBuffer;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Runs the edge-masked graphs on a task's examples (clean/corrupt {@link PromptPair}s, metric
 * {@code L[trueToken] - L[wrongToken]} at the final position). At construction it caches, per example, every upstream
 * node's output in the clean and in the corrupt run (one all-masks-1 pass each); then {@link #logits} runs any
 * number of (example, edge mask) rows exactly (a mask of 1 carries the row's own upstream output, 0 the corrupt
 * run's), and {@link #scores} runs the edge-gradient graph (EAP scores per edge). Every row is padded to the
 * task's longest prompt, so the caches have one width.
 */
public class EdgePasses implements AutoCloseable {

    /** One row: which example, and one mask value per edge ({@link EdgeGraph} order). */
    public record Row(int example, float[] mask) {}

    /** The edge-gradient graph's answer for a row: its metric L[answer] - L[contrast] and one score per edge. */
    public record Scored(double metric, float[] scores) {}

    private final LabModel model;
    private final EdgeGraph edges;
    private final List<PromptPair> pairs;
    private final int width, batchRows, nodes;
    private final OnnxTensor cleanCache, corruptCache;

    /**
     * Caches every example's clean and corrupt node outputs (two passes of the edge-masked graph per batch).
     *
     * @param edges     the model's edges ({@code new EdgeGraph(model.config())}, or a subclass of it)
     * @param pairs     the examples; clean and corrupt of one example have equal lengths
     * @param batchRows rows per ONNX Runtime call
     */
    public EdgePasses(LabModel model, EdgeGraph edges, List<PromptPair> pairs, int batchRows) {
        this.model = model;
        this.edges = edges;
        this.pairs = List.copyOf(pairs);
        this.batchRows = batchRows;
        this.width = pairs.stream().mapToInt(PromptPair::length).max().orElseThrow();
        this.nodes = EdgeNames.upstreamCount(model.config());
        try {
            cleanCache = tensor(cache(true));
            try {
                corruptCache = tensor(cache(false));
            } catch (OrtException | RuntimeException e) {
                cleanCache.close();
                throw e;
            }
        } catch (OrtException e) {
            throw new IllegalStateException("edge graph cache pass failed: " + e.getMessage(), e);
        }
    }

    public EdgeGraph edges() {
        return edges;
    }

    /** The examples, in row-index order. */
    public List<PromptPair> examples() {
        return pairs;
    }

    /** A mask with every edge at {@code value}. */
    public float[] uniformMask(float value) {
        float[] m = new float[edges.size()];
        Arrays.fill(m, value);
        return m;
    }

    /** Centred final-position logits of each row's edge-patched clean run. */
    public float[][] logits(List<Row> rows) {
        float[][] out = new float[rows.size()][];
        int V = model.config().vocabSize();
        for (int s = 0; s < rows.size(); s += batchRows) {
            List<Row> chunk = rows.subList(s, Math.min(rows.size(), s + batchRows));
            try (Feeds f = feeds(chunk, false)) {
                float[] l = f.run(session(GraphVariant.EDGE_MASK), Set.of(HookNames.LOGITS_FINAL)).get(HookNames.LOGITS_FINAL).data();
                for (int r = 0; r < chunk.size(); r++) out[s + r] = Arrays.copyOfRange(l, r * V, (r + 1) * V);
            } catch (OrtException e) {
                throw new IllegalStateException("edge-masked pass failed: " + e.getMessage(), e);
            }
        }
        return out;
    }

    /** EAP scores {@code (clean_u - corrupt_u) . d metric / d in_v} per edge, at each row's masks. */
    public Scored[] scores(List<Row> rows) {
        Scored[] out = new Scored[rows.size()];
        List<String> names = scoreNames();
        for (int s = 0; s < rows.size(); s += batchRows) {
            List<Row> chunk = rows.subList(s, Math.min(rows.size(), s + batchRows));
            try (Feeds f = feeds(chunk, true)) {
                Set<String> fetch = new java.util.LinkedHashSet<>(names);
                fetch.add(HookNames.LOGIT_DIFF);
                Map<String, Feeds.Output> res = f.run(session(GraphVariant.EDGE_GRAD), fetch);
                for (int r = 0; r < chunk.size(); r++) {
                    float[] sc = new float[edges.size()];
                    int at = 0;
                    for (Map.Entry<String, Integer> e : edges.maskSizes().entrySet()) {
                        float[] data = res.get(scoreName(e.getKey())).data();
                        System.arraycopy(data, r * e.getValue(), sc, at, e.getValue());
                        at += e.getValue();
                    }
                    out[s + r] = new Scored(res.get(HookNames.LOGIT_DIFF).data()[r], sc);
                }
            } catch (OrtException e) {
                throw new IllegalStateException("edge-gradient pass failed: " + e.getMessage(), e);
            }
        }
        return out;
    }

    /** Per example, the cached node outputs [nodes, width, d] of the clean (true) or corrupt run, for checks. */
    public float[] cachedOutputs(boolean clean, int example) {
        FloatBuffer b = (clean ? cleanCache : corruptCache).getFloatBuffer();
        int per = nodes * width * model.config().dModel();
        float[] out = new float[per];
        b.position(example * per);
        b.get(out);
        return out;
    }

    private List<String> scoreNames() {
        return edges.maskSizes().keySet().stream().map(EdgePasses::scoreName).toList();
    }

    private static String scoreName(String mask) {
        return mask.replace("edge_mask.", "edge_score.");
    }

    private float[] cache(boolean clean) throws OrtException {
        ModelConfig c = model.config();
        int per = nodes * width * c.dModel();
        float[] all = new float[pairs.size() * per];
        float[] ones = uniformMask(1f);
        for (int s = 0; s < pairs.size(); s += batchRows) {
            int n = Math.min(pairs.size(), s + batchRows) - s;
            try (Feeds f = new Feeds(model.sessions().env())) {
                long[] ids = new long[n * width], fin = new long[n], ex = new long[n];
                for (int r = 0; r < n; r++) {
                    PromptPair p = pairs.get(s + r);
                    fill(ids, r, clean ? p.clean() : p.corrupt());
                    fin[r] = p.length() - 1;
                }
                f.longs(HookNames.INPUT_IDS, ids, n, width).longs(HookNames.FINAL_INDEX, fin, n)
                        .longs(EdgeNames.EXAMPLE_INDEX, ex, n)
                        .floats(EdgeNames.CORRUPT_OUTPUTS, new float[per], 1, nodes, width, c.dModel());
                masks(f, java.util.Collections.nCopies(n, ones));
                float[] o = f.run(session(GraphVariant.EDGE_MASK), Set.of(EdgeNames.NODE_OUTPUTS)).get(EdgeNames.NODE_OUTPUTS).data();
                System.arraycopy(o, 0, all, s * per, n * per);
            }
        }
        return all;
    }

    private Feeds feeds(List<Row> rows, boolean grad) throws OrtException {
        int n = rows.size();
        Feeds f = new Feeds(model.sessions().env());
        try {
            long[] ids = new long[n * width], fin = new long[n], ex = new long[n], metric = new long[2 * n];
            for (int r = 0; r < n; r++) {
                PromptPair p = pairs.get(rows.get(r).example());
                fill(ids, r, p.clean());
                fin[r] = p.length() - 1;
                ex[r] = rows.get(r).example();
                metric[2 * r] = p.trueToken();
                metric[2 * r + 1] = p.wrongToken();
            }
            f.longs(HookNames.INPUT_IDS, ids, n, width).longs(HookNames.FINAL_INDEX, fin, n).longs(EdgeNames.EXAMPLE_INDEX, ex, n)
                    .borrow(EdgeNames.CORRUPT_OUTPUTS, corruptCache);
            if (grad) f.borrow(EdgeNames.CLEAN_OUTPUTS, cleanCache).longs(HookNames.METRIC_TOKEN_IDS, metric, n, 2);
            masks(f, rows.stream().map(Row::mask).toList());
            return f;
        } catch (OrtException | RuntimeException e) {
            f.close();
            throw e;
        }
    }

    /** Splits each row's flat mask into the graph's mask inputs. */
    private void masks(Feeds f, List<float[]> rows) throws OrtException {
        ModelConfig c = model.config();
        int n = rows.size(), at = 0;
        for (Map.Entry<String, Integer> e : edges.maskSizes().entrySet()) {
            int size = e.getValue();
            float[] m = new float[n * size];
            for (int r = 0; r < n; r++) {
                if (rows.get(r).length != edges.size())
                    throw new IllegalArgumentException("a mask needs " + edges.size() + " values, got " + rows.get(r).length);
                System.arraycopy(rows.get(r), at, m, r * size, size);
            }
            String name = e.getKey();
            if (name.startsWith("edge_mask.a")) f.floats(name, m, n, 3, c.nHead(), size / (3 * c.nHead()));
            else f.floats(name, m, n, size);
            at += size;
        }
    }

    private void fill(long[] ids, int row, TokenIds prompt) {
        int[] tokens = prompt.ids();
        for (int t = 0; t < width; t++) ids[row * width + t] = t < tokens.length ? tokens[t] : tokens[tokens.length - 1];
    }

    private OnnxTensor tensor(float[] data) throws OrtException {
        FloatBuffer direct = java.nio.ByteBuffer.allocateDirect(4 * data.length).order(java.nio.ByteOrder.nativeOrder()).asFloatBuffer();
        direct.put(data).rewind();
        return OnnxTensor.createTensor(model.sessions().env(), direct, new long[]{pairs.size(), nodes, width, model.config().dModel()});
    }

    private OrtSession session(GraphVariant v) {
        return model.sessions().session(v);
    }

    @Override
    public void close() {
        cleanCache.close();
        corruptCache.close();
    }
}
