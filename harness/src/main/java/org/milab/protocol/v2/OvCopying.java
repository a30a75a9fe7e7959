package org.milab.protocol.v2;

import org.milab.engine.Gpt2Mlp;
import org.milab.model.Checkpoint;
import org.milab.model.Gpt2Tensors;

import java.nio.FloatBuffer;

/**
 * The copying signature of a head's OV circuit on a set of tokens, in TransformerLens' frame: source token t
 * enters as ln_1(e_t) (centred, normalised, times ln_1.weight; the LN bias and the value bias are constant
 * over tokens and TL folds them out of the OV circuit), goes through W_V and W_O of the head, is centred
 * (TL's centred writing weights) and read by W_U with ln_f.weight folded in. Row t of the result holds the
 * logits of every pool token u; t is copied when its own logit is the row's largest. Double precision.
 */
public final class OvCopying {
    private final Checkpoint w;
    private final int d, dh;
    private final double eps;
    private final int[] tokens;
    /** The pool tokens' effective embeddings, computed on first use. */
    private double[][] effectiveCache;
    /** ln_f.weight-scaled unembedding rows of the pool tokens. */
    private final double[][] unembed;

    public OvCopying(Checkpoint w, int[] tokens) {
        this.w = w;
        this.d = w.config().dModel();
        this.dh = w.config().dHead();
        this.eps = w.config().layerNormEpsilon();
        this.tokens = tokens.clone();
        FloatBuffer u = w.floats(w.unembeddingName());
        float[] lnF = w.array(Gpt2Tensors.LN_F_W);
        unembed = new double[tokens.length][d];
        for (int a = 0; a < tokens.length; a++)
            for (int i = 0; i < d; i++) unembed[a][i] = u.get(tokens[a] * d + i) * (double) lnF[i];
    }

    /** logits[t][u] of every head of a layer: [head][source token][target token]. */
    public double[][][] layer(int layer) {
        return layer(layer, false);
    }

    /**
     * The same with the source read through the token's residual entering {@code layer}: the raw embedding W_E, or
     * (effective) the embedding after block 0's MLP, e + MLP0(ln_2(e)), attention 0 left out (the IOI work's
     * effective embedding; for layer 0 it is the raw embedding).
     */
    public double[][][] layer(int layer, boolean effective) {
        float[] g = w.array(Gpt2Tensors.ln1W(layer));
        float[] attn = w.array(Gpt2Tensors.attnW(layer));
        float[] proj = w.array(Gpt2Tensors.projW(layer));
        int P = tokens.length, H = w.config().nHead(), cols = 3 * d;
        double[][] x = new double[P][];
        if (effective && layer > 0 && effectiveCache == null) effectiveCache = effectiveEmbeddings(tokens);
        for (int a = 0; a < P; a++) x[a] = layerNorm(effective && layer > 0 ? effectiveCache[a] : embedding(tokens[a]), g);
        double[][][] out = new double[H][P][P];
        // each head's rows are computed whole by one thread (the same numbers on any core count)
        java.util.stream.IntStream.range(0, H).parallel().forEach(h -> {
            for (int a = 0; a < P; a++) {
                double[] v = new double[dh];
                int c0 = 2 * d + h * dh;
                for (int i = 0; i < d; i++) {
                    double xi = x[a][i];
                    if (xi == 0) continue;
                    int row = i * cols + c0;
                    for (int j = 0; j < dh; j++) v[j] += xi * attn[row + j];
                }
                double[] o = new double[d];
                for (int j = 0; j < dh; j++) {
                    int row = (h * dh + j) * d;
                    for (int i = 0; i < d; i++) o[i] += v[j] * proj[row + i];
                }
                double mean = 0;
                for (double oi : o) mean += oi;
                mean /= d;
                for (int b = 0; b < P; b++) {
                    double s = 0;
                    for (int i = 0; i < d; i++) s += (o[i] - mean) * unembed[b][i];
                    out[h][a][b] = s;
                }
            }
        });
        return out;
    }

    private double[] embedding(int token) {
        FloatBuffer wte = w.floats(Gpt2Tensors.WTE);
        double[] e = new double[d];
        for (int i = 0; i < d; i++) e[i] = wte.get(token * d + i);
        return e;
    }

    /** e + MLP0(ln_2 of layer 0 (e)) of each token, with the tanh GELU the exported models use. */
    double[][] effectiveEmbeddings(int[] ids) {
        double[][] e = new double[ids.length][];
        for (int a = 0; a < ids.length; a++) e[a] = embedding(ids[a]);
        double[][] out = new Gpt2Mlp(w, 0).out(e);
        for (int a = 0; a < ids.length; a++)
            for (int i = 0; i < d; i++) out[a][i] += e[a][i];
        return out;
    }

    /** Centred, normalised, times {@code g} (the LN bias is constant over tokens and folded out, as TL does). */
    private double[] layerNorm(double[] v, float[] g) {
        double mean = 0, var = 0;
        for (double x : v) mean += x;
        mean /= d;
        for (double x : v) var += (x - mean) * (x - mean);
        double inv = 1 / Math.sqrt(var / d + eps);
        double[] out = new double[d];
        for (int i = 0; i < d; i++) out[i] = (v[i] - mean) * inv * g[i];
        return out;
    }

    /**
     * Elhage et al.'s copying signature of a square OV circuit (source x target over the same tokens): the sum of
     * the real parts of its eigenvalues over the sum of their moduli, in [-1, 1]; 1 = every eigenvalue positive.
     * The circuit has rank at most d_head, and a direct eigendecomposition of such a low-rank, non-symmetric
     * matrix can fail to converge (it did on trained models). Zero eigenvalues add nothing to either sum, so it
     * uses the thin SVD M = U S V^T: the non-zero eigenvalues of M = U (S V^T) are those of the r x r matrix
     * (S V^T) U (r = numerical rank, numpy's matrix_rank tolerance).
     */
    public static double eigenvaluePositivity(double[][] m) {
        org.apache.commons.math3.linear.SingularValueDecomposition svd =
                new org.apache.commons.math3.linear.SingularValueDecomposition(new org.apache.commons.math3.linear.Array2DRowRealMatrix(m));
        double[] s = svd.getSingularValues();
        double tol = s.length == 0 ? 0 : s[0] * Math.max(m.length, m[0].length) * Math.ulp(1.0);
        int r = 0;
        while (r < s.length && s[r] > tol) r++;
        if (r == 0) return Double.NaN;
        org.apache.commons.math3.linear.RealMatrix u = svd.getU().getSubMatrix(0, m.length - 1, 0, r - 1),
                svt = svd.getS().getSubMatrix(0, r - 1, 0, r - 1).multiply(svd.getVT().getSubMatrix(0, r - 1, 0, m[0].length - 1));
        org.apache.commons.math3.linear.EigenDecomposition e = new org.apache.commons.math3.linear.EigenDecomposition(svt.multiply(u));
        double[] re = e.getRealEigenvalues(), im = e.getImagEigenvalues();
        double sum = 0, abs = 0;
        for (int i = 0; i < re.length; i++) {
            sum += re[i];
            abs += Math.hypot(re[i], im[i]);
        }
        return abs == 0 ? Double.NaN : sum / abs;
    }

    /** 1 + how many pool tokens score strictly above the source token itself in its row. */
    public static int ownRank(double[] row, int self) {
        int rank = 1;
        for (int b = 0; b < row.length; b++) if (b != self && row[b] > row[self]) rank++;
        return rank;
    }
}
