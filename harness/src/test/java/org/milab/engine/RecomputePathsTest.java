package org.milab.engine;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.io.TempDir;
import org.milab.catalog.ModelExports;
import org.milab.catalog.ModelLayout;
import org.milab.graph.HookNames;
import org.milab.graph.ModelIdentity;
import org.milab.graph.PatchSite;
import org.milab.lab.LabModel;
import org.milab.model.InMemoryCheckpoint;
import org.milab.model.ModelConfig;
import org.milab.model.RandomCheckpoints;
import org.milab.model.ReferenceGpt2;
import org.milab.runtime.Device;
import org.milab.tokenizer.WordLevelTokenizerJson;
import org.milab.util.AtomicFiles;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

/**
 * Every recompute path of {@link InterventionEngine#patch(PatchSite, List, String, Map)} against the plain-Java
 * reference, on a 4-block random GPT-2 (so start layers 0..3 are all exercised), for a patch at every
 * (layer, position) of prompts of unequal length, multi-position and multi-head rows, position-0 rows and
 * unpatched rows; and the FLOP-minimal path's answers across batch compositions.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class RecomputePathsTest {
    private static final double TOL = 1e-4;
    /** Batch composition changes only summation blocking: answers agree far inside {@link #TOL}. */
    private static final double BATCH_TOL = 1e-5;

    LabModel model;
    ReferenceGpt2 ref;
    List<PatchRow> rows = new ArrayList<>();
    Map<TokenIds, Capture> caps;

    @BeforeAll
    void setUp(@TempDir Path root) {
        List<String> vocab = new ArrayList<>(List.of("<|endoftext|>", "<unk>"));
        for (int i = 0; i < 40; i++) vocab.add("w" + i);
        ModelConfig cfg = new ModelConfig(4, 4, 32, vocab.size(), 24, 1e-5, ModelConfig.GELU_TANH, false);
        InMemoryCheckpoint ckpt = RandomCheckpoints.generate(cfg, 5, 0.5f);
        ModelExports.export(new ModelLayout(root, "four"), ckpt, new ModelIdentity("four", null, null, "test", false, "test"),
                Map.of(), stage -> AtomicFiles.writeString(stage.tokenizer(), WordLevelTokenizerJson.build(vocab, "<unk>", "<|endoftext|>")));
        model = LabModel.open(root, "four", Device.CPU, 2, 64, 64 * 16);
        ref = new ReferenceGpt2(ckpt);

        Random rnd = new Random(3);
        List<TokenIds> prompts = new ArrayList<>();
        for (int len : new int[]{5, 9, 12, 7}) {
            int[] ids = new int[len];
            for (int i = 1; i < len; i++) ids[i] = 2 + rnd.nextInt(40);
            prompts.add(new TokenIds(ids));
        }
        int H = cfg.nHead(), dh = cfg.dHead();
        for (TokenIds p : prompts) {
            int[] metric = {2 + rnd.nextInt(40), 2 + rnd.nextInt(40), 2 + rnd.nextInt(40)};
            for (int l = 0; l < cfg.nLayer(); l++)
                for (int pos = 0; pos < p.length(); pos++)
                    rows.add(new PatchRow(p, List.of(new SitePatch(l, pos, (l + pos) % H, donor(rnd, dh))), metric));
            // one head at every position (as protocol v2's all-position patches)
            List<SitePatch> all = new ArrayList<>();
            for (int pos = 0; pos < p.length(); pos++) all.add(new SitePatch(2, pos, 1, donor(rnd, dh)));
            rows.add(new PatchRow(p, all, metric));
            // several heads in several layers at once; the earliest layer and position decide where it starts
            rows.add(new PatchRow(p, List.of(new SitePatch(3, 1, 0, donor(rnd, dh)), new SitePatch(1, p.length() - 2, 3,
                    donor(rnd, dh)), new SitePatch(1, p.length() - 1, 2, donor(rnd, dh))), metric));
            int fin = p.length() - 1;
            // two heads at one position of the first patched block, and the last block's final position
            rows.add(new PatchRow(p, List.of(new SitePatch(1, fin - 2, 0, donor(rnd, dh)), new SitePatch(1, fin - 2, 2,
                    donor(rnd, dh)), new SitePatch(3, fin, 1, donor(rnd, dh))), metric));
            // the last block before its final position (changes nothing the metric reads) and at it, two heads
            rows.add(new PatchRow(p, List.of(new SitePatch(3, 1, 0, donor(rnd, dh)), new SitePatch(3, fin, 3, donor(rnd, dh)),
                    new SitePatch(3, fin, 2, donor(rnd, dh))), metric));
            // block 0 at position 0 and the final position, then a block between at another position
            rows.add(new PatchRow(p, List.of(new SitePatch(0, fin, 2, donor(rnd, dh)), new SitePatch(2, 2, 0, donor(rnd, dh)),
                    new SitePatch(0, 0, 1, donor(rnd, dh))), metric));
            rows.add(new PatchRow(p, List.of(), metric)); // unpatched baseline
            rows.add(new PatchRow(p, List.of(), new int[]{metric[0]})); // narrower metric in the same call
        }
        Set<String> hooks = new LinkedHashSet<>(engine().suffixHooks());
        caps = engine().capture(prompts, hooks, "capture");
    }

    @AfterAll
    void close() {
        model.close();
    }

    private InterventionEngine engine() {
        return model.localEngine();
    }

    private static float[] donor(Random rnd, int dh) {
        float[] v = new float[dh];
        for (int i = 0; i < dh; i++) v[i] = (float) (rnd.nextGaussian() * 0.7);
        return v;
    }

    private double[] expected(PatchRow r) {
        List<ReferenceGpt2.ZPatch> zs = r.overrides().stream()
                .map(o -> new ReferenceGpt2.ZPatch(o.layer(), o.position(), o.head(), o.value())).toList();
        double[] logits = ref.run(r.prompt().ids(), zs.isEmpty() ? ReferenceGpt2.Patches.none()
                : ReferenceGpt2.Patches.ofZ(zs.toArray(ReferenceGpt2.ZPatch[]::new))).finalLogits();
        double[] out = new double[r.metricTokens().length];
        for (int k = 0; k < out.length; k++) out[k] = logits[r.metricTokens()[k]];
        return out;
    }

    private void assertMatchesReference(float[][] got, String path) {
        assertThat(got.length).isEqualTo(rows.size());
        int changed = 0;
        for (int i = 0; i < rows.size(); i++) {
            double[] want = expected(rows.get(i));
            assertThat(got[i]).as("%s row %d width", path, i).hasSize(want.length);
            for (int k = 0; k < want.length; k++)
                assertThat((double) got[i][k]).as("%s row %d %s metric %d", path, i, rows.get(i).overrides(), k)
                        .isCloseTo(want[k], within(TOL));
            if (!rows.get(i).overrides().isEmpty()) {
                double[] clean = expected(new PatchRow(rows.get(i).prompt(), List.of(), rows.get(i).metricTokens()));
                if (Math.abs(clean[0] - want[0]) > 1e-3) changed++;
            }
        }
        // the patches really change the answer, so agreement is not vacuous
        assertThat(changed).isGreaterThan(rows.size() / 2);
    }

    @Test
    void minimalPathMatchesTheReferenceForEveryLayerAndPosition() {
        assertMatchesReference(engine().patch(PatchSite.HOOK_Z, rows, "minimal", caps, RecomputePath.MINIMAL), "minimal");
    }

    @Test
    void suffixWholeAndResumePathsMatchTheReference() {
        assertMatchesReference(engine().patch(PatchSite.HOOK_Z, rows, "suffix", caps, RecomputePath.SUFFIX), "suffix");
        assertMatchesReference(engine().patch(PatchSite.HOOK_Z, rows, "whole", caps, RecomputePath.WHOLE), "whole");
        assertMatchesReference(engine().patch(PatchSite.HOOK_Z, rows, "resume", caps, RecomputePath.RESUME), "resume");
    }

    /**
     * The per-start-layer sessions stay within their memory budget: with room for all, every start layer stays open;
     * with room for half of their block copies, the least recently used close, and reopened ones give the same bits.
     */
    @Test
    void startLayerSessionsStayWithinTheirBudgetAndReopenWithTheSameAnswers() {
        org.milab.runtime.ModelSessions s = model.sessions();
        long before = s.startLayerBudget();
        try {
            s.startLayerBudget(Long.MAX_VALUE);
            float[][] first = engine().patch(PatchSite.HOOK_Z, rows, "first", caps); // start layers 0..3
            assertThat(s.openStartLayerSessions()).isEqualTo(4);
            long all = s.startLayerBytes(); // 4 + 3 + 2 + 1 = 10 block copies
            assertThat(all).isPositive();
            s.startLayerBudget(all / 2);
            assertThat(s.openStartLayerSessions()).isLessThan(4);
            assertThat(s.startLayerBytes()).isLessThanOrEqualTo(all / 2);
            float[][] again = engine().patch(PatchSite.HOOK_Z, rows, "again", caps); // reopens what was closed
            assertThat(s.startLayerBytes()).isLessThanOrEqualTo(all / 2);
            for (int i = 0; i < rows.size(); i++) assertThat(again[i]).containsExactly(first[i]);
        } finally {
            s.startLayerBudget(before);
        }
    }

    @Test
    void rowsThatAllStartAtPositionOneMatchTheReferenceOverOneCachedPosition() {
        // protocol v2's shape alone in a request: one head at every position >= 1, so the minimal path's key/value
        // caches hold position 0 only (MinimalCalls.shortPast); the full-width caches must give the same answers
        Random rnd = new Random(11);
        int dh = model.config().dHead();
        List<PatchRow> v2 = new ArrayList<>();
        for (TokenIds p : caps.keySet())
            for (int l = 0; l < model.config().nLayer(); l++) {
                List<SitePatch> all = new ArrayList<>();
                float[] value = donor(rnd, dh);
                for (int pos = 1; pos < p.length(); pos++) all.add(new SitePatch(l, pos, l % model.config().nHead(), value));
                v2.add(new PatchRow(p, all, new int[]{2 + rnd.nextInt(40), 2 + rnd.nextInt(40)}));
            }
        float[][] got = engine().patch(PatchSite.HOOK_Z, v2, "v2-shaped", caps, RecomputePath.MINIMAL);
        float[][] full = new InterventionEngine(model.sessions(), model.config(), 64, 64 * 16,
                InterventionEngine.MinimalCalls.GREEDY_FULL_PAST).patch(PatchSite.HOOK_Z, v2, "v2-shaped, full caches", caps, RecomputePath.MINIMAL);
        for (int i = 0; i < v2.size(); i++) {
            double[] want = expected(v2.get(i));
            for (int k = 0; k < want.length; k++) {
                assertThat((double) got[i][k]).as("row %d", i).isCloseTo(want[k], within(TOL));
                assertThat((double) got[i][k]).as("row %d against full-width caches", i).isCloseTo(full[i][k], within(BATCH_TOL));
            }
        }
    }

    @Test
    void minimalPathAnswersDoNotDependOnBatchComposition() {
        float[][] base = new InterventionEngine(model.sessions(), model.config(), 512, 1 << 20)
                .patch(PatchSite.HOOK_Z, rows, "all in one call per start layer", caps);
        // 7 rows per call with the greedy fill and full-width caches too: other calls, other padding, other past width
        InterventionEngine.MinimalCalls def = InterventionEngine.MinimalCalls.LEAST_PADDING, greedy = InterventionEngine.MinimalCalls.GREEDY_FULL_PAST;
        for (Object[] plan : new Object[][]{{1, def}, {7, def}, {7, greedy}, {512, greedy}}) {
            int maxRows = (Integer) plan[0];
            InterventionEngine e = new InterventionEngine(model.sessions(), model.config(), maxRows, 1 << 20,
                    (InterventionEngine.MinimalCalls) plan[1]);
            // reversed order changes which rows share a call and every call's padding
            List<PatchRow> reversed = new ArrayList<>(rows);
            java.util.Collections.reverse(reversed);
            float[][] got = e.patch(PatchSite.HOOK_Z, reversed, "rows " + maxRows, caps);
            for (int i = 0; i < rows.size(); i++) {
                float[] g = got[rows.size() - 1 - i];
                for (int k = 0; k < g.length; k++)
                    assertThat((double) g[k]).as("row %d at %d rows per call", i, maxRows)
                            .isCloseTo(base[i][k], within(BATCH_TOL));
            }
        }
    }

    @Test
    void aCaptureWithoutTheCachesARowNeedsIsRefusedNotReadAsZeros() {
        TokenIds p = rows.get(0).prompt();
        Map<TokenIds, Capture> lastOnly = engine().capture(List.of(p), engine().suffixHooks(model.config().nLayer()), "last");
        assertThat(lastOnly.get(p).hooks()).containsKey(HookNames.hookK(3)).doesNotContainKey(HookNames.hookK(2));
        PatchRow early = new PatchRow(p, List.of(new SitePatch(1, 2, 0, new float[model.config().dHead()])), new int[]{4});
        org.assertj.core.api.Assertions.assertThatThrownBy(() -> engine().patch(PatchSite.HOOK_Z, List.of(early), "early", lastOnly))
                .hasMessageContaining("lacks blocks.1.");
        // unpatched rows need only the last block's caches
        PatchRow baseline = new PatchRow(p, List.of(), new int[]{4});
        assertThat((double) engine().patch(PatchSite.HOOK_Z, List.of(baseline), "baseline", lastOnly)[0][0])
                .isCloseTo(expected(baseline)[0], within(TOL));
    }

    @Test
    void usefulFlopsAreTheMinimalComputationAndNeverExceedWhatRan() {
        ModelConfig c = model.config();
        double d = c.dModel(), cell = 2.0 * c.dHead() * d + 4.0 * d * c.dMlp(), kv = 4.0 * d * d, head = FlopCount.metricHead(c, 2);
        float[] v = new float[c.dHead()];
        TokenIds p = rows.get(0).prompt();
        int len = p.length(), fin = len - 1;
        // last block before the final position: the metric cannot change
        assertThat(FlopCount.minimalRow(c, List.of(new SitePatch(3, fin - 1, 0, v)), len, 2)).isZero();
        assertThat(FlopCount.minimalRow(c, List.of(), len, 2)).isZero();
        // last block at the final position, two heads: their W_O shares and the MLP of one position
        assertThat(FlopCount.minimalRow(c, List.of(new SitePatch(3, fin, 0, v), new SitePatch(3, fin, 1, v)), len, 2))
                .isEqualTo(cell + 2.0 * c.dHead() * d + head);
        // block 1 at position 2: its cell, block 2 whole at positions 2.., the last block's keys/values and final query
        double between = 0;
        for (int q = 2; q < len; q++) between += FlopCount.tokenLayer(c, q + 1);
        assertThat(FlopCount.minimalRow(c, List.of(new SitePatch(1, 2, 0, v)), len, 2))
                .isCloseTo(cell + between + (fin - 2) * kv + FlopCount.tokenLayer(c, len) + head, within(1e-6));
        // executed never less than useful; useful less than the whole blocks from the start layer the old count took
        Map<String, Long> before = engine().counters();
        engine().patch(PatchSite.HOOK_Z, rows, "flops", caps, RecomputePath.MINIMAL);
        Map<String, Long> after = engine().counters();
        long useful = after.get("useful_patch_flops") - before.get("useful_patch_flops");
        long executed = after.get("executed_flops") - before.get("executed_flops");
        double wholeBlocks = 0;
        for (PatchRow r : rows) {
            ResumeRow rr = ResumeRow.of(r, c.nLayer());
            if (!rr.effective().isEmpty())
                wholeBlocks += FlopCount.minimalRow(c, rr.startLayer(), rr.startPosition(), r.prompt().length(), r.metricTokens().length);
        }
        assertThat(useful).isPositive().isLessThanOrEqualTo(executed);
        assertThat((double) useful).isLessThan(wholeBlocks);
    }

    @Test
    void aLastBlockPatchIsOneCallAndTheCapturesHoldTheCaches() {
        assertThat(engine().suffixHooks()).contains(HookNames.hookResidPre(0), HookNames.hookK(3), HookNames.hookV(3));
        long before = engine().counters().get("forward_calls");
        // a single row patched in the last block at its final position runs one call of the last start layer
        TokenIds p = rows.get(0).prompt();
        float[][] out = engine().patch(PatchSite.HOOK_Z, List.of(new PatchRow(p,
                List.of(new SitePatch(3, p.length() - 1, 0, new float[model.config().dHead()])), new int[]{4})), "one", caps);
        assertThat(engine().counters().get("forward_calls") - before).isEqualTo(1);
        assertThat((double) out[0][0]).isCloseTo(expected(new PatchRow(p,
                List.of(new SitePatch(3, p.length() - 1, 0, new float[model.config().dHead()])), new int[]{4}))[0], within(TOL));
    }
}
