package org.milab.graph;

import org.milab.model.Checkpoint;
import org.milab.model.Gpt2Tensors;
import org.milab.model.ModelConfig;

import java.util.Map;

/**
 * One block's MLP in double precision as a graph: {@code x [n, d_model]} (the block's ln_2 output, computed by the
 * caller) to {@code gelu(x W_fc + b_fc) W_proj + b_proj}, with the tanh GELU the exported models use. Path patching
 * carries a head's change of the residual through MLPs as MLP(mid + delta) - MLP(mid); that difference needs double
 * precision, and ONNX Runtime's double MatMul runs it about ten times faster than a Java loop can.
 *
 * <p>The weights are the checkpoint's floats, inline, widened to double by Cast nodes (exact; ONNX Runtime folds them
 * once when the session is created).
 */
public final class MlpGraph {
    public static final String INPUT = "ln2_out", OUTPUT = "mlp_out";

    private MlpGraph() {}

    /** The serialized model of layer {@code layer}'s MLP; a session can be created from these bytes. */
    public static byte[] model(Checkpoint w, int layer) {
        ModelConfig c = w.config();
        long d = c.dModel(), inner = c.nInner();
        OnnxGraph g = new OnnxGraph("mlp_" + layer);
        g.input(INPUT, OnnxGraph.DOUBLE, "n", d);
        String fc = widened(g, w, Gpt2Tensors.fcW(layer), "fc_w", d, inner), fcB = widened(g, w, Gpt2Tensors.fcB(layer), "fc_b", inner);
        String pr = widened(g, w, Gpt2Tensors.mlpProjW(layer), "proj_w", inner, d);
        String prB = widened(g, w, Gpt2Tensors.mlpProjB(layer), "proj_b", d);
        String h = g.op("Add", g.op("MatMul", INPUT, fc), fcB);
        // 0.5 h (1 + tanh(sqrt(2 / pi) (h + 0.044715 h^3)))
        String cube = g.op("Mul", g.op("Mul", h, h), h);
        String arg = g.op("Mul", g.op("Add", h, g.op("Mul", cube, g.scalarDouble("c3", 0.044715))),
                g.scalarDouble("sqrt_2_over_pi", Math.sqrt(2 / Math.PI)));
        String gelu = g.op("Mul", g.op("Mul", h, g.scalarDouble("half", 0.5)), g.op("Add", g.scalarDouble("one", 1), g.op("Tanh", arg)));
        g.node("Add", OUTPUT, new String[]{g.op("MatMul", gelu, pr), prB});
        g.output(OUTPUT, OnnxGraph.DOUBLE, "n", d);
        return g.model(Gpt2GraphBuilder.OPSET, "mlp", Map.of()).toByteArray();
    }

    private static String widened(OnnxGraph g, Checkpoint w, String tensor, String name, long... dims) {
        g.inlineFloat(name, dims, w.array(tensor));
        return g.op("Cast", new String[]{name}, OnnxGraph.attr("to", (long) OnnxGraph.DOUBLE));
    }
}
