package org.milab.planted;

import org.junit.jupiter.api.Test;
import org.milab.model.ReferenceGpt2;
import org.milab.model.ReferenceGpt2.Patches;
import org.milab.planted.GroundTruth.Role;
import org.milab.planted.PlantedChecks.Check;
import org.milab.planted.PlantedChecks.Report;

import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The behavioural contract ({@link PlantedChecks}) on the plain-Java reference forward pass, for the exact
 * construction and for the default weight noise, and proof that the checks fail when the model or the
 * patching is wrong.
 */
class PlantedBehaviourTest {

    /** The default-noise model, its memoising runner and its report, computed once (~40 s). */
    private static final class DefaultModel {
        static final Planted MODEL = PlantedInductionModel.build(PlantedSpec.defaults());
        static final MemoRunner RUNNER = new MemoRunner(new ReferenceGpt2(MODEL.checkpoint())::run);
        static final Report REPORT = PlantedChecks.run(MODEL, RUNNER);
    }

    @Test
    void exactConstructionPassesEveryCheck() {
        Planted p = PlantedInductionModel.build(new PlantedSpec(0, 0));
        Report r = PlantedChecks.run(p, new ReferenceGpt2(p.checkpoint())::run);
        System.out.println("noise 0:\n" + r.render());
        assertAllPassed(r);
        // without noise the null-output heads are exactly inert
        assertThat(r.stats().get("L1H0_max_abs_patch_effect")).isLessThan(1e-9);
        assertThat(r.stats().get("L0H3_max_abs_patch_effect")).isLessThan(1e-9);
    }

    @Test
    void defaultNoisePassesEveryCheck() {
        Report r = DefaultModel.REPORT;
        System.out.println("default noise " + PlantedSpec.DEFAULT_NOISE_STD + ":\n" + r.render());
        assertAllPassed(r);
        assertThat(r.stats().get("patch_pairs_degenerate")).isZero();
    }

    /** A runner that ignores the patch: the induction head then shows no effect and its check fails. */
    @Test
    void checksFailWhenPatchingDoesNothing() {
        Report good = DefaultModel.REPORT; // fills the memo, so this run costs nothing
        assertAllPassed(good);
        Report r = PlantedChecks.run(DefaultModel.MODEL, (ids, patches) -> DefaultModel.RUNNER.run(ids, Patches.none()));
        assertThat(failed(r)).containsExactly("induction_head_min_patch_effect");
    }

    /** Ground truth with the induction and duplicate-token heads swapped: the attention and patch checks fail. */
    @Test
    void checksFailWhenTheGroundTruthIsWrong() {
        assertAllPassed(DefaultModel.REPORT);
        Planted lying = Relabel.roles(DefaultModel.MODEL,
                Map.of(Role.INDUCTION, Role.DUPLICATE_TOKEN_NULL_OV, Role.DUPLICATE_TOKEN_NULL_OV, Role.INDUCTION));
        Report r = PlantedChecks.run(lying, DefaultModel.RUNNER);
        assertThat(failed(r)).containsExactlyInAnyOrder("induction_head_mean_attention_to_source",
                "induction_head_min_patch_effect", "duplicate_head_max_abs_patch_effect",
                "duplicate_head_min_attention_to_earlier_occurrence");
    }

    private static void assertAllPassed(Report r) {
        assertThat(failed(r)).as(r.render()).isEmpty();
    }

    private static List<String> failed(Report r) {
        return r.checks().stream().filter(c -> !c.passed()).map(Check::name).toList();
    }
}
