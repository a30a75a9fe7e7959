package org.milab.protocol.v2;

import org.milab.graph.Head;
import org.milab.model.Checkpoint;
import org.milab.model.Gpt2Tensors;

/**
 * Elhage et al.'s weight-based composition scores of a (sender, receiver) pair, reported beside the K-composition
 * path patch: ||M||_F / (||receiver part||_F ||W_OV^sender||_F) with M = W_QK W_OV^T (K), W_OV W_QK (Q) and
 * W_OV^sender W_OV^receiver (V), in the row-vector convention of GPT-2's Conv1D weights (x W). Raw weights: no
 * LayerNorm folding. Every matrix is kept factored (d x d_head), so a norm costs d x d_head^2, not d^3.
 */
final class CompositionScores {
    private CompositionScores() {}

    /** A head's factors: W_Q, W_K, W_V (d x dh) and W_O (dh x d), row-major. */
    record Factors(double[][] q, double[][] k, double[][] v, double[][] o) {}

    static Factors of(Checkpoint w, Head h) {
        int d = w.config().dModel(), dh = w.config().dHead();
        float[] attn = w.array(Gpt2Tensors.attnW(h.layer())), proj = w.array(Gpt2Tensors.projW(h.layer()));
        double[][] q = new double[d][dh], k = new double[d][dh], v = new double[d][dh], o = new double[dh][d];
        for (int i = 0; i < d; i++)
            for (int j = 0; j < dh; j++) {
                int c = h.head() * dh + j;
                q[i][j] = attn[i * 3 * d + c];
                k[i][j] = attn[i * 3 * d + d + c];
                v[i][j] = attn[i * 3 * d + 2 * d + c];
            }
        for (int j = 0; j < dh; j++)
            for (int i = 0; i < d; i++) o[j][i] = proj[(h.head() * dh + j) * d + i];
        return new Factors(q, k, v, o);
    }

    /** {k, q, v} composition scores of sender into receiver. */
    static double[] scores(Factors s, Factors r) {
        double ov = norm(s.v, transpose(s.o));                          // W_OV^s = V_s O_s
        double qk = norm(r.q, r.k);                                     // W_QK^r = Q_r K_r^T
        double ovR = norm(r.v, transpose(r.o));
        // K: Q_r K_r^T (V_s O_s)^T = Q_r (O_s K_r)^T V_s^T
        double k = norm(mul(r.q, transpose(mul(s.o, r.k))), s.v);
        // Q: V_s O_s Q_r K_r^T = V_s (O_s Q_r) K_r^T
        double q = norm(mul(s.v, mul(s.o, r.q)), r.k);
        // V: V_s O_s V_r O_r = V_s (O_s V_r) O_r
        double v = norm(mul(s.v, mul(s.o, r.v)), transpose(r.o));
        return new double[]{k / (qk * ov), q / (qk * ov), v / (ovR * ov)};
    }

    /** ||P Q^T||_F for P, Q of shape d x r: sqrt(tr((P^T P)(Q^T Q))). */
    static double norm(double[][] p, double[][] q) {
        double[][] a = gram(p), b = gram(q);
        double t = 0;
        for (int i = 0; i < a.length; i++)
            for (int j = 0; j < a.length; j++) t += a[i][j] * b[j][i];
        return Math.sqrt(Math.max(t, 0));
    }

    private static double[][] gram(double[][] p) {
        int r = p[0].length;
        double[][] g = new double[r][r];
        for (double[] row : p)
            for (int i = 0; i < r; i++) {
                if (row[i] == 0) continue;
                for (int j = 0; j < r; j++) g[i][j] += row[i] * row[j];
            }
        return g;
    }

    static double[][] mul(double[][] a, double[][] b) {
        int n = a.length, m = b[0].length, inner = b.length;
        double[][] out = new double[n][m];
        for (int i = 0; i < n; i++)
            for (int x = 0; x < inner; x++) {
                double av = a[i][x];
                if (av == 0) continue;
                for (int j = 0; j < m; j++) out[i][j] += av * b[x][j];
            }
        return out;
    }

    static double[][] transpose(double[][] a) {
        double[][] t = new double[a[0].length][a.length];
        for (int i = 0; i < a.length; i++) for (int j = 0; j < a[0].length; j++) t[j][i] = a[i][j];
        return t;
    }
}
