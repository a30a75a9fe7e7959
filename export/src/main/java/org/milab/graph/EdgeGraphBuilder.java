package org.milab.graph;

import org.milab.model.Gpt2Tensors;
import org.milab.model.ModelConfig;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import static org.milab.graph.OnnxGraph.FLOAT;
import static org.milab.graph.OnnxGraph.INT64;
import static org.milab.graph.OnnxGraph.attr;

/**
 * The edge-masked GPT-2 ({@link GraphVariant#EDGE_MASK}, {@link GraphVariant#EDGE_GRAD}): the residual stream
 * is written out as the sum of its node outputs, so every connection between two nodes is a separate input
 * that can be patched (auto-circuit's formulation). Nodes, in MIB's naming: {@code input} (token + position
 * embedding), {@code a{l}.h{h}} (head output z_h W_O[h], without b_O), {@code m{l}} (MLP output, bias
 * included), {@code logits}. Every head reads three separate inputs ({@code <q>}, {@code <k>}, {@code <v>}),
 * each its own LayerNorm'd copy; each MLP and the logits read one.
 *
 * <p>The input of downstream node v is {@code sum_u [m_uv out_u + (1 - m_uv) corrupt_u] + biases}, where
 * {@code out_u} is u's output in this run, {@code corrupt_u} u's output in the corrupt run (a per-example cache
 * fed as {@link EdgeNames#CORRUPT_OUTPUTS}) and the biases are the b_O of earlier attention layers (the same in
 * both runs, so no edge carries them). All masks 1 is the plain forward pass; all masks 0 is the corrupt run.
 *
 * <p>{@link GraphVariant#EDGE_GRAD} adds the reverse pass of the metric {@code L[t0] - L[t1]} and outputs, per
 * edge, {@code (clean_u - corrupt_u) . d metric / d in_v} (EAP's score; fed the clean cache too): at all masks 1
 * it is d metric / d m_uv, and with the {@code input} node's masks at alpha it is EAP-IG's integrand.
 */
final class EdgeGraphBuilder {
    private static final String B = "batch", P = "pos", N = "examples";

    private final ModelConfig c;
    private final WeightsLayout weights;
    private final String producerVersion;
    private final boolean grad;
    private final BackwardOps ops;
    private final OnnxGraph g;
    private final List<IoSpec> ins = new ArrayList<>(), outs = new ArrayList<>();

    EdgeGraphBuilder(ModelConfig config, WeightsLayout weights, String producerVersion, boolean grad) {
        this.c = config;
        this.weights = weights;
        this.producerVersion = producerVersion;
        this.grad = grad;
        this.g = new OnnxGraph("gpt2_" + (grad ? GraphVariant.EDGE_GRAD : GraphVariant.EDGE_MASK).id());
        this.ops = new BackwardOps(g, weights, config);
    }


    /** What the reverse pass of one layer reads. */
    private record Layer(int n, String attnIn, BackwardOps.Norm ln1, String q, String k, String v, String pattern,
                         String mlpIn, BackwardOps.Norm ln2, String preGelu) {}

    Gpt2GraphBuilder.BuiltGraph build(Map<String, String> metadata) {
        int d = c.dModel(), H = c.nHead(), dh = c.dHead(), L = c.nLayer(), nodes = EdgeNames.upstreamCount(c);
        Gpt2GraphBuilder.tokenInputs(g, ins, "index of each row's last real token (where the logits are read)");
        declare(EdgeNames.EXAMPLE_INDEX, INT64, List.of(B), "which example's cached corrupt (and clean) node outputs each row reads");
        declare(EdgeNames.CORRUPT_OUTPUTS, FLOAT, List.of(N, nodes, P, d), "per example, the corrupt run's output of every "
                + "upstream node (input, a{l}.h{h}, m{l} in that order), right padded like input_ids");
        if (grad) {
            declare(EdgeNames.CLEAN_OUTPUTS, FLOAT, List.of(N, nodes, P, d), "per example, the clean run's node outputs "
                    + "(edge scores multiply gradients by clean - corrupt)");
            declare(HookNames.METRIC_TOKEN_IDS, INT64, List.of(B, 2), "per row, the answer token (column 0) and the contrast token (column 1)");
        }
        for (int l = 0; l < L; l++) {
            int n = EdgeNames.upstreamBefore(c, l, false);
            declare(EdgeNames.maskAttn(l), FLOAT, List.of(B, 3, H, n), "per row, 1 where edge u -> a" + l + ".h{h}<q|k|v> "
                    + "carries this run's output of u, 0 where it carries the corrupt run's (axis 1: q, k, v; axis 3: upstream node)");
            declare(EdgeNames.maskMlp(l), FLOAT, List.of(B, n + H), "per row, the mask of each edge u -> m" + l);
        }
        declare(EdgeNames.MASK_LOGITS, FLOAT, List.of(B, nodes), "per row, the mask of each edge u -> logits");

        String p = g.op("Gather", new String[]{g.op("Shape", HookNames.INPUT_IDS), g.scalarLong("one_idx", 1)}, attr("axis", 0L));
        String range = g.op("Range", g.scalarLong("zero", 0), p, g.scalarLong("step", 1));
        String future = g.op("Greater", g.op("Unsqueeze", range, g.constLongs("ax0", 0)), g.op("Unsqueeze", range, g.constLongs("ax1", 1)));
        String corrupt = g.op("Gather", new String[]{EdgeNames.CORRUPT_OUTPUTS, EdgeNames.EXAMPLE_INDEX}, attr("axis", 0L));
        String delta = grad ? g.op("Sub", g.op("Gather", new String[]{EdgeNames.CLEAN_OUTPUTS, EdgeNames.EXAMPLE_INDEX},
                attr("axis", 0L)), corrupt) : null;                                          // [b,N,P,d]
        String invSqrt = g.scalarFloat("inv_sqrt_dhead", (float) (1.0 / Math.sqrt(dh)));
        String embed = g.op("Add", g.op("Gather", ops.ext(Gpt2Tensors.WTE), HookNames.INPUT_IDS), g.op("Gather", ops.ext(Gpt2Tensors.WPE), range));
        String stack = g.op("Unsqueeze", embed, g.constLongs("ax1", 1));                     // [b,n,P,d]
        String bias = null;
        Layer[] layers = new Layer[L];
        for (int l = 0; l < L; l++) {
            int n = EdgeNames.upstreamBefore(c, l, false);
            String attnIn = maskedSum(stack, corrupt, n, EdgeNames.maskAttn(l), 3 * H, bias);  // [b,3H,P,d]
            BackwardOps.Norm ln1 = ops.layerNorm(attnIn, Gpt2Tensors.ln1W(l), Gpt2Tensors.ln1B(l));
            String[] yqkv = g.multi("Split", new String[]{ln1.y(), g.constLongs("split3", H, H, H)}, 3, attr("axis", 1L));
            String q = g.op("Add", g.op("MatMul", yqkv[0], perHeadIn(l, 0)), perHeadBias(l, 0)); // [b,H,P,dh]
            String k = g.op("Add", g.op("MatMul", yqkv[1], perHeadIn(l, 1)), perHeadBias(l, 1));
            String v = g.op("Add", g.op("MatMul", yqkv[2], perHeadIn(l, 2)), perHeadBias(l, 2));
            String scores = g.op("Mul", g.op("MatMul", q, swapLast(k)), invSqrt);
            String pattern = g.op("Softmax", new String[]{g.op("Where", future, g.scalarFloat("neg_inf", Float.NEGATIVE_INFINITY),
                    scores)}, attr("axis", -1L));
            String z = g.op("MatMul", pattern, v);                                            // [b,H,P,dh]
            String heads = g.op("MatMul", z, perHeadOut(l));                                  // [b,H,P,d]
            stack = g.op("Concat", new String[]{stack, heads}, attr("axis", 1L));
            bias = bias == null ? ops.ext(Gpt2Tensors.projB(l)) : g.op("Add", bias, ops.ext(Gpt2Tensors.projB(l)));
            String mlpIn = g.op("Squeeze", maskedSum(stack, corrupt, n + H, EdgeNames.maskMlp(l), 1, bias), g.constLongs("ax1", 1));
            BackwardOps.Norm ln2 = ops.layerNorm(mlpIn, Gpt2Tensors.ln2W(l), Gpt2Tensors.ln2B(l));
            String pre = g.op("Add", g.op("MatMul", ln2.y(), ops.ext(Gpt2Tensors.fcW(l))), ops.ext(Gpt2Tensors.fcB(l)));
            String mlp = g.op("Add", g.op("MatMul", g.op("Gelu", new String[]{pre}, attr("approximate", "tanh")),
                    ops.ext(Gpt2Tensors.mlpProjW(l))), ops.ext(Gpt2Tensors.mlpProjB(l)));
            stack = g.op("Concat", new String[]{stack, g.op("Unsqueeze", mlp, g.constLongs("ax1", 1))}, attr("axis", 1L));
            layers[l] = new Layer(n, attnIn, ln1, q, k, v, pattern, mlpIn, ln2, pre);
        }
        g.node("Identity", EdgeNames.NODE_OUTPUTS, new String[]{stack});
        g.output(EdgeNames.NODE_OUTPUTS, FLOAT, B, nodes, P, d);
        outs.add(new IoSpec(EdgeNames.NODE_OUTPUTS, null, List.of(B, nodes, P, d), "float32",
                "every upstream node's output in this run (input, a{l}.h{h}, m{l}); at all masks 1 the clean run's"));
        String finalIn = g.op("Squeeze", maskedSum(stack, corrupt, nodes, EdgeNames.MASK_LOGITS, 1, bias), g.constLongs("ax1", 1));
        String last = g.op("GatherND", new String[]{finalIn, g.op("Unsqueeze", HookNames.FINAL_INDEX, g.constLongs("ax1", 1))},
                attr("batch_dims", 1L));                                                     // [b,d]
        BackwardOps.Norm lnf = ops.layerNorm(last, Gpt2Tensors.LN_F_W, Gpt2Tensors.LN_F_B);
        String unembed = ops.ext(c.tiedEmbeddings() ? Gpt2Tensors.WTE : Gpt2Tensors.LM_HEAD);
        if (!grad) {
            String logits = g.op("Gemm", new String[]{lnf.y(), unembed}, attr("transB", 1L));
            String mean = g.op("ReduceMean", new String[]{logits, g.constLongs("ax1", 1)}, attr("keepdims", 1L));
            g.node("Sub", HookNames.LOGITS_FINAL, new String[]{logits, mean});
            g.output(HookNames.LOGITS_FINAL, FLOAT, B, c.vocabSize());
            outs.add(new IoSpec(HookNames.LOGITS_FINAL, null, List.of(B, c.vocabSize()), "float32",
                    "final-position logits of the edge-patched run, centred over the vocabulary"));
            return built(metadata);
        }
        String rows = g.op("Gather", unembed, HookNames.METRIC_TOKEN_IDS);                   // [b,2,d]
        String dir = g.op("Sub", column(rows, 0), column(rows, 1));                           // [b,d]
        g.node("ReduceSum", HookNames.LOGIT_DIFF, new String[]{g.op("Mul", lnf.y(), dir), g.constLongs("ax1", 1)}, attr("keepdims", 0L));
        g.output(HookNames.LOGIT_DIFF, FLOAT, B);
        outs.add(new IoSpec(HookNames.LOGIT_DIFF, null, List.of(B), "float32", "the metric L[t0] - L[t1] at each row's final position"));

        // ---- reverse pass ----
        String isFinal = g.op("Cast", new String[]{g.op("Equal", g.op("Unsqueeze", range, g.constLongs("ax0", 0)),
                g.op("Unsqueeze", HookNames.FINAL_INDEX, g.constLongs("ax1", 1)))}, attr("to", (long) FLOAT)); // [b,P]
        String gFinal = g.op("Mul", g.op("Unsqueeze", isFinal, g.constLongs("ax2", 2)),
                g.op("Unsqueeze", ops.layerNormBack(dir, lnf), g.constLongs("ax1", 1)));            // [b,P,d]
        gFinal = g.op("Unsqueeze", gFinal, g.constLongs("ax1", 1));                          // [b,1,P,d]
        String gStack = scoreAndBack(gFinal, delta, nodes, EdgeNames.MASK_LOGITS, EdgeNames.scoreLogits(), nodes, 1);
        String bp = g.op("Slice", g.op("Shape", HookNames.INPUT_IDS), g.constLongs("s0", 0), g.constLongs("e2", 2));
        for (int l = L - 1; l >= 0; l--) {
            Layer ly = layers[l];
            int n = ly.n, mlpNode = n + H;
            String gMlpOut = g.op("Gather", new String[]{gStack, g.scalarLong("node", mlpNode)}, attr("axis", 1L)); // [b,P,d]
            String gHidden = ops.timesTransposed(gMlpOut, Gpt2Tensors.mlpProjW(l), c.dMlp(), bp);
            String gPre = g.op("Mul", gHidden, ops.geluDerivative(ly.preGelu));
            String gMlpIn = ops.layerNormBack(ops.timesTransposed(gPre, Gpt2Tensors.fcW(l), d, bp), ly.ln2);
            gStack = g.op("Add", gStack, scoreAndBack(g.op("Unsqueeze", gMlpIn, g.constLongs("ax1", 1)), delta, n + H,
                    EdgeNames.maskMlp(l), EdgeNames.scoreMlp(l), nodes, 1));
            String gHeads = g.op("Slice", gStack, g.constLongs("hs", n), g.constLongs("he", n + H), g.constLongs("ax1", 1)); // [b,H,P,d]
            String gz = g.op("MatMul", gHeads, swapWeight(perHeadOut(l)));                    // [b,H,P,dh]
            String gPattern = g.op("MatMul", gz, swapLast(ly.v));
            String gv = g.op("MatMul", swapLast(ly.pattern), gz);
            String rowDot = g.op("ReduceSum", new String[]{g.op("Mul", gPattern, ly.pattern), g.constLongs("ax_last", -1)},
                    attr("keepdims", 1L));
            String gScores = g.op("Mul", g.op("Mul", ly.pattern, g.op("Sub", gPattern, rowDot)), invSqrt);
            String gq = g.op("MatMul", gScores, ly.k), gk = g.op("MatMul", swapLast(gScores), ly.q);
            String gy = g.op("Concat", new String[]{g.op("MatMul", gq, swapWeight(perHeadIn(l, 0))),
                    g.op("MatMul", gk, swapWeight(perHeadIn(l, 1))), g.op("MatMul", gv, swapWeight(perHeadIn(l, 2)))}, attr("axis", 1L));
            String gAttnIn = ops.layerNormBack(gy, ly.ln1);                                     // [b,3H,P,d]
            gStack = g.op("Add", gStack, scoreAndBack(gAttnIn, delta, n, EdgeNames.maskAttn(l), EdgeNames.scoreAttn(l), nodes, 3 * H));
        }
        return built(metadata);
    }

    private Gpt2GraphBuilder.BuiltGraph built(Map<String, String> metadata) {
        return new Gpt2GraphBuilder.BuiltGraph(grad ? GraphVariant.EDGE_GRAD : GraphVariant.EDGE_MASK,
                g.model(Gpt2GraphBuilder.OPSET, producerVersion, metadata), List.copyOf(ins), List.copyOf(outs));
    }

    /**
     * The inputs of {@code k} downstream slots that read the first {@code n} nodes of {@code stack}:
     * {@code sum corrupt + mask . (stack - corrupt) + bias}, shape [b,k,P,d]; the mask input is [b,k,n] or
     * reshapeable to it ([b,3,H,n], [b,n]).
     */
    private String maskedSum(String stack, String corrupt, int n, String mask, int k, String bias) {
        int d = c.dModel();
        String cor = g.op("Slice", corrupt, g.constLongs("s", 0), g.constLongs("e", n), g.constLongs("ax1", 1));
        String diff = g.op("Reshape", g.op("Sub", stack, cor), g.constLongs("flat_nodes", 0, n, -1));     // [b,n,P*d]
        String m = g.op("Reshape", mask, g.constLongs("mask_shape", 0, k, n));
        String mixed = g.op("Reshape", g.op("MatMul", m, diff), g.constLongs("slots_shape", 0, k, -1, d)); // [b,k,P,d]
        String base = g.op("ReduceSum", new String[]{cor, g.constLongs("ax1", 1)}, attr("keepdims", 1L)); // [b,1,P,d]
        String sum = g.op("Add", mixed, base);
        return bias == null ? sum : g.op("Add", sum, bias);
    }

    /**
     * For {@code k} downstream slots with input gradients {@code gIn} [b,k,P,d] reading the first {@code n}
     * nodes: outputs the edge scores {@code gIn . delta} as {@code scoreName} (the mask's shape) and returns the
     * gradient this sends to every node output, {@code mask^T gIn} padded to all {@code nodes} [b,nodes,P,d].
     */
    private String scoreAndBack(String gIn, String delta, int n, String mask, String scoreName, int nodes, int k) {
        String gFlat = g.op("Reshape", gIn, g.constLongs("flat_slots", 0, k, -1));                     // [b,k,P*d]
        String dl = g.op("Reshape", g.op("Slice", delta, g.constLongs("s", 0), g.constLongs("e", n), g.constLongs("ax1", 1)),
                g.constLongs("flat_nodes", 0, n, -1));                                                 // [b,n,P*d]
        String scores = g.op("MatMul", gFlat, g.op("Transpose", new String[]{dl}, attr("perm", new long[]{0, 2, 1}))); // [b,k,n]
        g.node("Reshape", scoreName, new String[]{scores, g.op("Shape", mask)});
        List<Object> shape = scoreName.equals(EdgeNames.scoreLogits()) ? List.of(B, nodes)
                : k == 1 ? List.of(B, n) : List.of(B, 3, c.nHead(), n);
        g.output(scoreName, FLOAT, shape.toArray());
        outs.add(new IoSpec(scoreName, null, shape, "float32", "per row and edge (shaped like the mask input " + mask
                + "): (clean_u - corrupt_u) . d metric / d (the downstream input), summed over positions and d_model"));
        String m = g.op("Reshape", mask, g.constLongs("mask_shape", 0, k, n));
        String back = g.op("MatMul", g.op("Transpose", new String[]{m}, attr("perm", new long[]{0, 2, 1})), gFlat); // [b,n,P*d]
        String padded = g.op("Pad", back, g.constLongs("pads", 0, 0, 0, 0, nodes - n, 0));
        return g.op("Reshape", padded, g.constLongs("stack_shape", 0, nodes, -1, c.dModel()));
    }

    /** W_Q, W_K or W_V ({@code which} 0, 1, 2) per head: [H, d, dh]. */
    private String perHeadIn(int l, int which) {
        int d = c.dModel(), H = c.nHead(), dh = c.dHead();
        String w = g.op("Slice", ops.ext(Gpt2Tensors.attnW(l)), g.constLongs("s", (long) which * d), g.constLongs("e", (long) (which + 1) * d),
                g.constLongs("ax1", 1));
        return g.op("Transpose", new String[]{g.op("Reshape", w, g.constLongs("dhd", d, H, dh))}, attr("perm", new long[]{1, 0, 2}));
    }

    /** b_Q, b_K or b_V per head: [H, 1, dh]. */
    private String perHeadBias(int l, int which) {
        int d = c.dModel(), H = c.nHead(), dh = c.dHead();
        String b = g.op("Slice", ops.ext(Gpt2Tensors.attnB(l)), g.constLongs("s", (long) which * d), g.constLongs("e", (long) (which + 1) * d),
                g.constLongs("ax0", 0));
        return g.op("Reshape", b, g.constLongs("h1dh", H, 1, dh));
    }

    /** W_O per head: [H, dh, d]. */
    private String perHeadOut(int l) {
        return g.op("Reshape", ops.ext(Gpt2Tensors.projW(l)), g.constLongs("hdhd", c.nHead(), c.dHead(), c.dModel()));
    }

    /** Swaps the last two axes of a 4-D tensor. */
    private String swapLast(String t) {
        return g.op("Transpose", new String[]{t}, attr("perm", new long[]{0, 1, 3, 2}));
    }

    /** Swaps the last two axes of a per-head weight [H, a, b]. */
    private String swapWeight(String t) {
        return g.op("Transpose", new String[]{t}, attr("perm", new long[]{0, 2, 1}));
    }

    private String column(String t, long j) {
        return g.op("Gather", new String[]{t, g.scalarLong("col", j)}, attr("axis", 1L));
    }


    private void declare(String name, int type, List<Object> dims, String meaning) {
        g.input(name, type, dims.toArray());
        ins.add(new IoSpec(name, null, dims, type == INT64 ? "int64" : "float32", meaning));
    }

}
