package org.milab.graph;

import java.util.SplittableRandom;

/**
 * A one-node graph, x [m, k] times a constant random weight [k, n], for measuring the machine's MatMul
 * ceiling in the same process and under the same load as a benchmark (the ceiling in
 * shared/spec/stack-notes.md is [64,768]x[768,3072] with 2 threads).
 */
public final class MatMulProbe {
    public static final String INPUT = "x", OUTPUT = "y";

    private MatMulProbe() {}

    /** The serialized model; the weight is inline, so a session can be created from these bytes. */
    public static byte[] model(int m, int k, int n) {
        OnnxGraph g = new OnnxGraph("matmul_probe");
        float[] w = new float[k * n];
        SplittableRandom rng = new SplittableRandom(0);
        for (int i = 0; i < w.length; i++) w[i] = (float) (rng.nextDouble() - 0.5);
        g.inlineFloat("w", new long[]{k, n}, w);
        g.input(INPUT, OnnxGraph.FLOAT, (long) m, (long) k);
        g.node("MatMul", OUTPUT, new String[]{INPUT, "w"});
        g.output(OUTPUT, OnnxGraph.FLOAT, (long) m, (long) n);
        return g.model(Gpt2GraphBuilder.OPSET, "probe", java.util.Map.of()).toByteArray();
    }
}
