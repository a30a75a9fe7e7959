package org.milab.atp;

import org.milab.graph.HookNames;
import org.milab.model.Checkpoint;
import org.milab.model.Gpt2Tensors;
import org.milab.model.ModelConfig;

import java.util.List;

/**
 * AtP*'s fix for attention saturation (the "QK fix" of Kramar et al. 2024, arXiv 2403.00745), for the nodes AtP scores.
 * <p>
 * Plain AtP pushes a node's change through every later head's softmax with the softmax's Jacobian; a saturated
 * softmax has a ~0 Jacobian, so a node whose effect runs through a later head's queries or keys (the
 * previous-token head of an induction circuit) scores ~0. AtP* keeps everything first order except that softmax:
 * for a node {@code n} patched at position {@code p} and each later head {@code d} (one hop: the node's change
 * reaches {@code d}'s ln1 directly through the residual stream),
 * <ol>
 *   <li>{@code dx = gamma * centre(dr_p) / sigma_p}: the change of {@code d}'s ln1 output, with the base run's
 *       LayerNorm scale {@code sigma_p} frozen ({@code dr_p} is the node's change in the residual stream: a head's
 *       {@code dz_p W_O}, else the hook's own difference);</li>
 *   <li>the first-order change of {@code d}'s attention logits: row {@code p} through the query,
 *       {@code dx W_Q . k_s / sqrt(d_head)}, and column {@code p} through the key, {@code q_t . dx W_K / sqrt(d_head)}
 *       (the bilinear {@code dq . dk} term at {@code [p, p]} is second order in the node's change and dropped: only
 *       the softmax is kept nonlinear);</li>
 *   <li>{@code d}'s softmax recomputed exactly on every changed row, and its change weighted by
 *       {@code dm/dA[t, s] = dm/dz_d[t] . v_d[s]} (the existing gradient at {@code hook_z} times the base run's values:
 *       no new gradient pass);</li>
 *   <li>that exact-softmax term replaces the same change pushed through the softmax's Jacobian, which is the
 *       part of AtP's gradient it stands for: {@code AtP* = AtP + sum_d (exact_d - linear_d)}.</li>
 * </ol>
 * What stays first order, as in AtP: the LayerNorm scale's own response (in AtP's gradient, untouched), paths
 * through intermediate nodes to {@code d}, and everything after {@code d}'s pattern. The base run's q, k, v, scale
 * and pattern are recomputed here (q, k, v in float like the graphs, the rest in double) from its
 * {@code hook_resid_pre} (captured by the gradient pass already), so AtP* costs no pass beyond plain AtP's, only
 * this arithmetic. The paper applies the fix to query and key nodes themselves; here the nodes are head outputs,
 * MLPs, attention layers and residual streams, so it is applied to each node's direct effect on every later
 * head's queries and keys.
 */
public final class QkFix {
    private final ModelConfig c;
    private final float[][] ln1W, ln1B, attnW, attnB, projW;
    /** Per block, W_Q and W_K transposed ([column][d_model]): each head dimension's column contiguous. */
    private final float[][] wqT, wkT;

    /** Reads each block's ln1, c_attn and c_proj weights from {@code weights} (copied: the checkpoint may be closed). */
    public QkFix(Checkpoint weights) {
        c = weights.config();
        int L = c.nLayer();
        ln1W = new float[L][]; ln1B = new float[L][]; attnW = new float[L][]; attnB = new float[L][]; projW = new float[L][];
        wqT = new float[L][]; wkT = new float[L][];
        int d = c.dModel();
        for (int l = 0; l < L; l++) {
            ln1W[l] = weights.array(Gpt2Tensors.ln1W(l));
            ln1B[l] = weights.array(Gpt2Tensors.ln1B(l));
            attnW[l] = weights.array(Gpt2Tensors.attnW(l));
            attnB[l] = weights.array(Gpt2Tensors.attnB(l));
            projW[l] = weights.array(Gpt2Tensors.projW(l));
            wqT[l] = new float[d * d];
            wkT[l] = new float[d * d];
            for (int i = 0; i < d; i++)
                for (int o = 0; o < d; o++) {
                    wqT[l][o * d + i] = attnW[l][i * 3 * d + o];
                    wkT[l][o * d + i] = attnW[l][i * 3 * d + d + o];
                }
        }
    }

    /**
     * One block's attention in the base run, per head: ln1 scale per position, q, k, v, scores and pattern
     * (causal), {@code dm/dA}, and the vectors that turn an ln1-output change into a logit change.
     */
    final class Layer {
        final int T;
        final double[] scale;
        final double[][][] pattern, scores, gradPattern; // [head][query][key], key <= query
        final double[][] weightedGrad;                  // [head][query]: sum_s dm/dA[t, s] A[t, s]
        final float[][][] keyDir, queryDir;             // [head][position][d_model]: W_Q k_s and W_K q_t, over sqrt(d_head)

        Layer(int l, GradientPass.Row base) {
            int d = c.dModel(), H = c.nHead(), dh = c.dHead(), w3 = 3 * d;
            float[] x = base.activations().get(HookNames.hookResidPre(l));
            float[] gz = base.gradients().get(HookNames.hookZ(l));
            float[] w = attnW[l];
            T = x.length / d;
            scale = new double[T];
            // q, k, v in float, as the graphs compute them; loops laid out as axpy over contiguous weights (vectorizable)
            float[][] qkv = new float[T][w3];
            for (int t = 0; t < T; t++) {
                double mean = 0, var = 0;
                for (int i = 0; i < d; i++) mean += x[t * d + i];
                mean /= d;
                for (int i = 0; i < d; i++) var += (x[t * d + i] - mean) * (x[t * d + i] - mean);
                scale[t] = Math.sqrt(var / d + c.layerNormEpsilon());
                float[] acc = qkv[t];
                System.arraycopy(attnB[l], 0, acc, 0, w3);
                for (int i = 0; i < d; i++) {
                    float a = (float) ((x[t * d + i] - mean) / scale[t] * ln1W[l][i] + ln1B[l][i]);
                    int row = i * w3;
                    for (int o = 0; o < w3; o++) acc[o] += a * w[row + o];
                }
            }
            double root = Math.sqrt(dh);
            pattern = new double[H][T][];
            scores = new double[H][T][];
            gradPattern = new double[H][T][];
            weightedGrad = new double[H][T];
            for (int h = 0; h < H; h++)
                for (int t = 0; t < T; t++) {
                    scores[h][t] = new double[t + 1];
                    gradPattern[h][t] = new double[t + 1];
                    for (int s = 0; s <= t; s++) {
                        double dot = 0, g = 0;
                        for (int j = 0; j < dh; j++) {
                            dot += (double) qkv[t][h * dh + j] * qkv[s][d + h * dh + j];
                            g += (double) gz[(t * H + h) * dh + j] * qkv[s][2 * d + h * dh + j];
                        }
                        scores[h][t][s] = dot / root;
                        gradPattern[h][t][s] = g;
                    }
                    pattern[h][t] = softmax(scores[h][t]);
                    for (int s = 0; s <= t; s++) weightedGrad[h][t] += gradPattern[h][t][s] * pattern[h][t][s];
                }
            // W_Q[:, head] k_s / sqrt(d_head) and W_K[:, head] q_t / sqrt(d_head) over d_model (a logit change is then
            // one dot product), summed column by column of the transposed W_Q and W_K
            keyDir = new float[H][T][d];
            queryDir = new float[H][T][d];
            float inv = (float) (1 / root);
            for (int h = 0; h < H; h++)
                for (int j = 0; j < dh; j++) {
                    int o = h * dh + j, from = o * d;
                    for (int t = 0; t < T; t++) {
                        float k = qkv[t][d + o] * inv, q = qkv[t][o] * inv;
                        float[] kr = keyDir[h][t], qr = queryDir[h][t];
                        for (int i = 0; i < d; i++) {
                            kr[i] += k * wqT[l][from + i];
                            qr[i] += q * wkT[l][from + i];
                        }
                    }
                }
        }

        /**
         * The first-order logit change of head {@code h} when ln1's output at position {@code p} moves by {@code dx}:
         * {@code [t][s]} for the query rows {@code t >= p} (row p: every key; later rows: key p only, else 0).
         */
        double[][] logitShift(int h, int p, float[] dx) {
            double[][] out = new double[T][];
            for (int t = p; t < T; t++) out[t] = new double[t + 1];
            for (int s = 0; s <= p; s++) out[p][s] = dot(dx, keyDir[h][s]);
            for (int t = p; t < T; t++) out[t][p] += dot(dx, queryDir[h][t]);
            return out;
        }

        /**
         * {@code exact - linear}: the metric change through head {@code h}'s pattern when ln1's output at position
         * {@code p} moves by {@code dx} ({@link #logitShift}'s shift, without building it): row p's softmax in full;
         * on a later row only key p moves, so its exact softmax has a closed form.
         */
        double correction(int h, int p, float[] dx) {
            double[] row = new double[p + 1];
            for (int s = 0; s <= p; s++) row[s] = dot(dx, keyDir[h][s]);
            row[p] += dot(dx, queryDir[h][p]);
            double total = fullRow(h, p, row);
            for (int t = p + 1; t < T; t++) total += oneKey(h, t, p, dot(dx, queryDir[h][t]));
            return total;
        }

        /** Row {@code t}'s term for a logit change {@code ds} of every key: the softmax recomputed. */
        private double fullRow(int h, int t, double[] ds) {
            double[] a = pattern[h][t], g = gradPattern[h][t], moved = scores[h][t].clone();
            for (int s = 0; s <= t; s++) moved[s] += ds[s];
            double[] exact = softmax(moved);
            double mean = 0, total = 0;
            for (int s = 0; s <= t; s++) mean += a[s] * ds[s];
            for (int s = 0; s <= t; s++) total += g[s] * ((exact[s] - a[s]) - a[s] * (ds[s] - mean));
            return total;
        }

        /**
         * Row {@code t}'s term when only key {@code k}'s logit moves by {@code delta}: the other weights scale by
         * {@code 1/Z}, key k's becomes {@code a_k e^delta / Z}, {@code Z = 1 + a_k (e^delta - 1)} (written so that no
         * exponential overflows); the Jacobian term is {@code a_k delta (g_k - sum_s g_s a_s)}.
         */
        private double oneKey(int h, int t, int k, double delta) {
            double ak = pattern[h][t][k], gk = gradPattern[h][t][k], ga = weightedGrad[h][t];
            double rest, movedK; // 1/Z and a_k e^delta / Z
            if (delta <= 0) {
                double e = Math.exp(delta), z = 1 + ak * (e - 1);
                rest = 1 / z;
                movedK = ak * e / z;
            } else {
                double inv = Math.exp(-delta), z = inv + ak * (1 - inv);
                rest = inv / z;
                movedK = ak / z;
            }
            double exact = (ga - gk * ak) * (rest - 1) + gk * (movedK - ak);
            return exact - ak * delta * (gk - ga);
        }
    }

    /** The base run's attention in every block (what {@link #correction} reuses for every node). */
    Layer[] layers(GradientPass.Row base) {
        Layer[] out = new Layer[c.nLayer()];
        for (int l = 0; l < out.length; l++) out[l] = new Layer(l, base);
        return out;
    }

    /**
     * {@code [node][position]}: AtP* minus AtP for patching each node, at one position, from the {@code base} run's value
     * to the {@code other} run's (denoising: base corrupt, other clean).
     */
    public double[][] correction(List<AttributionNode> nodes, GradientPass.Row base, GradientPass.Row other) {
        Layer[] layers = layers(base);
        int T = layers[0].T, H = c.nHead();
        double[][] out = new double[nodes.size()][T];
        // nodes are independent (each writes its own row), so the parallel loop gives the same numbers on any thread count
        java.util.stream.IntStream.range(0, nodes.size()).parallel().forEach(n -> {
            AttributionNode node = nodes.get(n);
            for (int p = 0; p < T; p++) {
                double[] dr = residualChange(node, base, other, p);
                double sum = 0;
                for (int l = firstReader(node); l < c.nLayer(); l++) {
                    float[] dx = lnChange(l, layers[l].scale[p], dr);
                    for (int h = 0; h < H; h++) sum += layers[l].correction(h, p, dx);
                }
                out[n][p] = sum;
            }
        });
        return out;
    }

    /** The first block whose ln1 reads the node's output: its own block for a residual stream, else the next. */
    static int firstReader(AttributionNode node) {
        return node.kind() == AttributionNode.Kind.RESID_PRE ? node.layer() : node.layer() + 1;
    }

    /** The node's change at position {@code p} as it enters the residual stream (a head's through its rows of W_O). */
    double[] residualChange(AttributionNode node, GradientPass.Row base, GradientPass.Row other, int p) {
        int d = c.dModel();
        float[] a = base.activations().get(node.hook()), b = other.activations().get(node.hook());
        double[] dr = new double[d];
        if (node.kind() != AttributionNode.Kind.HEAD) {
            for (int i = 0; i < d; i++) dr[i] = (double) b[p * d + i] - a[p * d + i];
            return dr;
        }
        int dh = c.dHead(), off = p * d + node.head() * dh;
        for (int j = 0; j < dh; j++) {
            double dz = (double) b[off + j] - a[off + j];
            int row = (node.head() * dh + j) * d;
            for (int i = 0; i < d; i++) dr[i] += dz * projW[node.layer()][row + i];
        }
        return dr;
    }

    /** ln1's output change for a residual change {@code dr}, its scale frozen at {@code sigma} (float, like the graphs). */
    float[] lnChange(int l, double sigma, double[] dr) {
        int d = dr.length;
        double mean = 0;
        for (double v : dr) mean += v;
        mean /= d;
        float[] dx = new float[d];
        for (int i = 0; i < d; i++) dx[i] = (float) ((dr[i] - mean) / sigma * ln1W[l][i]);
        return dx;
    }

    static double[] softmax(double[] s) {
        double max = Double.NEGATIVE_INFINITY, sum = 0;
        for (double v : s) max = Math.max(max, v);
        double[] e = new double[s.length];
        for (int i = 0; i < s.length; i++) sum += (e[i] = Math.exp(s[i] - max));
        for (int i = 0; i < s.length; i++) e[i] /= sum;
        return e;
    }

    /** Float products in four running sums (the hot loop of the fix: independent sums keep the multiplier busy). */
    private static double dot(float[] a, float[] b) {
        float s0 = 0, s1 = 0, s2 = 0, s3 = 0;
        int i = 0, n = a.length;
        for (; i + 3 < n; i += 4) {
            s0 += a[i] * b[i];
            s1 += a[i + 1] * b[i + 1];
            s2 += a[i + 2] * b[i + 2];
            s3 += a[i + 3] * b[i + 3];
        }
        for (; i < n; i++) s0 += a[i] * b[i];
        return (double) s0 + s1 + s2 + s3;
    }
}
