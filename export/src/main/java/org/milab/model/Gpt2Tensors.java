package org.milab.model;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Canonical Hugging Face GPT-2 tensor names and shapes (Conv1D weights are {@code [in, out]}).
 * Checkpoints may carry a {@code transformer.} prefix and the {@code attn.bias}/{@code attn.masked_bias}
 * causal-mask buffers; readers strip the prefix and ignore the buffers.
 */
public final class Gpt2Tensors {
    private Gpt2Tensors() {}

    public static final String WTE = "wte.weight";
    public static final String WPE = "wpe.weight";
    public static final String LN_F_W = "ln_f.weight";
    public static final String LN_F_B = "ln_f.bias";
    public static final String LM_HEAD = "lm_head.weight";

    public static String ln1W(int l) { return "h." + l + ".ln_1.weight"; }
    public static String ln1B(int l) { return "h." + l + ".ln_1.bias"; }
    public static String attnW(int l) { return "h." + l + ".attn.c_attn.weight"; }
    public static String attnB(int l) { return "h." + l + ".attn.c_attn.bias"; }
    public static String projW(int l) { return "h." + l + ".attn.c_proj.weight"; }
    public static String projB(int l) { return "h." + l + ".attn.c_proj.bias"; }
    public static String ln2W(int l) { return "h." + l + ".ln_2.weight"; }
    public static String ln2B(int l) { return "h." + l + ".ln_2.bias"; }
    public static String fcW(int l) { return "h." + l + ".mlp.c_fc.weight"; }
    public static String fcB(int l) { return "h." + l + ".mlp.c_fc.bias"; }
    public static String mlpProjW(int l) { return "h." + l + ".mlp.c_proj.weight"; }
    public static String mlpProjB(int l) { return "h." + l + ".mlp.c_proj.bias"; }
    /** The causal-mask buffer some checkpoints carry ({@code [1,1,n_pos,n_pos]}); not a parameter. */
    public static String attnMaskBuffer(int l) { return "h." + l + ".attn.bias"; }

    /** Strips the optional {@code transformer.} prefix. */
    public static String canonical(String name) {
        return name.startsWith("transformer.") ? name.substring("transformer.".length()) : name;
    }

    /** True for buffers that are stored in checkpoints but are not model parameters. */
    public static boolean isBuffer(String canonicalName) {
        return canonicalName.matches("h\\.\\d+\\.attn\\.(bias|masked_bias)");
    }

    /** Every parameter the architecture needs, in a stable order, with its expected shape. */
    public static Map<String, long[]> expectedShapes(ModelConfig c) {
        Map<String, long[]> m = new LinkedHashMap<>();
        long d = c.dModel(), v = c.vocabSize(), p = c.nPositions(), f = c.dMlp();
        m.put(WTE, new long[]{v, d});
        m.put(WPE, new long[]{p, d});
        for (int l = 0; l < c.nLayer(); l++) {
            m.put(ln1W(l), new long[]{d});
            m.put(ln1B(l), new long[]{d});
            m.put(attnW(l), new long[]{d, 3 * d});
            m.put(attnB(l), new long[]{3 * d});
            m.put(projW(l), new long[]{d, d});
            m.put(projB(l), new long[]{d});
            m.put(ln2W(l), new long[]{d});
            m.put(ln2B(l), new long[]{d});
            m.put(fcW(l), new long[]{d, f});
            m.put(fcB(l), new long[]{f});
            m.put(mlpProjW(l), new long[]{f, d});
            m.put(mlpProjB(l), new long[]{d});
        }
        m.put(LN_F_W, new long[]{d});
        m.put(LN_F_B, new long[]{d});
        if (!c.tiedEmbeddings()) m.put(LM_HEAD, new long[]{v, d});
        return m;
    }

    public static List<String> parameterNames(ModelConfig c) {
        return new ArrayList<>(expectedShapes(c).keySet());
    }
}
