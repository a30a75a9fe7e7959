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

    /**
     * {@link #out(double[])} of several residual vectors, spread over the machine's cores (the host MLP passes of path
     * patching are compute-bound and ONNX Runtime's threads idle meanwhile). Each vector is computed whole by one
     * thread with the one-vector arithmetic, so the numbers do not depend on the thread count.
     */
    public double[][] out(double[][] xs) {
        return java.util.stream.IntStream.range(0, xs.length).parallel().mapToObj(v -> out(xs[v])).toArray(double[][]::new);
    }

    /** MLP_l(ln_2(x)): what the block's MLP adds to residual x. */
    public double[] out(double[] x) {
        double mean = 0, var = 0;
        for (double v : x) mean += v;
        mean /= d;
        for (double v : x) var += (v - mean) * (v - mean);
        double inv = 1 / Math.sqrt(var / d + eps);
        double[] a = new double[d];
        for (int i = 0; i < d; i++) a[i] = (x[i] - mean) * inv * g2[i] + b2[i];
        double[] h = new double[inner];
        for (int j = 0; j < inner; j++) h[j] = fcB[j];
        for (int i = 0; i < d; i++) {
            double ai = a[i];
            if (ai == 0) continue;
            for (int j = 0; j < inner; j++) h[j] += ai * fc[i * inner + j]; // c_fc.weight is [d, inner]
        }
        double c = Math.sqrt(2 / Math.PI);
        double[] out = new double[d];
        for (int j = 0; j < inner; j++) {
            double v = h[j], gelu = 0.5 * v * (1 + Math.tanh(c * (v + 0.044715 * v * v * v)));
            if (gelu == 0) continue;
            for (int i = 0; i < d; i++) out[i] += gelu * pr[j * d + i];
        }
        for (int i = 0; i < d; i++) out[i] += prB[i];
        return out;
    }
}
