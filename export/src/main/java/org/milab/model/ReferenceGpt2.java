package org.milab.model;

import java.util.List;

import static org.milab.model.Gpt2Tensors.*;

/**
 * An independent GPT-2 forward pass in plain Java (arrays and loops, double accumulation, no ONNX
 * Runtime). It is the yardstick that every exported graph variant is checked against, so it follows the
 * Hugging Face GPT-2 code path literally and shares no code with the graph builder. Meant for small
 * models and short prompts; it holds the weights on the heap.
 *
 * <p>Hook values use the raw (Hugging Face) frame: {@code hook_z} includes the value bias. Logits are
 * reported centred over the vocabulary, as TransformerLens reports them.
 */
public final class ReferenceGpt2 {

    /** Replace head {@code head}'s z at {@code position} of {@code layer} by {@code value} (raw frame). */
    public record ZPatch(int layer, int position, int head, float[] value) {}

    /** Replace the full attention output of {@code layer} at {@code position} by {@code value}. */
    public record AttnOutPatch(int layer, int position, float[] value) {}

    /** Replace head {@code head}'s key at {@code position} of {@code layer} by {@code value} (raw frame, b_K included). */
    public record KPatch(int layer, int position, int head, float[] value) {}

    public record Patches(List<ZPatch> z, List<AttnOutPatch> attnOut, List<KPatch> k) {
        public Patches(List<ZPatch> z, List<AttnOutPatch> attnOut) {
            this(z, attnOut, List.of());
        }

        public static Patches none() {
            return new Patches(List.of(), List.of());
        }

        public static Patches ofK(KPatch... p) {
            return new Patches(List.of(), List.of(), List.of(p));
        }

        public static Patches ofZ(ZPatch... p) {
            return new Patches(List.of(p), List.of());
        }

        public static Patches ofAttnOut(AttnOutPatch... p) {
            return new Patches(List.of(), List.of(p));
        }
    }

    /** The activations a {@link Nudge} can move. */
    public enum Site { RESID_PRE, Z, ATTN_OUT, MLP_OUT }

    /**
     * Adds {@code delta} to one coordinate of a hook's activation, in double precision (for finite
     * differences); for {@link Site#Z} the coordinate is {@code head * d_head + i}.
     */
    public record Nudge(Site site, int layer, int position, int index, double delta) {}

    /**
     * Everything one forward pass exposes. Shapes: residPre/residPost/attnOut [layer][pos][d],
     * z [layer][pos][head][dHead], pattern [layer][head][query][key], lnFinal [pos][d] (after ln_f),
     * logits [pos][vocab] centred over the vocabulary.
     */
    public record Trace(int length, double[][][] residPre, double[][][] residPost, double[][][] attnOut,
                        double[][][][] z, double[][][][] pattern, double[][] lnFinal, double[][] logits) {
        public double[] finalLogits() {
            return logits[length - 1];
        }
    }

    /**
     * Sees, and may change in place, each hook's activation as the pass computes it (TransformerLens names:
     * {@code hook_embed}, {@code blocks.{l}.attn.hook_q}, ...; see {@link #run(int[], HookVisitor)}). Rows are the
     * hook's shape without its last axis, in TransformerLens order: {@code hook_q/k/v/z} row = position * n_heads
     * + head, {@code hook_result} likewise (rows of d_model); {@code hook_attn_scores} and {@code hook_pattern} row =
     * head * length + query (keys after the query: -inf and 0); every other hook row = position ({@code hook_scale}: rows
     * of one value). Each row holds the last axis.
     */
    @FunctionalInterface
    public interface HookVisitor {
        void visit(String hook, double[][] rows);
    }

    private static final HookVisitor NO_HOOKS = (hook, rows) -> {};

    private final ModelConfig c;
    private final float[] wte, wpe, unembed, lnfW, lnfB;
    private final float[][] ln1W, ln1B, attnW, attnB, projW, projB, ln2W, ln2B, fcW, fcB, mprojW, mprojB;

    public ReferenceGpt2(Checkpoint ckpt) {
        this.c = ckpt.config();
        int n = c.nLayer();
        wte = ckpt.array(WTE);
        wpe = ckpt.array(WPE);
        unembed = ckpt.config().tiedEmbeddings() ? wte : ckpt.array(LM_HEAD);
        lnfW = ckpt.array(LN_F_W);
        lnfB = ckpt.array(LN_F_B);
        ln1W = new float[n][]; ln1B = new float[n][]; attnW = new float[n][]; attnB = new float[n][];
        projW = new float[n][]; projB = new float[n][]; ln2W = new float[n][]; ln2B = new float[n][];
        fcW = new float[n][]; fcB = new float[n][]; mprojW = new float[n][]; mprojB = new float[n][];
        for (int l = 0; l < n; l++) {
            ln1W[l] = ckpt.array(ln1W(l)); ln1B[l] = ckpt.array(ln1B(l));
            attnW[l] = ckpt.array(attnW(l)); attnB[l] = ckpt.array(attnB(l));
            projW[l] = ckpt.array(projW(l)); projB[l] = ckpt.array(projB(l));
            ln2W[l] = ckpt.array(ln2W(l)); ln2B[l] = ckpt.array(ln2B(l));
            fcW[l] = ckpt.array(fcW(l)); fcB[l] = ckpt.array(fcB(l));
            mprojW[l] = ckpt.array(mlpProjW(l)); mprojB[l] = ckpt.array(mlpProjB(l));
        }
    }

    public ModelConfig config() {
        return c;
    }

    public Trace run(int[] ids) {
        return run(ids, Patches.none());
    }

    public Trace run(int[] ids, Patches patches) {
        return run(ids, patches, List.of());
    }

    public Trace run(int[] ids, Patches patches, List<Nudge> nudges) {
        return run(ids, patches, nudges, NO_HOOKS);
    }

    /**
     * A forward pass that shows every hook to {@code hooks} (hook_embed, hook_pos_embed, and per block
     * hook_resid_pre, ln1.hook_scale, ln1.hook_normalized, attn.hook_q/k/v, attn.hook_attn_scores (-inf after the query),
     * attn.hook_pattern, attn.hook_z, attn.hook_result, hook_attn_out, hook_resid_mid, ln2.hook_scale, ln2.hook_normalized,
     * mlp.hook_pre, mlp.hook_post, hook_mlp_out, hook_resid_post; then ln_final.hook_scale, ln_final.hook_normalized):
     * a reader copies the rows, a patcher overwrites them and the pass continues from the changed values.
     */
    public Trace run(int[] ids, HookVisitor hooks) {
        return run(ids, Patches.none(), List.of(), hooks);
    }

    private Trace run(int[] ids, Patches patches, List<Nudge> nudges, HookVisitor hooks) {
        int T = ids.length, d = c.dModel(), H = c.nHead(), dh = c.dHead(), L = c.nLayer();
        if (T < 1 || T > c.nPositions())
            throw new IllegalArgumentException("prompt length " + T + " outside 1.." + c.nPositions());
        double[][] x = new double[T][d], embed = new double[T][d], posEmbed = new double[T][d];
        for (int t = 0; t < T; t++) {
            if (ids[t] < 0 || ids[t] >= c.vocabSize()) throw new IllegalArgumentException("token id " + ids[t]);
            for (int i = 0; i < d; i++) {
                embed[t][i] = wte[ids[t] * d + i];
                posEmbed[t][i] = wpe[t * d + i];
            }
        }
        hooks.visit("hook_embed", embed);
        hooks.visit("hook_pos_embed", posEmbed);
        for (int t = 0; t < T; t++) for (int i = 0; i < d; i++) x[t][i] = embed[t][i] + posEmbed[t][i];
        double[][][] residPre = new double[L][][], residPost = new double[L][][], attnOut = new double[L][][];
        double[][][][] zAll = new double[L][][][], patAll = new double[L][][][];
        double scale = Math.sqrt(dh);
        for (int l = 0; l < L; l++) {
            String block = "blocks." + l + ".";
            nudge(nudges, Site.RESID_PRE, l, x);
            hooks.visit(block + "hook_resid_pre", x);
            residPre[l] = copy(x);
            double[][] a = layerNorm(x, ln1W[l], ln1B[l], hooks, block + "ln1");
            double[][] qkv = new double[T][];
            for (int t = 0; t < T; t++) qkv[t] = affine(a[t], attnW[l], attnB[l], 3 * d);
            for (KPatch p : patches.k()) {
                if (p.layer() != l) continue;
                for (int i = 0; i < dh; i++) qkv[p.position()][d + p.head() * dh + i] = p.value()[i];
            }
            if (hooks != NO_HOOKS)
                for (int part = 0; part < 3; part++) visitHeads(hooks, block + "attn.hook_" + "qkv".charAt(part), qkv, part * d);
            double[][][] pattern = new double[H][T][T];
            double[][][] z = new double[T][H][dh];
            // TransformerLens: scores masked to -inf after the query, hooked, softmaxed over every key (exp(-inf) = 0)
            double[][] scoreRows = new double[H * T][T];
            for (int h = 0; h < H; h++) {
                for (int q = 0; q < T; q++) {
                    double[] s = scoreRows[h * T + q];
                    for (int k = 0; k < T; k++) {
                        if (k > q) {
                            s[k] = Double.NEGATIVE_INFINITY;
                            continue;
                        }
                        double dot = 0;
                        for (int i = 0; i < dh; i++) dot += qkv[q][h * dh + i] * qkv[k][d + h * dh + i];
                        s[k] = dot / scale;
                    }
                }
            }
            hooks.visit(block + "attn.hook_attn_scores", scoreRows);
            for (int h = 0; h < H; h++) {
                for (int q = 0; q < T; q++) {
                    double[] s = scoreRows[h * T + q].clone();
                    double max = Double.NEGATIVE_INFINITY;
                    for (double v : s) max = Math.max(max, v);
                    if (max == Double.NEGATIVE_INFINITY) continue; // an all -inf row: NaN, which TransformerLens sets to 0
                    double sum = 0;
                    for (int k = 0; k < T; k++) sum += (s[k] = Math.exp(s[k] - max));
                    for (int k = 0; k < T; k++) pattern[h][q][k] = s[k] / sum;
                }
            }
            double[][] patternRows = new double[H * T][];
            for (int h = 0; h < H; h++) for (int q = 0; q < T; q++) patternRows[h * T + q] = pattern[h][q];
            hooks.visit(block + "attn.hook_pattern", patternRows);
            for (int h = 0; h < H; h++) {
                for (int q = 0; q < T; q++) {
                    // a patched pattern may weigh keys after the query too (as in the graphs)
                    int keys = hooks == NO_HOOKS ? q + 1 : T;
                    for (int i = 0; i < dh; i++) {
                        double acc = 0;
                        for (int k = 0; k < keys; k++) acc += pattern[h][q][k] * qkv[k][2 * d + h * dh + i];
                        z[q][h][i] = acc;
                    }
                }
            }
            for (ZPatch p : patches.z()) {
                if (p.layer() != l) continue;
                for (int i = 0; i < dh; i++) z[p.position()][p.head()][i] = p.value()[i];
            }
            for (Nudge n : nudges)
                if (n.site() == Site.Z && n.layer() == l) z[n.position()][n.index() / dh][n.index() % dh] += n.delta();
            double[][] zRows = new double[T * H][];
            for (int t = 0; t < T; t++) for (int h = 0; h < H; h++) zRows[t * H + h] = z[t][h];
            hooks.visit(block + "attn.hook_z", zRows);
            double[][] out = new double[T][];
            if (hooks == NO_HOOKS) {
                for (int t = 0; t < T; t++) {
                    double[] flat = new double[d];
                    for (int h = 0; h < H; h++) System.arraycopy(z[t][h], 0, flat, h * dh, dh);
                    out[t] = affine(flat, projW[l], projB[l], d);
                }
            } else { // per head through its rows of W_O (hook_result), then summed with b_O: TransformerLens' use_attn_result
                double[][] result = new double[T * H][d];
                for (int t = 0; t < T; t++)
                    for (int h = 0; h < H; h++)
                        for (int i = 0; i < dh; i++) {
                            double zi = z[t][h][i];
                            int row = (h * dh + i) * d;
                            for (int o = 0; o < d; o++) result[t * H + h][o] += zi * projW[l][row + o];
                        }
                hooks.visit(block + "attn.hook_result", result);
                for (int t = 0; t < T; t++) {
                    out[t] = new double[d];
                    for (int o = 0; o < d; o++) out[t][o] = projB[l][o];
                    for (int h = 0; h < H; h++) for (int o = 0; o < d; o++) out[t][o] += result[t * H + h][o];
                }
            }
            for (AttnOutPatch p : patches.attnOut()) {
                if (p.layer() != l) continue;
                for (int i = 0; i < d; i++) out[p.position()][i] = p.value()[i];
            }
            nudge(nudges, Site.ATTN_OUT, l, out);
            hooks.visit(block + "hook_attn_out", out);
            for (int t = 0; t < T; t++) for (int i = 0; i < d; i++) x[t][i] += out[t][i];
            hooks.visit(block + "hook_resid_mid", x);
            double[][] pre = new double[T][], post = new double[T][];
            double[][] m = layerNorm(x, ln2W[l], ln2B[l], hooks, block + "ln2");
            for (int t = 0; t < T; t++) pre[t] = affine(m[t], fcW[l], fcB[l], c.dMlp());
            hooks.visit(block + "mlp.hook_pre", pre);
            for (int t = 0; t < T; t++) {
                post[t] = new double[pre[t].length];
                for (int i = 0; i < pre[t].length; i++) post[t][i] = geluTanh(pre[t][i]);
            }
            hooks.visit(block + "mlp.hook_post", post);
            double[][] mlpOut = new double[T][];
            for (int t = 0; t < T; t++) mlpOut[t] = affine(post[t], mprojW[l], mprojB[l], d);
            nudge(nudges, Site.MLP_OUT, l, mlpOut);
            hooks.visit(block + "hook_mlp_out", mlpOut);
            for (int t = 0; t < T; t++) for (int i = 0; i < d; i++) x[t][i] += mlpOut[t][i];
            hooks.visit(block + "hook_resid_post", x);
            attnOut[l] = out;
            zAll[l] = z;
            patAll[l] = pattern;
            residPost[l] = copy(x);
        }
        double[][] lnFinal = layerNorm(x, lnfW, lnfB, hooks, "ln_final");
        double[][] logits = new double[T][];
        for (int t = 0; t < T; t++) logits[t] = unembedNormalized(lnFinal[t]);
        return new Trace(T, residPre, residPost, attnOut, zAll, patAll, lnFinal, logits);
    }

    /** Logit lens: ln_f then unembedding of a pre-ln_f residual vector; centred over the vocabulary. */
    public double[] unembed(double[] resid) {
        return unembedNormalized(layerNorm(resid, lnfW, lnfB));
    }

    /**
     * The TransformerLens-frame value bias of each head: {@code bV_eff[l][h] = ln_1.bias . W_v[h] + b_v[h]}.
     * TransformerLens' z equals the raw z minus this vector.
     */
    public double[][][] valueBiasEffective() {
        int d = c.dModel(), H = c.nHead(), dh = c.dHead();
        double[][][] out = new double[c.nLayer()][H][dh];
        for (int l = 0; l < c.nLayer(); l++)
            for (int h = 0; h < H; h++)
                for (int i = 0; i < dh; i++) {
                    int col = 2 * d + h * dh + i;
                    double acc = attnB[l][col];
                    for (int r = 0; r < d; r++) acc += (double) ln1B[l][r] * attnW[l][r * 3 * d + col];
                    out[l][h][i] = acc;
                }
        return out;
    }

    /** Shows one of q, k, v (columns {@code offset..offset+d} of the fused projection) as rows per position and head. */
    private void visitHeads(HookVisitor hooks, String hook, double[][] qkv, int offset) {
        int H = c.nHead(), dh = c.dHead(), T = qkv.length;
        double[][] rows = new double[T * H][dh];
        for (int t = 0; t < T; t++)
            for (int h = 0; h < H; h++) System.arraycopy(qkv[t], offset + h * dh, rows[t * H + h], 0, dh);
        hooks.visit(hook, rows);
        for (int t = 0; t < T; t++)
            for (int h = 0; h < H; h++) System.arraycopy(rows[t * H + h], 0, qkv[t], offset + h * dh, dh);
    }

    private static void nudge(List<Nudge> nudges, Site site, int layer, double[][] act) {
        for (Nudge n : nudges)
            if (n.site() == site && n.layer() == layer) act[n.position()][n.index()] += n.delta();
    }

    private double[] unembedNormalized(double[] xn) {
        int d = c.dModel(), V = c.vocabSize();
        double[] out = new double[V];
        double mean = 0;
        for (int v = 0; v < V; v++) {
            double acc = 0;
            for (int i = 0; i < d; i++) acc += xn[i] * unembed[v * d + i];
            out[v] = acc;
            mean += acc;
        }
        mean /= V;
        for (int v = 0; v < V; v++) out[v] -= mean;
        return out;
    }

    /**
     * Every row's LayerNorm as TransformerLens computes it, showing {@code ln.hook_scale} (rows of one value,
     * sqrt(var + eps)) and then {@code ln.hook_normalized} ((x - mean) / scale * w + b) to {@code hooks}.
     */
    private double[][] layerNorm(double[][] x, float[] w, float[] b, HookVisitor hooks, String ln) {
        int T = x.length, d = c.dModel();
        double[][] out = new double[T][];
        if (hooks == NO_HOOKS) {
            for (int t = 0; t < T; t++) out[t] = layerNorm(x[t], w, b);
            return out;
        }
        double[][] centred = new double[T][d], scale = new double[T][1];
        for (int t = 0; t < T; t++) {
            double mean = 0, var = 0;
            for (double v : x[t]) mean += v;
            mean /= d;
            for (int i = 0; i < d; i++) var += (centred[t][i] = x[t][i] - mean) * centred[t][i];
            scale[t][0] = Math.sqrt(var / d + c.layerNormEpsilon());
        }
        hooks.visit(ln + ".hook_scale", scale);
        for (int t = 0; t < T; t++) {
            out[t] = new double[d];
            for (int i = 0; i < d; i++) out[t][i] = centred[t][i] / scale[t][0] * w[i] + b[i];
        }
        hooks.visit(ln + ".hook_normalized", out);
        return out;
    }

    private double[] layerNorm(double[] x, float[] w, float[] b) {
        int d = x.length;
        double mean = 0;
        for (double v : x) mean += v;
        mean /= d;
        double var = 0;
        for (double v : x) var += (v - mean) * (v - mean);
        var /= d;
        double inv = 1.0 / Math.sqrt(var + c.layerNormEpsilon());
        double[] out = new double[d];
        for (int i = 0; i < d; i++) out[i] = (x[i] - mean) * inv * w[i] + b[i];
        return out;
    }

    /** y = x W + b for a Conv1D weight stored [in, out]. */
    private static double[] affine(double[] x, float[] w, float[] b, int outDim) {
        double[] y = new double[outDim];
        for (int o = 0; o < outDim; o++) y[o] = b[o];
        for (int i = 0; i < x.length; i++) {
            double xi = x[i];
            if (xi == 0) continue;
            int row = i * outDim;
            for (int o = 0; o < outDim; o++) y[o] += xi * w[row + o];
        }
        return y;
    }

    static double geluTanh(double x) {
        return 0.5 * x * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (x + 0.044715 * x * x * x)));
    }

    private static double[][] copy(double[][] a) {
        double[][] out = new double[a.length][];
        for (int i = 0; i < a.length; i++) out[i] = a[i].clone();
        return out;
    }
}
