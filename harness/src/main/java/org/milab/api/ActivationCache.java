package org.milab.api;

import org.milab.tables.ArrowTables;
import org.milab.tables.RecordSchema;
import org.milab.tables.Table;
import org.milab.tables.TableBuilder;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Activations of one call, keyed by TransformerLens hook name, one {@link Tensor} per prompt (batch axis and
 * padding removed). Shapes per prompt of T tokens: [T, d_model] for hook_embed, hook_pos_embed, hook_resid_pre/
 * mid/post, hook_attn_out, hook_mlp_out, ln1/ln2/ln_final.hook_normalized; [T, 1] for ln1/ln2/ln_final.hook_scale;
 * [T, n_heads, d_head] for attn.hook_q/k/v/z; [T, n_heads, d_model] for attn.hook_result; [n_heads, T, T] for
 * attn.hook_attn_scores (-inf where the key is after the query) and attn.hook_pattern; [T, d_mlp] for
 * mlp.hook_pre/post. Values are in the graph's raw frame (docs/api.md). Immutable.
 */
public final class ActivationCache {
    private final List<int[]> tokens;
    private final Map<String, List<Tensor>> values;
    private final Map<String, List<String>> axes;
    private final Map<String, Object> provenance;

    ActivationCache(List<int[]> tokens, Map<String, List<Tensor>> values, Map<String, List<String>> axes,
                    Map<String, Object> provenance) {
        this.tokens = List.copyOf(tokens);
        this.values = Collections.unmodifiableMap(new LinkedHashMap<>(values));
        this.axes = Map.copyOf(axes);
        this.provenance = provenance;
    }

    /** @return the number of prompts (runs) the cache holds */
    public int size() {
        return tokens.size();
    }

    /**
     * @param row a prompt of the cache
     * @return its token ids
     */
    public int[] tokens(int row) {
        return tokens.get(row).clone();
    }

    /** @return the cached hook names, in the graph's order */
    public Set<String> names() {
        return values.keySet();
    }

    /**
     * @param hook a hook name
     * @return whether the cache holds it
     */
    public boolean has(String hook) {
        return values.containsKey(hook);
    }

    /**
     * The activation of a one-prompt cache (TransformerLens' {@code cache[hook][0]}).
     *
     * @param hook a cached hook name
     * @return its tensor
     * @throws IllegalStateException when the cache holds several prompts (use {@link #get(String, int)})
     */
    public Tensor get(String hook) {
        if (size() != 1)
            throw new IllegalStateException("The cache holds " + size() + " prompts; name one: get(\"" + hook + "\", row).");
        return get(hook, 0);
    }

    /**
     * @param hook a cached hook name
     * @param row  the prompt
     * @return its tensor
     * @throws IllegalArgumentException for a hook the cache does not hold (the message lists what it holds)
     */
    public Tensor get(String hook, int row) {
        List<Tensor> t = values.get(hook);
        if (t == null)
            throw new IllegalArgumentException("The cache holds no '" + hook + "'; it holds " + values.keySet()
                    + ". Name the hook in runWithCache(tokens, names...).");
        return t.get(row);
    }

    /**
     * @param hook a cached hook name
     * @return the names of its axes, e.g. [pos, head, d_head]
     */
    public List<String> axes(String hook) {
        get(hook, 0);
        return axes.get(hook);
    }

    /**
     * The cache as one long-format table: a row per value ({@link ActivationValue}) with its prompt, hook, layer,
     * position, head and index along the last axis (pandas/Polars pivot it back).
     *
     * @return the table (column descriptions and the model's provenance included)
     */
    public Table toTable() {
        RecordSchema<ActivationValue> schema = RecordSchema.of(ActivationValue.class);
        TableBuilder b = schema.builder(TABLE, "prompt", "hook", "pos", "head", "index").provenance(provenance);
        for (Map.Entry<String, List<Tensor>> e : values.entrySet()) {
            String hook = e.getKey();
            long layer = HookLayout.layerOf(hook);
            boolean pattern = axes.get(hook).get(0).equals("head"); // hook_pattern and hook_attn_scores: [head, query, key]
            for (int r = 0; r < e.getValue().size(); r++) {
                Tensor t = e.getValue().get(r);
                int[] s = t.shape();
                float[] d = t.data();
                int last = s[s.length - 1], mid = s.length == 3 ? s[1] : 1;
                for (int i = 0; i < d.length; i++) {
                    int lead = i / last, a = lead / mid, m = lead % mid;
                    long pos = pattern ? m : a, head = s.length == 3 ? (pattern ? a : m) : -1;
                    schema.add(b, new ActivationValue(r, hook, layer, pos, head, i % last, d[i]));
                }
            }
        }
        return b.build();
    }

    /** The name of {@link #toTable()}'s table. */
    static final String TABLE = "activation_cache";

    /**
     * Writes {@link #toTable()} as an Arrow IPC file (atomically: no partial file on error).
     *
     * @param file the .arrow file to write
     * @throws org.milab.util.UserError naming {@code --add-opens=java.base/java.nio=ALL-UNNAMED} when the JVM
     *                                  lacks the flag Apache Arrow needs on JDK 17+
     */
    public void writeArrow(Path file) {
        Table t = toTable();
        ArrowAccess.run(() -> ArrowTables.write(file, t));
    }

    /** Tensors of one hook for every prompt, for {@link PatchValue} resolution. */
    List<Tensor> all(String hook) {
        get(hook, 0);
        return values.get(hook);
    }

    static Map<String, List<String>> axesOf(Iterable<HookLayout> layouts) {
        Map<String, List<String>> out = new LinkedHashMap<>();
        for (HookLayout l : layouts) out.put(l.hook(), l.axes());
        return out;
    }

    static List<Tensor> newList(int n) {
        return new ArrayList<>(n);
    }
}
