package org.milab.engine;

import org.milab.model.Checkpoint;
import org.milab.model.Gpt2Tensors;

/**
 * One block's MLP on the host, in double precision: MLP_l(ln_2(x)) for a residual vector x (ln_2 with its bias, the
 * tanh GELU the exported models use, both biases). Used where a path's effect must pass through an MLP that is
 * recomputed rather than frozen (path patching, the effective embedding), on vectors the graphs do not hold.
 */
public final class Gpt2Mlp {
    private final int d, inner;
    private final double eps;
    private final float[] g2, b2, fc, fcB, pr, prB;

    public Gpt2Mlp(Checkpoint w, int layer) {
        this.d = w.config().dModel();
        this.inner = w.config().nInner();
        this.eps = w.config().layerNormEpsilon();
        g2 = w.array(Gpt2Tensors.ln2W(layer));
        b2 = w.array(Gpt2Tensors.ln2B(layer));
        fc = w.array(Gpt2Tensors.fcW(layer));
        fcB = w.array(Gpt2Tensors.fcB(layer));
        pr = w.array(Gpt2Tensors.mlpProjW(layer));
        prB = w.array(Gpt2Tensors.mlpProjB(layer));
    }

    /** MLP_l(ln_2(x)): what the block's MLP adds to residual x. */
    public double[] out(double[] x) {
        return out(new double[][]{x})[0];
    }

    /**
     * {@link #out(double[])} of several residual vectors at once, each with exactly the single-vector arithmetic (the
     * same sums in the same order): each weight row is read once for all of them rather than once per vector, which
     * on GPT-2-sized MLPs (two 9 MB matrices) turns a memory-bound loop into a compute-bound one.
     */
    public double[][] out(double[][] xs) {
        int n = xs.length;
        double[][] a = new double[n][d], h = new double[n][inner], out = new double[n][d];
        for (int v = 0; v < n; v++) {
            double[] x = xs[v];
            double mean = 0, var = 0;
            for (double e : x) mean += e;
            mean /= d;
            for (double e : x) var += (e - mean) * (e - mean);
            double inv = 1 / Math.sqrt(var / d + eps);
            for (int i = 0; i < d; i++) a[v][i] = (x[i] - mean) * inv * g2[i] + b2[i];
            for (int j = 0; j < inner; j++) h[v][j] = fcB[j];
        }
        for (int i = 0; i < d; i++) {
            int row = i * inner; // c_fc.weight is [d, inner]
            for (int v = 0; v < n; v++) {
                double ai = a[v][i];
                if (ai == 0) continue;
                double[] hv = h[v];
                for (int j = 0; j < inner; j++) hv[j] += ai * fc[row + j];
            }
        }
        double c = Math.sqrt(2 / Math.PI);
        for (int j = 0; j < inner; j++) {
            int row = j * d;
            for (int v = 0; v < n; v++) {
                double x = h[v][j], gelu = 0.5 * x * (1 + Math.tanh(c * (x + 0.044715 * x * x * x)));
                if (gelu == 0) continue;
                double[] ov = out[v];
                for (int i = 0; i < d; i++) ov[i] += gelu * pr[row + i];
            }
        }
        for (double[] ov : out)
            for (int i = 0; i < d; i++) ov[i] += prB[i];
        return out;
    }
}
