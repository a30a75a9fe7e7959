package org.milab.engine;

import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtException;
import ai.onnxruntime.OrtSession;
import org.milab.graph.MlpGraph;
import org.milab.model.Checkpoint;
import org.milab.model.Gpt2Tensors;
import org.milab.runtime.ModelSessions;

import java.nio.DoubleBuffer;
import java.util.Map;

/**
 * One block's MLP in double precision: MLP_l(ln_2(x)) for a residual vector x (ln_2 with its bias, the tanh GELU the
 * exported models use, both biases). Used where a path's effect must pass through an MLP that is recomputed rather
 * than frozen (path patching, the effective embedding), on vectors the graphs do not hold.
 *
 * <p>Two ways to run it. Given the model's sessions, ln_2 runs here and the two products and the GELU run in ONNX
 * Runtime's double kernels ({@link MlpGraph}), a whole batch of vectors per call: path patching's many passes, where a
 * Java loop reached about 3 GFLOP/s and was most of the step's time. Without sessions, a plain Java double loop, one
 * vector whole per thread: small one-off batches (the effective embedding) and the reference the ORT path is tested
 * against (Gpt2MlpTest: within 1e-12, and each way gives the same bits whatever the batch size and thread count).
 */
public final class Gpt2Mlp implements AutoCloseable {
    /** Vectors per ORT call: bounds the call's buffers ([rows, n_inner] doubles) on long batches. */
    static final int MAX_ROWS = 1024;

    private final int d;
    private final double eps;
    private final int inner;
    private final float[] g2, b2;
    /** The plain-Java path's weights (null on the ORT path). */
    private final float[] fc, fcB, pr, prB;
    /** The ORT path's session and environment (null on the plain-Java path). */
    private final OrtSession session;
    private final OrtEnvironment env;

    /** The plain-Java double loop. */
    public Gpt2Mlp(Checkpoint w, int layer) {
        this(w, layer, null);
    }

    /** Through {@code sessions}' options in ONNX Runtime's double kernels, or the plain-Java loop if sessions is null. */
    public Gpt2Mlp(Checkpoint w, int layer, ModelSessions sessions) {
        this.d = w.config().dModel();
        this.inner = w.config().nInner();
        this.eps = w.config().layerNormEpsilon();
        g2 = w.array(Gpt2Tensors.ln2W(layer));
        b2 = w.array(Gpt2Tensors.ln2B(layer));
        boolean java = sessions == null;
        fc = java ? w.array(Gpt2Tensors.fcW(layer)) : null;
        fcB = java ? w.array(Gpt2Tensors.fcB(layer)) : null;
        pr = java ? w.array(Gpt2Tensors.mlpProjW(layer)) : null;
        prB = java ? w.array(Gpt2Tensors.mlpProjB(layer)) : null;
        session = java ? null : sessions.probe(MlpGraph.model(w, layer));
        env = java ? null : sessions.env();
    }

    /**
     * {@link #out(double[])} of several residual vectors: on the ORT path {@link #MAX_ROWS} per call, on the Java path
     * spread over the cores, each vector whole by one thread.
     */
    public double[][] out(double[][] xs) {
        if (session == null)
            return java.util.stream.IntStream.range(0, xs.length).parallel().mapToObj(v -> javaOut(xs[v])).toArray(double[][]::new);
        double[][] out = new double[xs.length][];
        for (int from = 0; from < xs.length; from += MAX_ROWS) {
            int n = Math.min(MAX_ROWS, xs.length - from);
            double[] a = new double[n * d];
            for (int v = 0; v < n; v++) layerNorm(xs[from + v], a, v * d);
            double[] y = run(a, n);
            for (int v = 0; v < n; v++) out[from + v] = java.util.Arrays.copyOfRange(y, v * d, (v + 1) * d);
        }
        return out;
    }

    /** MLP_l(ln_2(x)): what the block's MLP adds to residual x. */
    public double[] out(double[] x) {
        return out(new double[][]{x})[0];
    }

    private double[] javaOut(double[] x) {
        double[] a = new double[d];
        layerNorm(x, a, 0);
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

    private void layerNorm(double[] x, double[] into, int at) {
        double mean = 0, var = 0;
        for (double v : x) mean += v;
        mean /= d;
        for (double v : x) var += (v - mean) * (v - mean);
        double inv = 1 / Math.sqrt(var / d + eps);
        for (int i = 0; i < d; i++) into[at + i] = (x[i] - mean) * inv * g2[i] + b2[i];
    }

    private double[] run(double[] a, int n) {
        try (OnnxTensor in = OnnxTensor.createTensor(env, DoubleBuffer.wrap(a), new long[]{n, d});
             OrtSession.Result r = session.run(Map.of(MlpGraph.INPUT, in))) {
            DoubleBuffer y = ((OnnxTensor) r.get(0)).getDoubleBuffer();
            double[] out = new double[n * d];
            y.get(out);
            return out;
        } catch (OrtException e) {
            throw new IllegalStateException("ONNX Runtime failed on the double-precision MLP graph: " + e.getMessage(), e);
        }
    }

    @Override
    public void close() {
        if (session == null) return;
        try {
            session.close();
        } catch (OrtException ignored) {
            // releasing native memory: nothing useful to do on failure
        }
    }
}
