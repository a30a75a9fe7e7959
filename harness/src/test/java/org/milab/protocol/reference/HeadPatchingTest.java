package org.milab.protocol.reference;

import org.milab.engine.RecomputePath;
import org.milab.stage.RunConfig;
import org.milab.run.RunContext;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.io.TempDir;
import org.milab.lab.LabFixtures;
import org.milab.lab.LabModel;
import org.milab.model.ModelConfig;
import org.milab.model.RandomCheckpoints;
import org.milab.model.ReferenceGpt2;
import org.milab.prompts.HeldoutPrompts;
import org.milab.prompts.PromptRecord;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.function.Function;
import java.util.stream.Collectors;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;
import org.milab.graph.Head;

/** The batched head-patching runner against the plain-Java reference, job by job. */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class HeadPatchingTest {
    LabModel model;
    RunContext ctx;
    ReferenceGpt2 ref;
    List<PromptRecord> records;
    Map<String, PromptRecord> byId;

    @BeforeAll
    void setUp(@TempDir Path root) {
        model = LabFixtures.randomWordModel(root, "words", 11);
        ctx = new RunContext(root, RunConfig.reference("words", "t"), model);
        ModelConfig cfg = model.config();
        ref = new ReferenceGpt2(RandomCheckpoints.generate(cfg, 11, 0.5f)); // the same weights, independently
        records = HeldoutPrompts.generate(10, 4);
        byId = records.stream().collect(Collectors.toMap(PromptRecord::exampleId, Function.identity()));
    }

    @AfterAll
    void close() {
        model.close();
    }

    private double diff(int[] ids, ReferenceGpt2.Patches p, int t, int w) {
        double[] l = ref.run(ids, p).finalLogits();
        return l[t] - l[w];
    }

    @Test
    void suffixReusePathMatchesTheReference() {
        checkEveryInterventionAgainstTheReference(RecomputePath.MINIMAL);
    }

    @Test
    void wholePromptPathMatchesTheReference() {
        checkEveryInterventionAgainstTheReference(RecomputePath.WHOLE);
    }

    private void checkEveryInterventionAgainstTheReference(RecomputePath path) {
        List<HeadPatching.Job> jobs = new ArrayList<>();
        Head head = new Head(1, 2);
        for (PromptRecord r : records)
            for (Intervention iv : Intervention.values())
                for (PositionLabel pos : List.of(PositionLabel.FINAL, PositionLabel.PREVIOUS_OCCURRENCE))
                    jobs.add(new HeadPatching.Job(r, byId.get(r.pairedPositiveExampleId()), "c0", head, iv, pos));
        List<HeadPatching.Result> results = HeadPatching.run(ctx, jobs, "test", path);
        assertThat(results).hasSize(jobs.size());
        int checked = 0;
        for (HeadPatching.Result res : results) {
            PromptRecord r = res.job().record();
            if (res.job().position() == PositionLabel.PREVIOUS_OCCURRENCE && r.expectedSourcePositionHint() == null) {
                assertThat(res.interventionStatus()).isEqualTo("skipped_position_unavailable");
                assertThat(res.positionStatus()).isEqualTo("unavailable_for_family");
                assertThat(res.effectSizeStatus()).isEqualTo("position_unavailable");
                assertThat(res.effectSize()).isNull();
                continue;
            }
            int[] clean = ctx.tokens(res.cleanPrompt()).ids(), corrupt = ctx.tokens(res.corruptPrompt()).ids();
            int t = ctx.singleToken(r.trueExpectedNextToken(), "t"), w = ctx.singleToken(r.wrongOrControlToken(), "w");
            assertThat(res.cleanScore()).isCloseTo(diff(clean, ReferenceGpt2.Patches.none(), t, w), within(1e-4));
            assertThat(res.corruptScore()).isCloseTo(diff(corrupt, ReferenceGpt2.Patches.none(), t, w), within(1e-4));
            int pcl = res.job().position().resolve(r, clean.length), pc = res.job().position().resolve(r, corrupt.length);
            assertThat(res.patchPosition()).isEqualTo(pc);
            float[] donor = switch (res.job().intervention()) {
                case CLEAN_TO_CORRUPT -> toFloat(ref.run(clean).z()[1][pcl][2]);
                case ZERO_ABLATION -> toFloat(ref.valueBiasEffective()[1][2]);
                case MEAN_ABLATION -> meanDonor(results, res, pcl);
            };
            double expected = diff(corrupt, ReferenceGpt2.Patches.ofZ(new ReferenceGpt2.ZPatch(1, pc, 2, donor)), t, w);
            assertThat(res.patchedScore()).as("%s %s %s", r.exampleId(), res.job().intervention(), res.job().position())
                    .isCloseTo(expected, within(1e-4));
            if (clean.length == corrupt.length && java.util.Arrays.equals(clean, corrupt)) {
                assertThat(res.effectSizeStatus()).isEqualTo("denominator_zero");
                assertThat(res.effectSize()).isNull();
            } else {
                assertThat(res.effectSizeStatus()).isEqualTo("ok");
                assertThat(res.effectSize()).isCloseTo(
                        (res.patchedScore() - res.corruptScore()) / (res.cleanScore() - res.corruptScore()), within(1e-9));
            }
            checked++;
        }
        assertThat(checked).isGreaterThan(40);
        // wrong_target_same_prompt rows have clean == corrupt: always denominator_zero (spec section 10.2)
        assertThat(results.stream().filter(x -> x.job().record().family().equals("heldout_wrong_target_same_prompt")
                && x.effectSizeStatus().equals("ok")).count()).isZero();
    }

    @Test
    void identicalRowsRunOnceAndEveryCallerGetsTheAnswer() {
        var engine = model.engine();
        var ids = ctx.tokens("A B C D A B C");
        float[] donor = new float[model.config().dHead()];
        java.util.Arrays.fill(donor, 0.25f);
        var a = new org.milab.engine.PatchRow(ids, List.of(new org.milab.engine.SitePatch(1, 7, 2, donor)), new int[]{4, 5});
        var b = new org.milab.engine.PatchRow(ids, List.of(new org.milab.engine.SitePatch(1, 7, 3, donor)), new int[]{4, 5});
        var aCopy = new org.milab.engine.PatchRow(ids, List.of(new org.milab.engine.SitePatch(1, 7, 2, donor.clone())), new int[]{4, 5});
        long before = engine.counters().get("forward_rows");
        float[][] out = engine.patch(org.milab.graph.PatchSite.HOOK_Z, List.of(a, b, aCopy), "dedupe");
        assertThat(engine.counters().get("forward_rows") - before).isEqualTo(2);
        assertThat(out[2]).containsExactly(out[0]);
        assertThat(out[1]).isNotEqualTo(out[0]);
    }

    /** The reference's mean: average of the clean z at the same clean index over all mean jobs, with repeats. */
    private float[] meanDonor(List<HeadPatching.Result> all, HeadPatching.Result self, int pcl) {
        double[] sum = new double[model.config().dHead()];
        int n = 0;
        for (HeadPatching.Result o : all) {
            if (o.job().intervention() != Intervention.MEAN_ABLATION || o.job().position() != self.job().position()) continue;
            int[] c = ctx.tokens(o.cleanPrompt()).ids();
            Integer p = o.job().position().resolve(o.job().record(), c.length);
            if (p == null || p != pcl) continue;
            double[] z = ref.run(c).z()[1][p][2];
            for (int i = 0; i < sum.length; i++) sum[i] += z[i];
            n++;
        }
        assertThat(self.meanAblationSourceN()).isEqualTo(n);
        float[] out = new float[sum.length];
        for (int i = 0; i < sum.length; i++) out[i] = (float) (sum[i] / n);
        return out;
    }

    private static float[] toFloat(double[] a) {
        float[] f = new float[a.length];
        for (int i = 0; i < a.length; i++) f[i] = (float) a[i];
        return f;
    }
}
