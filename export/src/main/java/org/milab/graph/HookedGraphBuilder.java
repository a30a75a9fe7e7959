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
 * The {@link GraphVariant#HOOKED} graph: GPT-2's forward pass at every position with every TransformerLens
 * hook of {@link #HOOK_KINDS} both a graph output and an override: for hook {@code h} the inputs
 * {@code h.patch_mask} (the hook's shape without its last axis: per row and position, and per head for
 * q/k/v/z, per head and query for the pattern) and {@code h.patch_value} give {@code h' = h (1 - mask) + mask value},
 * exact at mask 0 and 1 (hook_attn_scores, whose masked keys are -inf, selects instead: {@code mask > 0.5} takes the value).
 * A {@code [1,...,1]} zero mask and value broadcast to "untouched", so a call feeds full tensors only for the hooks it
 * patches. Outputs the centred logits of every position.
 *
 * <p>As in TransformerLens: the LayerNorms are spelled out (centre, hook_scale, divide, w and b, hook_normalized),
 * the attention scores are masked to -inf before their hook and softmaxed after it with no second mask (a NaN row,
 * all -inf, becomes 0), and hook_attn_out is the sum over heads of hook_result plus b_O, so overriding any hook
 * changes everything downstream of it. hook_result ([batch, pos, head, d_model]) is computed on every call, where
 * TransformerLens computes it only with {@code use_attn_result}: n_heads times the memory of hook_attn_out per layer.
 *
 * <p>Frames are the other variants' raw (Hugging Face) ones: hook_z includes the value bias, the residual is
 * not centred. The fixed-site variants stay the protocols' fast path: this graph pays an override (three
 * element-wise ops) at every hook and a vocabulary-wide unembedding at every position.
 */
public final class HookedGraphBuilder {
    /** The hooks of the graph, TransformerLens names with {@code {l}} for the block; one override each. */
    public static final List<String> HOOK_KINDS = List.of(HOOK_EMBED, HOOK_POS_EMBED, "blocks.{l}.hook_resid_pre",
            "blocks.{l}.ln1.hook_scale", "blocks.{l}.ln1.hook_normalized",
            "blocks.{l}.attn.hook_q", "blocks.{l}.attn.hook_k", "blocks.{l}.attn.hook_v", "blocks.{l}.attn.hook_attn_scores",
            "blocks.{l}.attn.hook_pattern", "blocks.{l}.attn.hook_z", "blocks.{l}.attn.hook_result", "blocks.{l}.hook_attn_out",
            "blocks.{l}.hook_resid_mid", "blocks.{l}.ln2.hook_scale", "blocks.{l}.ln2.hook_normalized", "blocks.{l}.mlp.hook_pre",
            "blocks.{l}.mlp.hook_post", "blocks.{l}.hook_mlp_out", "blocks.{l}.hook_resid_post", LN_FINAL_SCALE, LN_FINAL);

    private static final String B = "batch", P = "pos";

    private final ModelConfig c;
    private final String producerVersion;
    private final BackwardOps ops;
    private final OnnxGraph g = new OnnxGraph("gpt2_" + GraphVariant.HOOKED.id());
    private final List<IoSpec> ins = new ArrayList<>(), outs = new ArrayList<>();
    private String one, zero, half, eps, lastAxis;

    HookedGraphBuilder(ModelConfig config, WeightsLayout weights, String producerVersion) {
        this.c = config;
        this.producerVersion = producerVersion;
        this.ops = new BackwardOps(g, weights, config);
    }

    Gpt2GraphBuilder.BuiltGraph build(Map<String, String> metadata) {
        int d = c.dModel(), H = c.nHead(), dh = c.dHead(), L = c.nLayer();
        g.input(INPUT_IDS, INT64, B, P);
        ins.add(new IoSpec(INPUT_IDS, null, List.of(B, P), "int64",
                "token ids, BOS first; rows of unequal length are right padded with any valid id"));
        one = g.scalarFloat("one", 1f);
        lastAxis = g.constLongs("ax_last", -1);
        String p = g.op("Gather", new String[]{g.op("Shape", INPUT_IDS), g.scalarLong("one_idx", 1)}, attr("axis", 0L));
        String range = g.op("Range", g.scalarLong("zero", 0), p, g.scalarLong("step", 1));
        // key index > query index is the future: masked out before the softmax
        String future = g.op("Greater", g.op("Unsqueeze", range, g.constLongs("ax0", 0)),
                g.op("Unsqueeze", range, g.constLongs("ax1", 1)));
        String negInf = g.scalarFloat("neg_inf", Float.NEGATIVE_INFINITY);
        String invSqrt = g.scalarFloat("inv_sqrt_dhead", (float) (1.0 / Math.sqrt(dh)));
        String headsShape = g.constLongs("heads_shape", 0, 0, H, dh), flatShape = g.constLongs("flat_shape", 0, 0, d);
        String split = g.constLongs("qkv_split", d, d, d);
        String woShape = g.constLongs("wo_heads_shape", H, dh, d), headAxis = g.constLongs("ax_head", 2);
        zero = g.scalarFloat("zero_f", 0f);
        half = g.scalarFloat("half", 0.5f);
        eps = g.scalarFloat("ln_eps", (float) c.layerNormEpsilon());
        List<Object> bpd = List.of(B, P, d), heads = List.of(B, P, H, dh);

        String embed = hook(HOOK_EMBED, g.op("Gather", ops.ext(Gpt2Tensors.WTE), INPUT_IDS), bpd, "token embeddings W_E[input_ids]");
        String pos = g.op("Expand", g.op("Gather", ops.ext(Gpt2Tensors.WPE), range), g.op("Shape", embed));
        pos = hook(HOOK_POS_EMBED, pos, bpd, "position embeddings W_pos[position], one copy per row");
        String x = g.op("Add", embed, pos);
        for (int l = 0; l < L; l++) {
            String residPre = hook(hookResidPre(l), x, bpd, "residual stream entering block " + l);
            String a = layerNorm("blocks." + l + ".ln1", residPre, Gpt2Tensors.ln1W(l), Gpt2Tensors.ln1B(l));
            String qkv = g.op("Add", g.op("MatMul", a, ops.ext(Gpt2Tensors.attnW(l))), ops.ext(Gpt2Tensors.attnB(l)));
            String[] parts = g.multi("Split", new String[]{qkv, split}, 3, attr("axis", 2L));
            String q = hook(hookQ(l), g.op("Reshape", parts[0], headsShape), heads, "attention queries of block " + l + " (b_Q included)");
            String k = hook(hookK(l), g.op("Reshape", parts[1], headsShape), heads, "attention keys of block " + l + " (b_K included)");
            String v = hook(hookV(l), g.op("Reshape", parts[2], headsShape), heads, "attention values of block " + l + " (b_V included)");
            // TransformerLens: scores masked to -inf above the diagonal, then hooked, then softmaxed with no second mask
            String scores = hook(hookAttnScores(l), g.op("Where", future, negInf, g.op("Mul",
                    g.op("MatMul", transpose(q, 0, 2, 1, 3), transpose(k, 0, 2, 3, 1)), invSqrt)), List.of(B, H, "query_pos", "key_pos"),
                    "attention scores q.k / sqrt(d_head) of block " + l + ", -inf where the key is after the query (the causal mask)");
            String soft = g.op("Softmax", new String[]{scores}, attr("axis", -1L));
            // a row overridden to all -inf softmaxes to NaN: TransformerLens sets those to 0
            String pattern = hook(hookPattern(l), g.op("Where", g.op("IsNaN", soft), zero, soft),
                    List.of(B, H, "query_pos", "key_pos"), "attention probabilities of block " + l);
            String z = hook(hookZ(l), transpose(g.op("MatMul", pattern, transpose(v, 0, 2, 1, 3)), 0, 2, 1, 3), heads,
                    "per-head attention output before W_O, raw frame (value bias included) of block " + l);
            // per head: z[.., h, :] . W_O[h] ([H, d_head, d_model] view of the [d_model, d_model] Conv1D weight)
            String result = hook(hookResult(l), transpose(g.op("MatMul", transpose(z, 0, 2, 1, 3),
                    g.op("Reshape", ops.ext(Gpt2Tensors.projW(l)), woShape)), 0, 2, 1, 3), List.of(B, P, H, d),
                    "each head's output projected by its rows of W_O (b_O not included) of block " + l);
            String attnOut = hook(hookAttnOut(l), g.op("Add", g.op("ReduceSum", new String[]{result, headAxis}, attr("keepdims", 0L)),
                    ops.ext(Gpt2Tensors.projB(l))), bpd, "attention output of block " + l + " (sum of hook_result over heads, plus b_O)");
            String mid = hook(hookResidMid(l), g.op("Add", residPre, attnOut), bpd, "residual stream between attention and MLP of block " + l);
            String m = layerNorm("blocks." + l + ".ln2", mid, Gpt2Tensors.ln2W(l), Gpt2Tensors.ln2B(l));
            List<Object> hidden = List.of(B, P, c.dMlp());
            String pre = hook(hookMlpPre(l), g.op("Add", g.op("MatMul", m, ops.ext(Gpt2Tensors.fcW(l))),
                    ops.ext(Gpt2Tensors.fcB(l))), hidden, "MLP hidden pre-activation of block " + l);
            String post = hook(hookMlpPost(l), g.op("Gelu", new String[]{pre}, attr("approximate", "tanh")), hidden,
                    "MLP hidden activation (GELU, tanh) of block " + l);
            String mlpOut = hook(hookMlpOut(l), g.op("Add", g.op("MatMul", post, ops.ext(Gpt2Tensors.mlpProjW(l))),
                    ops.ext(Gpt2Tensors.mlpProjB(l))), bpd, "MLP output of block " + l);
            x = hook(hookResidPost(l), g.op("Add", mid, mlpOut), bpd, "residual stream leaving block " + l);
        }
        String lnf = layerNorm("ln_final", x, Gpt2Tensors.LN_F_W, Gpt2Tensors.LN_F_B);
        // Gemm reads the [vocab, d] unembedding transposed in place; 3-D MatMul would need a transposed copy
        String flat = g.op("Gemm", new String[]{g.op("Reshape", lnf, g.constLongs("rows_d", -1, d)),
                ops.ext(c.tiedEmbeddings() ? Gpt2Tensors.WTE : Gpt2Tensors.LM_HEAD)}, attr("transB", 1L));
        String bp = g.op("Slice", g.op("Shape", lnf), g.constLongs("s0", 0), g.constLongs("e2", 2));
        String logits = g.op("Reshape", flat, g.op("Concat", new String[]{bp, g.constLongs("vocab", c.vocabSize())}, attr("axis", 0L)));
        String mean = g.op("ReduceMean", new String[]{logits, lastAxis}, attr("keepdims", 1L));
        g.node("Sub", LOGITS, new String[]{logits, mean});
        g.output(LOGITS, FLOAT, B, P, c.vocabSize());
        outs.add(new IoSpec(LOGITS, null, List.of(B, P, c.vocabSize()), "float32",
                "logits at every position, centred over the vocabulary (TransformerLens' center_unembed frame)"));
        return new Gpt2GraphBuilder.BuiltGraph(GraphVariant.HOOKED, g.model(Gpt2GraphBuilder.OPSET, producerVersion, metadata),
                List.copyOf(ins), List.copyOf(outs));
    }

    /** Names {@code value} as the hook after its override and exposes it as an output. */
    private String hook(String name, String value, List<Object> shape, String meaning) {
        List<Object> maskShape = shape.subList(0, shape.size() - 1);
        String mask = patchMask(name), replacement = patchValue(name);
        // symbolic dims named per input: ORT plans buffers as if equal names meant equal sizes, and one call feeds
        // full tensors to some hooks and [1,...,1] to the others
        g.input(mask, FLOAT, ownDims(mask, maskShape));
        g.input(replacement, FLOAT, ownDims(replacement, shape));
        ins.add(new IoSpec(mask, name, maskShape, "float32", "1 where " + name + " is replaced by patch_value, 0 where "
                + "it is kept; a [1,...,1] tensor of zeros broadcasts to 'untouched'"));
        ins.add(new IoSpec(replacement, name, shape, "float32", "replacement values for " + name
                + "; ignored where the mask is 0; " + (name.endsWith(".attn.hook_attn_scores") ? "finite or -inf (a masked key)" : "must be finite")));
        String m = g.op("Unsqueeze", mask, lastAxis);
        // hook_attn_scores holds -inf (masked keys) and -inf * 0 is NaN: it selects (mask > 0.5) instead of mixing
        String mixed = name.endsWith(".attn.hook_attn_scores")
                ? g.op("Where", g.op("Greater", m, half), replacement, value)
                : g.op("Add", g.op("Mul", value, g.op("Sub", one, m)), g.op("Mul", m, replacement));
        g.node("Identity", name, new String[]{mixed});
        g.output(name, FLOAT, shape.toArray());
        outs.add(new IoSpec(name, name, shape, "float32", meaning + " (after its override)"));
        return name;
    }

    private static Object[] ownDims(String input, List<Object> shape) {
        Object[] dims = Gpt2GraphBuilder.broadcastable(shape);
        for (int i = 0; i < dims.length; i++) dims[i] = input + "." + dims[i];
        return dims;
    }

    private String transpose(String x, long... perm) {
        return g.op("Transpose", new String[]{x}, attr("perm", perm));
    }

    /**
     * TransformerLens' LayerNorm spelled out so its two hooks exist: {@code ln.hook_scale} = sqrt(mean((x - mean x)^2) + eps)
     * [batch, pos, 1], then {@code ln.hook_normalized} = (x - mean x) / scale * w + b (raw frame: w and b applied).
     */
    private String layerNorm(String ln, String x, String w, String b) {
        String centred = g.op("Sub", x, g.op("ReduceMean", new String[]{x, lastAxis}, attr("keepdims", 1L)));
        String variance = g.op("ReduceMean", new String[]{g.op("Mul", centred, centred), lastAxis}, attr("keepdims", 1L));
        String where = ln.equals("ln_final") ? "the final LayerNorm (ln_f)" : ln.substring(ln.lastIndexOf('.') + 1) + " of block " + ln.split("\\.")[1];
        String scale = hook(lnScale(ln), g.op("Sqrt", g.op("Add", variance, eps)),
                List.of(B, P, 1), "sqrt(variance + eps) of " + where + " per position");
        return hook(lnNormalized(ln), g.op("Add", g.op("Mul", g.op("Div", centred, scale), ops.ext(w)), ops.ext(b)), List.of(B, P, c.dModel()),
                "output of " + where + " (centred, divided by hook_scale, times w plus b)"
                        + (ln.equals("ln_final") ? " at every position: logits = this . W_U" : ""));
    }
}
