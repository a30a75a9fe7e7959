package org.milab.engine;

import java.util.Map;

/**
 * One clean forward pass of one prompt: centred final-position logits plus the hooks that were asked for,
 * each trimmed to the prompt's real length and stored row-major without the batch axis.
 */
public record Capture(TokenIds prompt, float[] logits, Map<String, float[]> hooks, Map<String, long[]> shapes) {

    public float[] hook(String name) {
        float[] h = hooks.get(name);
        if (h == null) throw new IllegalStateException("hook " + name + " was not captured");
        return h;
    }

    /** hook_z of one head at one position (raw frame), a fresh copy. */
    public float[] z(int layer, int position, int head) {
        long[] s = shapes.get(org.milab.graph.HookNames.hookZ(layer));
        int heads = (int) s[1], dh = (int) s[2];
        float[] out = new float[dh];
        System.arraycopy(hook(org.milab.graph.HookNames.hookZ(layer)), (position * heads + head) * dh, out, 0, dh);
        return out;
    }

    /** A [pos, d] hook's vector at one position, a fresh copy. */
    public float[] vector(String hook, int position) {
        int d = (int) shapes.get(hook)[1];
        float[] out = new float[d];
        System.arraycopy(hook(hook), position * d, out, 0, d);
        return out;
    }

    /** hook_pattern[head, query, key]. */
    public float pattern(int layer, int head, int query, int key) {
        String name = org.milab.graph.HookNames.hookPattern(layer);
        long[] s = shapes.get(name);
        return hook(name)[(int) ((head * s[1] + query) * s[2] + key)];
    }
}
