package org.milab.graph;

import org.milab.model.ModelConfig;

import static org.milab.graph.OnnxGraph.attr;

/**
 * The hand-written reverse-mode pieces both gradient graphs (head-level {@code grad} and edge-level
 * {@code edge_grad}) build from: a LayerNorm that keeps what its backward pass reads, LayerNorm's and GELU's
 * derivatives, and a product with a transposed Conv1D weight. One place, so the two graphs differentiate alike.
 */
final class BackwardOps {
    private static final double GELU_C = Math.sqrt(2 / Math.PI), GELU_K = 0.044715;

    /** A LayerNorm's output and what its backward pass reads. */
    record Norm(String y, String xhat, String invStd, String gain) {}

    private final OnnxGraph g;
    private final WeightsLayout weights;
    private final ModelConfig c;

    BackwardOps(OnnxGraph g, WeightsLayout weights, ModelConfig c) {
        this.g = g;
        this.weights = weights;
        this.c = c;
    }

    /** Registers (once) the external initializer for a weights-file tensor and returns its name. */
    String ext(String name) {
        if (g.hasInitializer(name)) return name;
        WeightsLayout.Entry e = weights.entry(name);
        g.externalFloat(name, e.dims(), weights.fileName(), e.offset(), e.length());
        return name;
    }

    Norm layerNorm(String x, String w, String b) {
        String[] o = g.multi("LayerNormalization", new String[]{x, ext(w), ext(b)}, 3,
                attr("axis", -1L), attr("epsilon", (float) c.layerNormEpsilon()));
        return new Norm(o[0], g.op("Mul", g.op("Sub", x, o[1]), o[2]), o[2], ext(w));
    }

    /** dx = invStd (dxhat - mean(dxhat) - xhat mean(dxhat xhat)), dxhat = dy * gain. */
    String layerNormBack(String gy, Norm n) {
        String gHat = g.op("Mul", gy, n.gain());
        String m1 = g.op("ReduceMean", new String[]{gHat, g.constLongs("ax_last", -1)}, attr("keepdims", 1L));
        String m2 = g.op("ReduceMean", new String[]{g.op("Mul", gHat, n.xhat()), g.constLongs("ax_last", -1)},
                attr("keepdims", 1L));
        return g.op("Mul", n.invStd(), g.op("Sub", g.op("Sub", gHat, m1), g.op("Mul", n.xhat(), m2)));
    }

    /**
     * {@code grad [b,P,out] . W^T} for a Conv1D weight stored [in, out] (Gemm's transB reads it transposed, so no
     * transposed copy of the weight is made); returns [b,P,in].
     */
    String timesTransposed(String grad, String weight, int in, String bp) {
        long out = weights.entry(weight).dims()[1];
        String flat2d = g.op("Reshape", grad, g.constLongs("rows_shape", -1, out));
        String prod = g.op("Gemm", new String[]{flat2d, ext(weight)}, attr("transB", 1L));
        return g.op("Reshape", prod, g.op("Concat", new String[]{bp, g.constLongs("in_dim", in)}, attr("axis", 0L)));
    }

    /** gelu'(x) = (1 + t)/2 + x/2 (1 - t^2) C (1 + 3K x^2), t = tanh(C (x + K x^3)). */
    String geluDerivative(String x) {
        String x2 = g.op("Mul", x, x);
        String t = g.op("Tanh", g.op("Mul", g.scalarFloat("gelu_c", (float) GELU_C),
                g.op("Add", x, g.op("Mul", g.scalarFloat("gelu_k", (float) GELU_K), g.op("Mul", x2, x)))));
        String half = g.scalarFloat("half", 0.5f), one = g.scalarFloat("one", 1f);
        String first = g.op("Mul", half, g.op("Add", one, t));
        String sech2 = g.op("Sub", one, g.op("Mul", t, t));
        String inner = g.op("Add", one, g.op("Mul", g.scalarFloat("gelu_3k", (float) (3 * GELU_K)), x2));
        String second = g.op("Mul", g.op("Mul", g.op("Mul", g.scalarFloat("half_c", (float) (0.5 * GELU_C)), x), sech2), inner);
        return g.op("Add", first, second);
    }
}
