package org.milab.protocol.v2;

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
        float[] g = w.array(Gpt2Tensors.ln1W(layer));
        float[] attn = w.array(Gpt2Tensors.attnW(layer));
        float[] proj = w.array(Gpt2Tensors.projW(layer));
        FloatBuffer wte = w.floats(Gpt2Tensors.WTE);
        int P = tokens.length, H = w.config().nHead(), cols = 3 * d;
        double[][] x = new double[P][d];
        for (int a = 0; a < P; a++) {
            double mean = 0, var = 0;
            for (int i = 0; i < d; i++) mean += wte.get(tokens[a] * d + i);
            mean /= d;
            for (int i = 0; i < d; i++) {
                double c = wte.get(tokens[a] * d + i) - mean;
                var += c * c;
            }
            double inv = 1 / Math.sqrt(var / d + eps);
            for (int i = 0; i < d; i++) x[a][i] = (wte.get(tokens[a] * d + i) - mean) * inv * g[i];
        }
        double[][][] out = new double[H][P][P];
        for (int h = 0; h < H; h++)
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
        return out;
    }

    /** 1 + how many pool tokens score strictly above the source token itself in its row. */
    public static int ownRank(double[] row, int self) {
        int rank = 1;
        for (int b = 0; b < row.length; b++) if (b != self && row[b] > row[self]) rank++;
        return rank;
    }
}
