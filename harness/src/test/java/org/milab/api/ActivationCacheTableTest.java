package org.milab.api;

import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.milab.tables.ArrowTables;
import org.milab.tables.RecordSchema;
import org.milab.tables.Table;
import org.milab.tables.TableBuilder;

import java.io.IOException;
import java.lang.management.ManagementFactory;
import java.lang.management.ThreadMXBean;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Random;
import java.util.function.Supplier;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * {@link ActivationCache#toTable()} writes its rows as {@link ActivationValue} records (issue 19): the table is byte
 * for byte the one the previous hand-built positional rows made (that builder is kept below as the oracle), on a
 * cache with every axis layout (d_model rows, per-head rows, [head, query, key] patterns, LayerNorm scales) and two
 * prompts. The cost beside the hand-built rows is a benchmark ({@code -Dmilab.bench=cache}): CPU time of the calling
 * thread and wall time of {@code toTable()} on a GPT-2-small-shaped cache (1.4 M values), interleaved rounds in one
 * JVM, medians written to {@code harness/target/activation-cache-table.txt}; it asserts the two tables agree, never a time.
 */
class ActivationCacheTableTest {
    private static final Map<String, Object> PROVENANCE = Map.of("model", "test", "graph_sha256", "abc");

    /** A cache of {@code prompts} prompts of {@code tokens} tokens with these hooks per layer, filled with seeded noise. */
    static ActivationCache cache(int prompts, int tokens, int layers, int heads, int dHead, int dMlp) {
        int dModel = heads * dHead;
        Random rnd = new Random(7);
        Map<String, List<Tensor>> values = new LinkedHashMap<>();
        Map<String, List<String>> axes = new LinkedHashMap<>();
        put(values, axes, rnd, prompts, "hook_embed", new int[]{tokens, dModel}, List.of("pos", "d_model"));
        for (int l = 0; l < layers; l++) {
            put(values, axes, rnd, prompts, "blocks." + l + ".hook_resid_pre", new int[]{tokens, dModel}, List.of("pos", "d_model"));
            put(values, axes, rnd, prompts, "blocks." + l + ".ln1.hook_scale", new int[]{tokens, 1}, List.of("pos", "one"));
            put(values, axes, rnd, prompts, "blocks." + l + ".attn.hook_z", new int[]{tokens, heads, dHead}, List.of("pos", "head", "d_head"));
            put(values, axes, rnd, prompts, "blocks." + l + ".attn.hook_pattern", new int[]{heads, tokens, tokens},
                    List.of("head", "query_pos", "key_pos"));
            put(values, axes, rnd, prompts, "blocks." + l + ".mlp.hook_post", new int[]{tokens, dMlp}, List.of("pos", "d_mlp"));
        }
        List<int[]> toks = new ArrayList<>();
        for (int p = 0; p < prompts; p++) toks.add(new int[tokens]);
        return new ActivationCache(toks, values, axes, PROVENANCE);
    }

    private static void put(Map<String, List<Tensor>> values, Map<String, List<String>> axes, Random rnd, int prompts,
                            String hook, int[] shape, List<String> names) {
        List<Tensor> ts = new ArrayList<>();
        for (int p = 0; p < prompts; p++) {
            float[] d = new float[Arrays.stream(shape).reduce(1, (a, b) -> a * b)];
            for (int i = 0; i < d.length; i++) d[i] = (float) rnd.nextGaussian();
            if (p == 0 && d.length > 2) { // values a float column must keep apart from null
                d[0] = Float.NaN;
                d[1] = Float.NEGATIVE_INFINITY;
                d[2] = -0.0f;
            }
            ts.add(new Tensor(shape, d));
        }
        values.put(hook, ts);
        axes.put(hook, names);
    }

    private static Map<String, List<Tensor>> values(ActivationCache c) {
        Map<String, List<Tensor>> m = new LinkedHashMap<>();
        for (String h : c.names()) m.put(h, c.all(h));
        return m;
    }

    private static Map<String, List<String>> axes(ActivationCache c) {
        Map<String, List<String>> m = new LinkedHashMap<>();
        for (String h : c.names()) m.put(h, c.axes(h));
        return m;
    }

    @Test
    void theRecordTableIsByteForByteTheHandBuiltOne(@TempDir Path dir) throws IOException {
        ActivationCache c = cache(2, 5, 2, 3, 4, 8);
        Table before = legacyTable(values(c), axes(c), PROVENANCE), after = c.toTable();
        assertThat(after.columnNames()).isEqualTo(before.columnNames());
        assertThat(after.columnNames().stream().filter(n -> !n.equals("head_id")).toList()) // head_id: derived by every per-head table
                .isEqualTo(RecordSchema.of(ActivationValue.class).columns());
        assertThat(after.rowCount()).isEqualTo(before.rowCount()).isEqualTo(2 * (5 * 12 + 2 * (5 * 12 + 5 + 5 * 12 + 3 * 25 + 5 * 8)));
        for (String col : before.columnNames()) {
            assertThat(after.column(col)).as(col).isEqualTo(before.column(col));
            assertThat(after.description(col)).as(col).isEqualTo(before.description(col));
        }
        Path a = dir.resolve("before.arrow"), b = dir.resolve("after.arrow");
        ArrowTables.write(a, before);
        ArrowTables.write(b, after);
        assertThat(Files.readAllBytes(b)).isEqualTo(Files.readAllBytes(a));
        // and the rows read back into the records they were written from
        ActivationValue first = RecordSchema.of(ActivationValue.class).read(ArrowTables.read(b)).get(0);
        assertThat(first).isEqualTo(new ActivationValue(0, "hook_embed", -1, 0, -1, 0, Double.NaN));
    }

    @Test
    void recordRowsCostNoMoreThanHandBuiltRows() throws IOException {
        Assumptions.assumeTrue("cache".equals(System.getProperty("milab.bench")),
                "a benchmark (~1.4 M rows, a minute, ~2 GB heap): run with -Dmilab.bench=cache");
        ActivationCache c = cache(1, 24, 12, 12, 64, 3072); // GPT-2 small's shape, 24 tokens
        Map<String, List<Tensor>> v = values(c);
        Map<String, List<String>> ax = axes(c);
        int rounds = 9;
        double[][] cpu = new double[2][rounds], wall = new double[2][rounds];
        List<Supplier<Table>> ways = List.of(c::toTable, () -> legacyTable(v, ax, PROVENANCE));
        ThreadMXBean mx = ManagementFactory.getThreadMXBean();
        long rows = 0;
        for (int r = -2; r < rounds; r++) // two warm-up rounds; the order alternates so drift falls on both alike
            for (int k = 0; k < 2; k++) {
                int w = (r + k) % 2 == 0 ? 0 : 1;
                System.gc();
                long c0 = mx.getCurrentThreadCpuTime(), t0 = System.nanoTime();
                Table t = ways.get(w).get();
                long c1 = mx.getCurrentThreadCpuTime(), t1 = System.nanoTime();
                rows = t.rowCount();
                if (r >= 0) {
                    cpu[w][r] = (c1 - c0) / 1e9;
                    wall[w][r] = (t1 - t0) / 1e9;
                }
            }
        assertThat(c.toTable().column("value")).isEqualTo(legacyTable(v, ax, PROVENANCE).column("value"));
        String report = String.format(Locale.ROOT, "ActivationCache.toTable, %d rows, median of %d interleaved rounds (%d cores, load %.2f):%n"
                        + "  records (RecordSchema):   cpu %.3f s, wall %.3f s%n  hand-built positional rows: cpu %.3f s, wall %.3f s%n"
                        + "  records / hand-built: cpu %.2f, wall %.2f%n", rows, rounds,
                Runtime.getRuntime().availableProcessors(), ManagementFactory.getOperatingSystemMXBean().getSystemLoadAverage(),
                median(cpu[0]), median(wall[0]), median(cpu[1]), median(wall[1]),
                median(cpu[0]) / median(cpu[1]), median(wall[0]) / median(wall[1]));
        System.out.print(report);
        Files.writeString(Path.of("target", "activation-cache-table.txt"), report);
    }

    private static double median(double[] x) {
        double[] s = x.clone();
        Arrays.sort(s);
        return s.length % 2 == 1 ? s[s.length / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
    }

    // ------------------------------------------------------------ the hand-built rows this change replaced

    static Table legacyTable(Map<String, List<Tensor>> values, Map<String, List<String>> axes, Map<String, Object> provenance) {
        TableBuilder b = Table.builder("activation_cache").keys("prompt", "hook", "pos", "head", "index")
                .int64("prompt").string("hook").int64("layer", "pos", "head", "index").float64("value")
                .describe("prompt", "which prompt (run) of the call, 0-based")
                .describe("hook", "TransformerLens hook name, e.g. blocks.0.attn.hook_z")
                .describe("layer", "the block of the hook; -1 for hook_embed, hook_pos_embed, ln_final.hook_scale and ln_final.hook_normalized")
                .describe("pos", "position (the query position for hook_attn_scores and hook_pattern)")
                .describe("head", "attention head for hook_q/k/v/z/attn_scores/pattern/result; -1 for hooks without heads")
                .describe("index", "index along the hook's last axis (d_model, d_head, d_mlp, 0 for a LayerNorm's hook_scale, or the key position for hook_attn_scores and hook_pattern)")
                .describe("value", "the activation, float32 widened to float64, in the graph's raw frame")
                .provenance(provenance);
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
                    b.addRow((long) r, hook, layer, pos, head, (long) (i % last), (double) d[i]);
                }
            }
        }
        return b.build();
    }
}
