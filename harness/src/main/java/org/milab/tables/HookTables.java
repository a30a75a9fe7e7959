package org.milab.tables;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * A captured hook as a long-format table: one row per element, one INT64 column per axis (the key) and a
 * FLOAT64 {@code value}; the natural shape for pandas/Polars pivots. A per-head hook of block l
 * ({@code hook_z}, {@code hook_pattern}) also gets a constant {@code layer} column, so its rows carry the
 * same {@code head_id} as every other per-head table.
 */
public final class HookTables {
    private static final Pattern BLOCK = Pattern.compile("blocks\\.(\\d+)\\.");

    private HookTables() {}

    /** Axis names of a hook as the lab captures it (batch axis removed). */
    public static List<String> axes(String hook) {
        if (hook.endsWith("hook_z") || hook.endsWith(".attn.hook_q") || hook.endsWith(".attn.hook_k") || hook.endsWith(".attn.hook_v"))
            return List.of("pos", "head", "d_head");
        if (hook.endsWith(".mlp.hook_pre") || hook.endsWith(".mlp.hook_post")) return List.of("pos", "d_mlp");
        if (hook.endsWith("hook_pattern") || hook.endsWith(".attn.hook_attn_scores")) return List.of("head", "query_pos", "key_pos");
        if (hook.endsWith(".attn.hook_result")) return List.of("pos", "head", "d_model");
        if (hook.endsWith(".hook_scale")) return List.of("pos", "one");
        // the capture graph's ln_final.hook_normalized is the final position's only; ln1/ln2 come from the hooked graph
        if (hook.equals("ln_final.hook_normalized") || hook.equals("resid_final")) return List.of("d_model");
        return List.of("pos", "d_model");
    }

    public static Table toTable(String hook, float[] data, long[] shape, Map<String, ?> provenance) {
        List<String> axes = axes(hook);
        if (axes.size() != shape.length)
            throw new IllegalArgumentException(hook + ": shape rank " + shape.length + " vs axes " + axes);
        Matcher block = BLOCK.matcher(hook);
        Long layer = axes.contains("head") && block.lookingAt() ? Long.valueOf(block.group(1)) : null;
        TableBuilder b = Table.builder(hook.replace('.', '_')).keys(axes.toArray(String[]::new));
        if (layer != null) b.int64("layer");
        b.int64(axes.toArray(String[]::new)).float64("value").metadata("milab.hook", hook).provenance(provenance);
        long[] idx = new long[shape.length];
        List<Object> row = new ArrayList<>(shape.length + 1);
        for (int i = 0; i < data.length; i++) {
            long rem = i;
            for (int a = shape.length - 1; a >= 0; a--) {
                idx[a] = rem % shape[a];
                rem /= shape[a];
            }
            row.clear();
            if (layer != null) row.add(layer);
            for (long v : idx) row.add(v);
            row.add((double) data[i]);
            b.addRow(row.toArray());
        }
        return b.build();
    }
}
