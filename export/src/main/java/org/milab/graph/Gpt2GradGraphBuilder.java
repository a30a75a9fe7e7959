package org.milab.graph;

import org.milab.model.Gpt2Tensors;
import org.milab.model.ModelConfig;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import static org.milab.graph.HookNames.*;
import static org.milab.graph.OnnxGraph.FLOAT;
import static org.milab.graph.OnnxGraph.INT64;
import static org.milab.graph.OnnxGraph.attr;

/**
 * The {@link GraphVariant#GRAD} graph: GPT-2's forward pass up to the metric
 * {@code true_vs_control_logit_diff = L[true] - L[wrong]} at each row's final position, then the metric's
 * reverse-mode derivative with respect to the activations at every hook the lab attributes to. ONNX Runtime's
 * inference build computes no gradients, so the backward pass is written out here as ordinary ops: the
 * unembedding rows, ln_f and LayerNorm, the MLP with GELU (tanh), attention with its causal mask and
 * softmax, the residual adds and MatMuls. No weight gradients are formed.
 *
 * <p>Rows are independent: the backward pass seeds each row with d(metric_row)/d(itself) = 1, so every
 * gradient is the derivative of that row's own metric. Right padding: positions after {@code final_index}
 * start with a zero gradient, and causal attention only sends gradient from a query to keys at or before it,
 * so padded positions end with exactly zero gradient and never reach the real ones.
 */
final class Gpt2GradGraphBuilder {
    private static final String B = "batch", P = "pos";
    /** GELU tanh constants: gelu(x) = x/2 (1 + tanh(C (x + K x^3))). */

    private final ModelConfig c;
    private final WeightsLayout weights;
    private final String producerVersion;
    private final BackwardOps ops;
    private final OnnxGraph g = new OnnxGraph("gpt2_" + GraphVariant.GRAD.id());
    private final List<IoSpec> ins = new ArrayList<>(), outs = new ArrayList<>();

    Gpt2GradGraphBuilder(ModelConfig config, WeightsLayout weights, String producerVersion) {
        this.c = config;
        this.weights = weights;
        this.producerVersion = producerVersion;
        this.ops = new BackwardOps(g, weights, config);
    }


    /** The forward tensors of one block that its backward pass reads. */
    private record Block(BackwardOps.Norm ln1, String q, String k, String v, String pattern, BackwardOps.Norm ln2, String preGelu) {}

    Gpt2GraphBuilder.BuiltGraph build(Map<String, String> metadata) {
        int d = c.dModel(), H = c.nHead(), dh = c.dHead(), L = c.nLayer();
        Gpt2GraphBuilder.tokenInputs(g, ins, "index of each row's last real token (where the metric is read)");
        g.input(METRIC_TOKEN_IDS, INT64, B, 2L);
        ins.add(new IoSpec(METRIC_TOKEN_IDS, null, List.of(B, 2), "int64",
                "per row, the true token id (column 0) and the wrong/control token id (column 1)"));
        g.input(MIX_IDS, INT64, B, P);
        ins.add(new IoSpec(MIX_IDS, null, List.of(B, P), "int64", "token ids whose embeddings are mixed into input_ids' "
                + "(integrated gradients along the path between two prompts); pass input_ids again when unused"));
        g.input(MIX_WEIGHT, FLOAT, B);
        ins.add(new IoSpec(MIX_WEIGHT, null, List.of(B), "float32", "per row w: token embedding = (1 - w) wte[input_ids] "
                + "+ w wte[embed_mix_ids] (position embedding unchanged); exactly the plain forward pass at w = 0"));

        // ---- forward ----
        String p = g.op("Gather", new String[]{g.op("Shape", INPUT_IDS), g.scalarLong("one_idx", 1)}, attr("axis", 0L));
        String range = g.op("Range", g.scalarLong("zero", 0), p, g.scalarLong("step", 1));
        String future = g.op("Greater", g.op("Unsqueeze", range, g.constLongs("ax0", 0)),
                g.op("Unsqueeze", range, g.constLongs("ax1", 1)));
        String w = g.op("Unsqueeze", MIX_WEIGHT, g.constLongs("ax12", 1, 2));
        String tokens = g.op("Add", g.op("Mul", g.op("Gather", ops.ext(Gpt2Tensors.WTE), INPUT_IDS), g.op("Sub", g.scalarFloat("one", 1f), w)),
                g.op("Mul", g.op("Gather", ops.ext(Gpt2Tensors.WTE), MIX_IDS), w));
        String x = g.op("Add", tokens, g.op("Gather", ops.ext(Gpt2Tensors.WPE), range));
        String invSqrt = g.scalarFloat("inv_sqrt_dhead", (float) (1.0 / Math.sqrt(dh)));
        String headsShape = g.constLongs("heads_shape", 0, 0, H, dh);
        String flatShape = g.constLongs("flat_shape", 0, 0, d);
        Block[] blocks = new Block[L];
        for (int l = 0; l < L; l++) {
            String residPre = hook(hookResidPre(l), x, List.of(B, P, d), "residual stream entering block " + l);
            BackwardOps.Norm ln1 = ops.layerNorm(residPre, Gpt2Tensors.ln1W(l), Gpt2Tensors.ln1B(l));
            String qkv = g.op("Add", g.op("MatMul", ln1.y(), ops.ext(Gpt2Tensors.attnW(l))), ops.ext(Gpt2Tensors.attnB(l)));
            String[] parts = g.multi("Split", new String[]{qkv, g.constLongs("qkv_split", d, d, d)}, 3, attr("axis", 2L));
            String q = headMajor(g.op("Reshape", parts[0], headsShape));                 // [b,H,P,dh]
            String k = headMajor(g.op("Reshape", parts[1], headsShape));
            String v = headMajor(g.op("Reshape", parts[2], headsShape));
            String scores = g.op("Mul", g.op("MatMul", q, swapLast(k)), invSqrt);          // [b,H,q,k]
            String masked = g.op("Where", future, g.scalarFloat("neg_inf", Float.NEGATIVE_INFINITY), scores);
            String pattern = g.op("Softmax", new String[]{masked}, attr("axis", -1L));
            String z = hook(hookZ(l), headMajor(g.op("MatMul", pattern, v)), List.of(B, P, H, dh),
                    "per-head attention output before W_O, raw frame (value bias included) of block " + l);
            String attnOut = hook(hookAttnOut(l), g.op("Add", g.op("MatMul", g.op("Reshape", z, flatShape),
                    ops.ext(Gpt2Tensors.projW(l))), ops.ext(Gpt2Tensors.projB(l))), List.of(B, P, d),
                    "attention output of block " + l + " (all heads, after W_O and b_O)");
            String mid = g.op("Add", residPre, attnOut);
            BackwardOps.Norm ln2 = ops.layerNorm(mid, Gpt2Tensors.ln2W(l), Gpt2Tensors.ln2B(l));
            String preGelu = g.op("Add", g.op("MatMul", ln2.y(), ops.ext(Gpt2Tensors.fcW(l))), ops.ext(Gpt2Tensors.fcB(l)));
            String hidden = g.op("Gelu", new String[]{preGelu}, attr("approximate", "tanh"));
            String mlpOut = hook(hookMlpOut(l), g.op("Add", g.op("MatMul", hidden, ops.ext(Gpt2Tensors.mlpProjW(l))),
                    ops.ext(Gpt2Tensors.mlpProjB(l))), List.of(B, P, d), "MLP output of block " + l);
            x = g.op("Add", mid, mlpOut);
            blocks[l] = new Block(ln1, q, k, v, pattern, ln2, preGelu);
        }
        String last = g.op("GatherND", new String[]{x, g.op("Unsqueeze", FINAL_INDEX, g.constLongs("ax1", 1))},
                attr("batch_dims", 1L));                                                   // [b,d]
        BackwardOps.Norm lnf = ops.layerNorm(last, Gpt2Tensors.LN_F_W, Gpt2Tensors.LN_F_B);
        String rows = g.op("Gather", ops.ext(c.tiedEmbeddings() ? Gpt2Tensors.WTE : Gpt2Tensors.LM_HEAD), METRIC_TOKEN_IDS);
        String dots = g.op("Squeeze", g.op("MatMul", rows, g.op("Unsqueeze", lnf.y(), g.constLongs("ax2", 2))),
                g.constLongs("ax2", 2));                                                   // [b,2]
        String meanDot = g.op("ReduceSum", new String[]{g.op("Mul", lnf.y(), ops.ext(WeightsLayout.UNEMBED_MEAN)),
                g.constLongs("ax1", 1)}, attr("keepdims", 1L));
        String logits = output(g.node("Sub", METRIC_LOGITS, new String[]{dots, meanDot}), List.of(B, 2),
                "centred final-position logits of metric_token_ids (same frame as logits_final)");
        output(g.node("Sub", LOGIT_DIFF, new String[]{column(logits, 0), column(logits, 1)}), List.of(B),
                "the metric: L[true] - L[wrong] at each row's final position (the centring cancels)");

        // ---- backward: d metric / d ln_f output = W_U[true] - W_U[wrong] ----
        String gLast = ops.layerNormBack(g.op("Sub", column(rows, 0), column(rows, 1)), lnf);      // [b,d]
        String isFinal = g.op("Cast", new String[]{g.op("Equal", g.op("Unsqueeze", range, g.constLongs("ax0", 0)),
                g.op("Unsqueeze", FINAL_INDEX, g.constLongs("ax1", 1)))}, attr("to", (long) FLOAT)); // [b,P]
        String gx = g.op("Mul", g.op("Unsqueeze", isFinal, g.constLongs("ax2", 2)),
                g.op("Unsqueeze", gLast, g.constLongs("ax1", 1)));                         // [b,P,d]
        String bp = g.op("Slice", g.op("Shape", INPUT_IDS), g.constLongs("s0", 0), g.constLongs("e2", 2));
        for (int l = L - 1; l >= 0; l--) {
            Block blk = blocks[l];
            // MLP: x' = mid + W2 gelu(W1 ln2(mid))
            String gMlp = gradOut(hookMlpOut(l), gx, List.of(B, P, d));
            String gHidden = ops.timesTransposed(gMlp, Gpt2Tensors.mlpProjW(l), c.dMlp(), bp);
            String gPre = g.op("Mul", gHidden, ops.geluDerivative(blk.preGelu));
            String gMid = g.op("Add", gx, ops.layerNormBack(ops.timesTransposed(gPre, Gpt2Tensors.fcW(l), d, bp), blk.ln2));
            // attention: mid = x + W_O z + b_O
            String gAttnOut = gradOut(hookAttnOut(l), gMid, List.of(B, P, d));
            String gz = gradOut(hookZ(l), g.op("Reshape", ops.timesTransposed(gAttnOut, Gpt2Tensors.projW(l), d, bp),
                    headsShape), List.of(B, P, H, dh));
            String gzHeads = headMajor(gz);                                                // [b,H,q,dh]
            String gPattern = g.op("MatMul", gzHeads, swapLast(blk.v));                     // [b,H,q,k]
            String gv = g.op("MatMul", swapLast(blk.pattern), gzHeads);                     // [b,H,k,dh]
            // softmax: ds = p (dp - sum_k p dp); masked keys have p = 0 exactly, so they get nothing
            String rowDot = g.op("ReduceSum", new String[]{g.op("Mul", gPattern, blk.pattern),
                    g.constLongs("ax_last", -1)}, attr("keepdims", 1L));
            String gScores = g.op("Mul", g.op("Mul", blk.pattern, g.op("Sub", gPattern, rowDot)), invSqrt);
            String gq = g.op("MatMul", gScores, blk.k);                                     // [b,H,q,dh]
            String gk = g.op("MatMul", swapLast(gScores), blk.q);                           // [b,H,k,dh]
            String gQkv = g.op("Concat", new String[]{flat(gq, flatShape), flat(gk, flatShape), flat(gv, flatShape)},
                    attr("axis", 2L));                                                     // [b,P,3d]
            String gLn1 = ops.timesTransposed(gQkv, Gpt2Tensors.attnW(l), d, bp);
            gx = gradOut(hookResidPre(l), g.op("Add", gMid, ops.layerNormBack(gLn1, blk.ln1)), List.of(B, P, d));
        }
        return new Gpt2GraphBuilder.BuiltGraph(GraphVariant.GRAD, g.model(Gpt2GraphBuilder.OPSET, producerVersion, metadata),
                List.copyOf(ins), List.copyOf(outs));
    }

    /** [b,P,H,dh] <-> [b,H,P,dh] (the permutation is its own inverse). */
    private String headMajor(String t) {
        return g.op("Transpose", new String[]{t}, attr("perm", new long[]{0, 2, 1, 3}));
    }

    private String swapLast(String t) {
        return g.op("Transpose", new String[]{t}, attr("perm", new long[]{0, 1, 3, 2}));
    }

    /** [b,H,P,dh] -> [b,P,d]. */
    private String flat(String headMajor, String flatShape) {
        return g.op("Reshape", headMajor(headMajor), flatShape);
    }

    /** t[:, j] of a [b, 2, ...] tensor. */
    private String column(String t, long j) {
        return g.op("Gather", new String[]{t, g.scalarLong("col", j)}, attr("axis", 1L));
    }

    private String hook(String name, String value, List<Object> shape, String meaning) {
        g.node("Identity", name, new String[]{value});
        return output(name, shape, meaning);
    }

    private String gradOut(String hook, String value, List<Object> shape) {
        String name = grad(hook);
        g.node("Identity", name, new String[]{value});
        g.output(name, FLOAT, shape.toArray());
        outs.add(new IoSpec(name, hook, shape, "float32", "d " + LOGIT_DIFF + " / d " + hook
                + " of the same row (activation gradient; exactly 0 at padded positions)"));
        return name;
    }

    private String output(String name, List<Object> shape, String meaning) {
        g.output(name, FLOAT, shape.toArray());
        outs.add(new IoSpec(name, name.startsWith("blocks.") ? name : null, shape, "float32", meaning));
        return name;
    }
}
