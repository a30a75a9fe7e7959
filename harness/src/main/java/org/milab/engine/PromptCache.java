package org.milab.engine;

import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtException;
import org.milab.graph.HookNames;
import org.milab.model.ModelConfig;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.FloatBuffer;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * The unpatched runs' hook_resid_pre, hook_z, hook_k and hook_v of a set of prompts as native tensors, one per
 * layer and kind, with every prompt once ([prompt, ...], right padded to the longest). Built once per patch
 * call and fed by reference to every ORT call of the resume graphs, whose rows index into it; nothing is
 * copied per row. Tensors are built on first use, only for the layers some row starts at or passes.
 */
final class PromptCache implements AutoCloseable {
    private final OrtEnvironment env;
    private final ModelConfig config;
    private final List<Capture> prompts = new ArrayList<>();
    private final Map<TokenIds, Integer> index = new HashMap<>();
    private final Map<String, OnnxTensor> tensors = new HashMap<>();
    private final int width;
    private final int pastWidth;

    /**
     * @param cacheWidth at least this many positions (the request's longest prompt: a part of a request run on its
     *                   own keeps the request's width)
     * @param pastWidth  the cached keys and values hold positions before this one only (at least 1, at most the
     *                   cache width): rows read them only before their first recomputed position, so rows that all
     *                   start early attend over a short cache instead of the longest prompt's ({@link ResumePlan})
     */
    PromptCache(OrtEnvironment env, ModelConfig config, List<TokenIds> distinct, Map<TokenIds, Capture> captures,
                int cacheWidth, int pastWidth) {
        this.env = env;
        this.config = config;
        int w = Math.max(1, cacheWidth);
        for (TokenIds p : distinct) {
            Capture c = captures.get(p);
            if (c == null) throw new IllegalStateException("no cached activations for " + p);
            index.put(p, prompts.size());
            prompts.add(c);
            w = Math.max(w, p.length());
        }
        this.width = w;
        this.pastWidth = Math.max(1, Math.min(w, pastWidth));
    }

    /** Position count of the cached keys and values (and of the past mask). */
    int pastWidth() {
        return pastWidth;
    }

    /** Cache position count (the longest prompt). */
    int width() {
        return width;
    }

    int indexOf(TokenIds prompt) {
        return index.get(prompt);
    }

    /** Fails unless {@code prompt}'s capture holds every cache a row of {@code path} starting at block {@code start} reads. */
    void requireFrom(TokenIds prompt, int start, RecomputePath path) {
        Capture c = prompts.get(index.get(prompt));
        for (String hook : path.cacheHooks(config, start))
            if (!c.hooks().containsKey(hook))
                throw new IllegalStateException("the capture of " + prompt + " lacks " + hook + ", which a row "
                        + "patched from block " + start + " needs: capture with InterventionEngine.suffixHooks(" + start + ")");
    }

    /** hook_resid_pre of {@code layer}, [prompt, position, d_model]. */
    OnnxTensor residPre(int layer) throws OrtException {
        int d = config.dModel();
        return tensor(HookNames.cacheResidPre(layer), HookNames.hookResidPre(layer), new long[]{prompts.size(), width, d},
                (src, t, dst, base) -> System.arraycopy(src, t * d, dst, base + t * d, d));
    }

    /** hook_z of {@code layer}, [prompt, position, head, d_head]. */
    OnnxTensor z(int layer) throws OrtException {
        int H = config.nHead(), dh = config.dHead();
        return tensor(HookNames.cacheZ(layer), HookNames.hookZ(layer), new long[]{prompts.size(), width, H, dh},
                (src, t, dst, base) -> System.arraycopy(src, t * H * dh, dst, base + t * H * dh, H * dh));
    }

    /** hook_k of {@code layer}, [prompt, head, d_head, past position] (the layout q . k wants). */
    OnnxTensor key(int layer) throws OrtException {
        int H = config.nHead(), dh = config.dHead(), w = pastWidth;
        return tensor(HookNames.cacheKey(layer), HookNames.hookK(layer), new long[]{prompts.size(), H, dh, w},
                (src, t, dst, base) -> {
                    for (int h = 0; h < H; h++)
                        for (int i = 0; i < dh; i++) dst[base + (h * dh + i) * w + t] = src[(t * H + h) * dh + i];
                });
    }

    /** hook_v of {@code layer}, [prompt, head, past position, d_head]. */
    OnnxTensor value(int layer) throws OrtException {
        int H = config.nHead(), dh = config.dHead(), w = pastWidth;
        return tensor(HookNames.cacheValue(layer), HookNames.hookV(layer), new long[]{prompts.size(), H, w, dh},
                (src, t, dst, base) -> {
                    for (int h = 0; h < H; h++) System.arraycopy(src, (t * H + h) * dh, dst, base + (h * w + t) * dh, dh);
                });
    }

    /** Copies one position {@code t} of a prompt's hook into its place in the prompt's block starting at {@code base}. */
    private interface Placement {
        void place(float[] src, int t, float[] dst, int base);
    }

    private OnnxTensor tensor(String name, String hook, long[] shape, Placement placement) throws OrtException {
        boolean past = hook.endsWith("hook_k") || hook.endsWith("hook_v");
        OnnxTensor t = tensors.get(name);
        if (t != null) return t;
        int block = 1;
        for (int i = 1; i < shape.length; i++) block *= (int) shape[i];
        // one prompt at a time through a small heap buffer, so no array of the whole cache lives on the heap
        FloatBuffer buf = ByteBuffer.allocateDirect(4 * block * prompts.size()).order(ByteOrder.nativeOrder()).asFloatBuffer();
        float[] one = new float[block];
        for (Capture c : prompts) {
            java.util.Arrays.fill(one, 0f);
            // a prompt whose rows all start later has no cache here: zeros, never read (see requireFrom)
            float[] src = c.hooks().get(hook);
            int upTo = Math.min(c.prompt().length(), past ? pastWidth : width);
            if (src != null) for (int pos = 0; pos < upTo; pos++) placement.place(src, pos, one, 0);
            buf.put(one);
        }
        buf.rewind();
        t = OnnxTensor.createTensor(env, buf, shape);
        tensors.put(name, t);
        return t;
    }

    @Override
    public void close() {
        tensors.values().forEach(OnnxTensor::close);
        tensors.clear();
    }
}
