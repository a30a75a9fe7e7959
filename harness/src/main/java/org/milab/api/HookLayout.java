package org.milab.api;

import org.milab.model.ModelConfig;

import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The axes of one hook for a prompt of T positions, batch axis excluded: [T, d_model] for the residual-width
 * hooks, [T, n_heads, d_head] for q/k/v/z, [T, n_heads, d_model] for hook_result, [n_heads, T, T] for the scores and
 * the pattern, [T, d_mlp] for the MLP hidden hooks, [T, 1] for a LayerNorm's hook_scale. A "row" is one index over every axis but the last: what one override mask element covers.
 */
record HookLayout(String hook, int layer, Kind kind, int heads, int width) {
    enum Kind { RESIDUAL, HEADS, PATTERN, HIDDEN, SCALE }

    private static final Pattern BLOCK = Pattern.compile("blocks\\.(\\d+)\\.(.+)");

    static int layerOf(String hook) {
        Matcher m = BLOCK.matcher(hook);
        return m.matches() ? Integer.parseInt(m.group(1)) : -1;
    }

    static HookLayout of(String hook, ModelConfig c) {
        Matcher m = BLOCK.matcher(hook);
        int layer = m.matches() ? Integer.parseInt(m.group(1)) : -1;
        String local = m.matches() ? m.group(2) : hook;
        Kind kind = switch (local) {
            case "attn.hook_q", "attn.hook_k", "attn.hook_v", "attn.hook_z", "attn.hook_result" -> Kind.HEADS;
            case "attn.hook_attn_scores", "attn.hook_pattern" -> Kind.PATTERN;
            case "mlp.hook_pre", "mlp.hook_post" -> Kind.HIDDEN;
            case "ln1.hook_scale", "ln2.hook_scale", "ln_final.hook_scale" -> Kind.SCALE;
            default -> Kind.RESIDUAL;
        };
        int width = switch (kind) {
            case HEADS -> local.equals("attn.hook_result") ? c.dModel() : c.dHead();
            case HIDDEN -> c.dMlp();
            case SCALE -> 1;
            default -> c.dModel();
        };
        return new HookLayout(hook, layer, kind, c.nHead(), width);
    }

    /** Whether a patch value may hold -inf: the attention scores, whose masked keys are -inf (as TransformerLens'). */
    boolean allowsNegativeInfinity() {
        return hook.endsWith(".attn.hook_attn_scores");
    }

    boolean headed() {
        return kind == Kind.HEADS || kind == Kind.PATTERN;
    }

    List<String> axes() {
        return switch (kind) {
            case RESIDUAL -> List.of("pos", "d_model");
            case HEADS -> List.of("pos", "head", hook.endsWith(".attn.hook_result") ? "d_model" : "d_head");
            case PATTERN -> List.of("head", "query_pos", "key_pos");
            case HIDDEN -> List.of("pos", "d_mlp");
            case SCALE -> List.of("pos", "one");
        };
    }

    int[] shape(int T) {
        return switch (kind) {
            case HEADS -> new int[]{T, heads, width};
            case PATTERN -> new int[]{heads, T, T};
            default -> new int[]{T, width};
        };
    }

    /** Values along the last axis. */
    int last(int T) {
        return kind == Kind.PATTERN ? T : width;
    }

    /** Rows (mask elements) of one prompt of width T. */
    int rows(int T) {
        return headed() ? heads * T : T;
    }

    /** The row of (position, head) in a prompt of width T; head is ignored by unheaded hooks. */
    int row(int T, int position, int head) {
        return switch (kind) {
            case HEADS -> position * heads + head;
            case PATTERN -> head * T + position;
            default -> position;
        };
    }

    /** Prompt {@code r}'s first T positions of a batch output of width P (padding dropped). */
    float[] slice(float[] batch, int r, int P, int T) {
        int per = rows(P) * last(P);
        float[] out = new float[rows(T) * last(T)];
        if (kind != Kind.PATTERN) {
            System.arraycopy(batch, r * per, out, 0, out.length);
            return out;
        }
        for (int h = 0; h < heads; h++)
            for (int q = 0; q < T; q++)
                System.arraycopy(batch, r * per + (h * P + q) * P, out, (h * T + q) * T, T);
        return out;
    }
}
