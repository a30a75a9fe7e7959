package org.milab.api;

import org.milab.lab.LabFixtures;
import org.milab.model.RandomCheckpoints;
import org.milab.model.ReferenceGpt2;
import org.milab.tables.ArrowTables;
import org.milab.tables.Table;
import org.milab.util.UserError;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * The Java API on a small random GPT-2 (2 layers, 4 heads, d_model 32), every number checked against the
 * plain-Java reference forward pass ({@link ReferenceGpt2} with a hook visitor that reads and overwrites): every
 * hook kind read, every hook kind patched (one batched call), each kind of patch value, patches composing across
 * layers. Declared tolerance: numpy allclose with atol 1e-4, rtol 1e-4 (float32 graph vs double reference).
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class HookedModelReferenceTest {
    static final double ATOL = 1e-4, RTOL = 1e-4;
    static final long SEED = 5;
    Path root;
    HookedModel model;
    ReferenceGpt2 ref;
    int[] a, b;

    @BeforeAll
    void setUp(@TempDir Path dir) {
        root = dir;
        LabFixtures.exportRandomWordModel(dir, "words", SEED, List.of());
        model = HookedModel.open("words", HookedModel.Options.defaults().withRoot(dir).withThreads(2));
        ref = new ReferenceGpt2(RandomCheckpoints.generate(model.config(), SEED, 0.5f)); // the same weights, independently
        Random rnd = new Random(3);
        a = prompt(rnd, 9);
        b = prompt(rnd, 6);
    }

    @AfterAll
    void close() {
        model.close();
    }

    private int[] prompt(Random rnd, int length) {
        int[] ids = new int[length];
        ids[0] = 0; // BOS
        for (int i = 1; i < length; i++) ids[i] = 2 + rnd.nextInt(model.config().vocabSize() - 2);
        return ids;
    }

    /** Every hook the reference shows, as rows (copied). */
    private Map<String, double[][]> referenceHooks(int[] ids, ReferenceGpt2.HookVisitor patch) {
        Map<String, double[][]> seen = new LinkedHashMap<>();
        ref.run(ids, (hook, rows) -> {
            patch.visit(hook, rows);
            double[][] copy = new double[rows.length][];
            for (int i = 0; i < rows.length; i++) copy[i] = rows[i].clone();
            seen.put(hook, copy);
        });
        return seen;
    }

    private static void assertClose(Tensor got, double[][] rows, String what) {
        float[] g = got.toArray();
        int k = 0;
        for (double[] row : rows)
            for (double e : row) {
                double tol = ATOL + RTOL * Math.abs(e);
                // -inf (masked attention scores) must match exactly; NaN never passes (a NaN difference compares false)
                boolean ok = Double.isInfinite(e) ? g[k] == e : Math.abs(g[k] - e) <= tol;
                if (!ok)
                    throw new AssertionError(what + " element " + k + ": got " + g[k] + ", reference " + e + " (tolerance " + tol + ")");
                k++;
            }
        assertThat(k).as(what + " size").isEqualTo(g.length);
    }

    private double[][] logitRows(int[] ids, ReferenceGpt2.HookVisitor patch) {
        return ref.run(ids, patch).logits();
    }

    @Test
    void readsEveryHookOfTwoPromptsOfUnequalLengthInOneCall() {
        ActivationCache cache = model.runWithCache(List.of(a, b));
        assertThat(cache.size()).isEqualTo(2);
        List<Tensor> logits = model.run(List.of(a, b));
        for (int r = 0; r < 2; r++) {
            int[] ids = r == 0 ? a : b;
            Map<String, double[][]> expected = referenceHooks(ids, (h, rows) -> {});
            // the same hooks on both sides: 2 + 18 per block + ln_final's two
            assertThat(cache.names()).containsExactlyElementsOf(expected.keySet());
            assertThat(cache.names()).hasSize(2 + 18 * model.config().nLayer() + 2);
            for (String hook : cache.names()) assertClose(cache.get(hook, r), expected.get(hook), hook + " row " + r);
            assertClose(logits.get(r), ref.run(ids).logits(), "logits row " + r);
        }
        assertThat(cache.get("blocks.1.attn.hook_z", 0).shape()).containsExactly(9, 4, 8);
        assertThat(cache.get("blocks.1.attn.hook_pattern", 1).shape()).containsExactly(4, 6, 6);
        assertThat(cache.get("blocks.0.mlp.hook_post", 1).shape()).containsExactly(6, model.config().dMlp());
        assertThat(cache.axes("blocks.0.attn.hook_q")).containsExactly("pos", "head", "d_head");
        assertThat(cache.get("blocks.1.attn.hook_attn_scores", 1).shape()).containsExactly(4, 6, 6);
        assertThat(cache.get("blocks.1.attn.hook_attn_scores", 1).get(2, 3, 4)).isEqualTo(Float.NEGATIVE_INFINITY);
        assertThat(cache.get("blocks.0.attn.hook_result", 0).shape()).containsExactly(9, 4, model.config().dModel());
        assertThat(cache.axes("blocks.0.attn.hook_result")).containsExactly("pos", "head", "d_model");
        assertThat(cache.get("blocks.1.ln2.hook_scale", 0).shape()).containsExactly(9, 1);
        assertThat(cache.get("ln_final.hook_scale", 1).shape()).containsExactly(6, 1);
    }

    /** Overwrites row {@code row} of {@code hook} with {@code value} (zero-padded to the row's length). */
    private static ReferenceGpt2.HookVisitor overwrite(String hook, int row, float[] value) {
        return (h, rows) -> {
            if (!h.equals(hook)) return;
            java.util.Arrays.fill(rows[row], 0);
            for (int i = 0; i < Math.min(value.length, rows[row].length); i++) rows[row][i] = value[i];
        };
    }

    @Test
    void patchesEveryHookKindFromAnotherRunInOneBatchedCall() {
        ActivationCache donor = model.runWithCache(b);
        int pos = 4, head = 1, H = model.config().nHead(), T = a.length;
        List<PatchedRun> runs = new ArrayList<>();
        runs.add(PatchedRun.of(a));
        for (String hook : model.hookNames()) {
            boolean headed = model.hookAxes(hook).contains("head");
            runs.add(PatchedRun.of(a, Patch.of(hook, headed ? head : -1, new int[]{pos}, PatchValue.from(donor, 0))));
        }
        PatchResults res = model.runWithPatches(runs, "ln_final.hook_normalized");
        assertThat(res.size()).isEqualTo(runs.size());
        assertClose(res.logits(0), ref.run(a).logits(), "unpatched run");
        double[][] cleanRef = ref.run(a).logits();
        List<String> unchanged = new ArrayList<>(), unchangedInReference = new ArrayList<>();
        for (int i = 1; i < runs.size(); i++) {
            String hook = runs.get(i).patches().get(0).hook();
            List<String> axes = model.hookAxes(hook);
            Tensor d = donor.get(hook);
            float[] value = axes.get(0).equals("head") ? d.row(head, pos) : axes.contains("head") ? d.row(pos, head) : d.row(pos);
            int row = axes.get(0).equals("head") ? head * T + pos : axes.contains("head") ? pos * H + head : pos;
            ReferenceGpt2.HookVisitor patch = overwrite(hook, row, value);
            Map<String, double[][]> expected = referenceHooks(a, patch);
            assertClose(res.logits(i), logitRows(a, patch), "logits with " + hook + " patched");
            assertClose(res.cache().get("ln_final.hook_normalized", i), expected.get("ln_final.hook_normalized"),
                    "ln_final with " + hook + " patched");
            double[][] patchedRef = logitRows(a, patch);
            double moved = 0, movedRef = 0;
            for (int p = pos; p < T; p++)
                for (int v = 0; v < cleanRef[p].length; v++) {
                    moved = Math.max(moved, Math.abs(res.logits(i).get(p, v) - res.logits(0).get(p, v)));
                    movedRef = Math.max(movedRef, Math.abs(patchedRef[p][v] - cleanRef[p][v]));
                }
            if (moved < 1e-3) unchanged.add(hook);
            if (movedRef < 1e-3) unchangedInReference.add(hook);
        }
        // the patches do something where the reference says they do (hook_pos_embed: same position, same
        // embedding; a value vector under saturated attention may not move a logit), and most do
        assertThat(unchanged).isEqualTo(unchangedInReference).contains("hook_pos_embed");
        assertThat(unchanged.size()).isLessThanOrEqualTo(runs.size() / 5);
    }

    @Test
    void zeroMeanConstantAndFunctionPatchesMatchTheReference() {
        ActivationCache both = model.runWithCache(List.of(a, b), "blocks.0.hook_resid_mid", "blocks.1.attn.hook_z");
        int d = model.config().dModel(), dh = model.config().dHead(), H = model.config().nHead();
        float[] constant = new float[d];
        for (int i = 0; i < d; i++) constant[i] = (float) Math.sin(i);
        // mean over the two prompts at positions 0..5 (b has 6 tokens), over a alone after that
        float[] mean3 = new float[d];
        for (int i = 0; i < d; i++) mean3[i] = (both.get("blocks.0.hook_resid_mid", 0).get(3, i) + both.get("blocks.0.hook_resid_mid", 1).get(3, i)) / 2;
        PatchResults res = model.runWithPatches(List.of(
                PatchedRun.of(a, Patch.head(1, 2, -1, PatchValue.zero())),
                PatchedRun.of(a, Patch.of("blocks.0.hook_resid_mid", -1, new int[]{3}, PatchValue.mean(both))),
                PatchedRun.of(a, Patch.of("blocks.0.hook_mlp_out", -1, new int[]{2, 7}, new PatchValue.Constant(constant))),
                // a function at layer 1 sees the layer-0 patch of the same run: patches compose in graph order
                PatchedRun.of(a, Patch.of("blocks.0.mlp.hook_post", -1, null, PatchValue.of((run, p, h, x) -> scaled(x, 2f))),
                        Patch.of("blocks.1.attn.hook_v", 3, new int[]{5}, PatchValue.of((run, p, h, x) -> scaled(x, -1f))))));
        List<ReferenceGpt2.HookVisitor> expected = List.of(
                (h, rows) -> {
                    if (h.equals("blocks.1.attn.hook_z")) for (int p = 0; p < a.length; p++) java.util.Arrays.fill(rows[p * H + 2], 0);
                },
                overwrite("blocks.0.hook_resid_mid", 3, mean3),
                (h, rows) -> {
                    if (h.equals("blocks.0.hook_mlp_out")) for (int p : new int[]{2, 7}) for (int i = 0; i < d; i++) rows[p][i] = constant[i];
                },
                (h, rows) -> {
                    if (h.equals("blocks.0.mlp.hook_post")) for (double[] r : rows) for (int i = 0; i < r.length; i++) r[i] *= 2;
                    if (h.equals("blocks.1.attn.hook_v")) for (int i = 0; i < dh; i++) rows[5 * H + 3][i] = -rows[5 * H + 3][i];
                });
        for (int i = 0; i < expected.size(); i++) assertClose(res.logits(i), logitRows(a, expected.get(i)), "patch value kind " + i);
        // the zero patch really zeroes: the cached hook_z of that head is 0 after it
        ActivationCache zc = model.runWithPatches(List.of(PatchedRun.of(a, Patch.head(1, 2, -1, PatchValue.zero()))),
                "blocks.1.attn.hook_z").cache();
        assertThat(zc.get("blocks.1.attn.hook_z").row(4, 2)).containsOnly(0f);
        assertThat(zc.get("blocks.1.attn.hook_z").row(4, 1)).isEqualTo(both.get("blocks.1.attn.hook_z", 0).row(4, 1));
    }

    /**
     * TransformerLens' semantics of the new hooks, checked directly: an overridden score row is softmaxed over EVERY
     * key (no second causal mask), an all -inf row gives a zero pattern row, hook_attn_out is b_O plus the sum of
     * hook_result over heads (also after a hook_result override), and ln1.hook_normalized is centred x / hook_scale * w + b.
     */
    @Test
    void newHooksFollowTransformerLensOverrideSemantics() {
        int T = a.length, H = model.config().nHead(), d = model.config().dModel();
        float[] allInf = new float[T];
        java.util.Arrays.fill(allInf, Float.NEGATIVE_INFINITY);
        String scores = "blocks.0.attn.hook_attn_scores", pattern = "blocks.0.attn.hook_pattern";
        PatchResults res = model.runWithPatches(List.of(
                PatchedRun.of(a, Patch.of(scores, 1, new int[]{2}, PatchValue.zero()), Patch.of(scores, 3, new int[]{5}, new PatchValue.Constant(allInf))),
                PatchedRun.of(a, Patch.of("blocks.1.attn.hook_result", 2, new int[]{6}, PatchValue.zero()))),
                pattern, "blocks.1.attn.hook_result", "blocks.1.hook_attn_out", "blocks.0.hook_resid_pre", "blocks.0.ln1.hook_scale",
                "blocks.0.ln1.hook_normalized");
        ActivationCache c = res.cache();
        // zero scores at query 2: uniform over all T keys, the 6 after the query included
        for (int k = 0; k < T; k++) assertThat((double) c.get(pattern, 0).get(1, 2, k)).isCloseTo(1.0 / T, org.assertj.core.data.Offset.offset(1e-6));
        assertThat(c.get(pattern, 0).row(3, 5)).containsOnly(0f);
        assertThat(c.get(pattern, 0).get(0, 2, 0) + c.get(pattern, 0).get(0, 2, 1) + c.get(pattern, 0).get(0, 2, 2))
                .isCloseTo(1f, org.assertj.core.data.Offset.offset(1e-5f));
        Tensor result = c.get("blocks.1.attn.hook_result", 1), attnOut = c.get("blocks.1.hook_attn_out", 1);
        assertThat(result.row(6, 2)).containsOnly(0f);
        double[] bO = new double[d];
        ref.run(a, (h, rows) -> {
            // b_O is hook_attn_out minus the sum of hook_result, in the reference (independently of the graph)
            if (h.equals("blocks.1.attn.hook_result")) for (int i = 0; i < d; i++) { bO[i] = 0; for (int hh = 0; hh < H; hh++) bO[i] -= rows[hh][i]; }
            if (h.equals("blocks.1.hook_attn_out")) for (int i = 0; i < d; i++) bO[i] += rows[0][i];
        });
        for (int pos : new int[]{0, 6})
            for (int i = 0; i < d; i++) {
                double sum = bO[i];
                for (int h = 0; h < H; h++) sum += result.get(pos, h, i);
                assertThat(sum).as("attn_out pos " + pos + " index " + i).isCloseTo(attnOut.get(pos, i), org.assertj.core.data.Offset.offset(1e-4));
            }
        Tensor x = c.get("blocks.0.hook_resid_pre", 0), scale = c.get("blocks.0.ln1.hook_scale", 0), norm = c.get("blocks.0.ln1.hook_normalized", 0);
        double mean = 0, var = 0;
        for (int i = 0; i < d; i++) mean += x.get(3, i) / (double) d;
        for (int i = 0; i < d; i++) var += (x.get(3, i) - mean) * (x.get(3, i) - mean) / d;
        assertThat((double) scale.get(3, 0)).isCloseTo(Math.sqrt(var + model.config().layerNormEpsilon()), org.assertj.core.data.Offset.offset(1e-5));
        // doubling hook_scale halves the centred part of ln1.hook_normalized: (n - b) / w halves
        ActivationCache doubled = model.runWithPatches(List.of(PatchedRun.of(a, Patch.of("blocks.0.ln1.hook_scale", -1, new int[]{3},
                PatchValue.of((run, p, h, v) -> new float[]{2 * v[0]})))), "blocks.0.ln1.hook_normalized").cache();
        ActivationCache plain = model.runWithCache(a, "blocks.0.ln1.hook_normalized");
        ActivationCache twice = model.runWithPatches(List.of(PatchedRun.of(a, Patch.of("blocks.0.ln1.hook_scale", -1, new int[]{3},
                PatchValue.of((run, p, h, v) -> new float[]{v[0] / 2})))), "blocks.0.ln1.hook_normalized").cache();
        for (int i = 0; i < d; i++) {
            // n(s) = u / s + b with u = centred x * w: n(s/2) - n(s) = u / s = 2 (n(s) - n(2s))
            double n1 = plain.get("blocks.0.ln1.hook_normalized").get(3, i), n2 = doubled.get("blocks.0.ln1.hook_normalized").get(3, i),
                    nHalf = twice.get("blocks.0.ln1.hook_normalized").get(3, i);
            assertThat(nHalf - n1).as("index " + i).isCloseTo(2 * (n1 - n2), org.assertj.core.data.Offset.offset(1e-4 + 1e-4 * Math.abs(nHalf)));
        }
        assertThat(norm.get(3, 0)).isEqualTo(plain.get("blocks.0.ln1.hook_normalized").get(3, 0));
    }

    private static float[] scaled(float[] x, float s) {
        float[] out = new float[x.length];
        for (int i = 0; i < x.length; i++) out[i] = x[i] * s;
        return out;
    }

    @Test
    void batchLimitsNeverChangeANumber() {
        List<PatchedRun> runs = new ArrayList<>();
        for (int h = 0; h < model.config().nHead(); h++) runs.add(PatchedRun.of(h % 2 == 0 ? a : b, Patch.head(0, h, -1, PatchValue.zero())));
        PatchResults together = model.runWithPatches(runs);
        List<String> heard = new ArrayList<>();
        try (HookedModel oneByOne = HookedModel.open("words", HookedModel.Options.defaults().withRoot(root).withBatchLimits(1, 64)
                .withProgress((task, done, total) -> heard.add(task + " " + done + "/" + total)))) {
            PatchResults single = oneByOne.runWithPatches(runs);
            // one ONNX Runtime call per run at these limits, each reported to the listener
            assertThat(heard).containsExactly("runWithPatches 1/4", "runWithPatches 2/4", "runWithPatches 3/4", "runWithPatches 4/4");
            for (int i = 0; i < runs.size(); i++) {
                float[] x = together.logits(i).toArray(), y = single.logits(i).toArray();
                for (int k = 0; k < x.length; k++) assertThat((double) x[k]).isCloseTo(y[k], org.assertj.core.data.Offset.offset(1e-5));
            }
        }
    }

    @Test
    void cacheExportsToArrowWithOneRowPerValue(@TempDir Path dir) {
        ActivationCache cache = model.runWithCache(b, "blocks.1.attn.hook_pattern", "hook_embed");
        Path file = dir.resolve("cache.arrow");
        cache.writeArrow(file);
        Table t = ArrowTables.read(file);
        int H = model.config().nHead(), T = b.length, d = model.config().dModel();
        assertThat(t.rowCount()).isEqualTo(H * T * T + T * d);
        Table.Row row = t.filter(r -> r.getString("hook").equals("blocks.1.attn.hook_pattern") && r.getLong("head") == 2
                && r.getLong("pos") == 4 && r.getLong("index") == 3).rows().get(0);
        assertThat(row.getDouble("value")).isEqualTo((double) cache.get("blocks.1.attn.hook_pattern").get(2, 4, 3));
        assertThat(row.getLong("layer")).isEqualTo(1L);
        assertThat(t.descriptions().keySet()).containsExactlyInAnyOrderElementsOf(t.columnNames());
    }

    @Test
    void badInputFailsWithOneClearMessage() {
        // TransformerLens' hook_attn_in exists only with use_attn_in; this graph does not have it
        assertThatThrownBy(() -> model.runWithCache(a, "blocks.0.hook_attn_in"))
                .isInstanceOf(UserError.class).hasMessageContaining("'blocks.0.hook_attn_in' is not a hook").hasMessageContaining("Fix:");
        assertThatThrownBy(() -> model.runWithPatches(b, Patch.of("blocks.0.attn.hook_pattern", 0, new int[]{1},
                new PatchValue.Constant(new float[]{Float.NEGATIVE_INFINITY, 0, 0, 0, 0, 0}))))
                .isInstanceOf(UserError.class).hasMessageContaining("non-finite value (-Infinity)");
        assertThatThrownBy(() -> model.runWithPatches(b, Patch.head(0, 1, 7, PatchValue.zero())))
                .isInstanceOf(UserError.class).hasMessageContaining("position 7").hasMessageContaining("6 tokens");
        assertThatThrownBy(() -> model.runWithPatches(b, Patch.head(0, 9, 1, PatchValue.zero())))
                .isInstanceOf(UserError.class).hasMessageContaining("head 9").hasMessageContaining("4 heads");
        assertThatThrownBy(() -> model.runWithPatches(a, Patch.of("blocks.0.hook_resid_pre", -1, new int[]{8},
                PatchValue.from(model.runWithCache(b, "blocks.0.hook_resid_pre"), 0))))
                .isInstanceOf(UserError.class).hasMessageContaining("only 6 tokens");
        assertThatThrownBy(() -> HookedModel.open("no-such-model", HookedModel.Options.defaults().withRoot(root)))
                .isInstanceOf(UserError.class).hasMessageContaining("no-such-model");
    }

    @Test
    void libraryCallsPrintNothing(@TempDir Path dir) {
        PrintStream out = System.out, err = System.err;
        ByteArrayOutputStream captured = new ByteArrayOutputStream(), capturedErr = new ByteArrayOutputStream();
        System.setOut(new PrintStream(captured, true));
        System.setErr(new PrintStream(capturedErr, true));
        try (HookedModel m = HookedModel.open("words", HookedModel.Options.defaults().withRoot(root))) {
            ActivationCache c = m.runWithCache(a);
            m.runWithPatches(List.of(PatchedRun.of(a, Patch.head(1, 0, -1, PatchValue.from(c, 0)))), "blocks.1.hook_resid_post");
            m.attribute(new AttributionTask(List.of(new AttributionTask.Pair(a, a.clone(), 3, 4)), 2));
            m.attributeEdges(new AttributionTask(List.of(new AttributionTask.Pair(a, b.length == a.length ? b : a.clone(), 3, 4)), 1));
            c.writeArrow(dir.resolve("c.arrow"));
        } finally {
            System.setOut(out);
            System.setErr(err);
        }
        assertThat(captured.toString()).as("stdout").isEmpty();
        assertThat(capturedErr.toString()).as("stderr").isEmpty();
    }
}
