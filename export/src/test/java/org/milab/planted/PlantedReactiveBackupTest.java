package org.milab.planted;

import org.junit.jupiter.api.Test;
import org.milab.model.ReferenceGpt2;
import org.milab.model.ReferenceGpt2.Patches;
import org.milab.planted.GroundTruth.HeadTruth;
import org.milab.planted.GroundTruth.Role;
import org.milab.planted.PlantedChecks.Check;
import org.milab.planted.PlantedChecks.Report;

import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The {@code reactive-backup} preset on the plain-Java reference: its backup head (ground-truth role
 * BACKUP_INDUCTION, one layer after the main induction head) writes little while the main head works and takes
 * over when the main head's output is ablated, and {@link PlantedChecks} verifies exactly that (and fails when
 * the patches are ignored).
 */
class PlantedReactiveBackupTest {
    /** Every 4th prompt and pair: enough pairs for the every-pair minima, a few seconds per model. */
    private static final int STRIDE = 4;

    private static final class Model {
        static final Planted MODEL = PlantedInductionModel.build(PlantedSpec.preset("reactive-backup"));
        static final MemoRunner RUNNER = new MemoRunner(new ReferenceGpt2(MODEL.checkpoint())::run);
        static final Report REPORT = PlantedChecks.run(MODEL, RUNNER, STRIDE);
    }

    @Test
    void layoutAndGroundTruthNameTheReactiveBackup() {
        PlantedLayout l = PlantedLayout.preset("reactive-backup");
        assertThat(l.modelId()).isEqualTo("planted-reactive-backup");
        assertThat(l.reactive()).isNotNull();
        assertThat(l.layerNormKs()).containsExactly(2, 3, 4);
        GroundTruth t = Model.MODEL.groundTruth();
        HeadTruth main = t.head(Role.INDUCTION), backup = t.backup().orElseThrow();
        assertThat(backup.layer()).isEqualTo(main.layer() + 1);
        assertThat(backup.inCircuit()).isTrue();
        assertThat(backup.mechanism()).contains("REACTIVE");
        assertThat(PlantedLayout.parse(l.spec())).isEqualTo(l);
    }

    @Test
    void reactiveBackupPassesEveryCheckAndTakesOverWhenTheMainHeadIsAblated() {
        Report r = Model.REPORT;
        System.out.println("reactive-backup, seed 0, noise 0.01, stride " + STRIDE + ":\n" + r.render());
        assertThat(failed(r)).as(r.render()).isEmpty();
        assertThat(r.check("reactive_backup_mean_contribution_rise_when_main_ablated")).isNotNull();
        assertThat(r.stats().get("reactive_backup_min_contribution_rise_when_main_ablated")).as("on every pair").isGreaterThan(0);
        // the attention flip behind the rise, read from the reference's patterns (declared bounds, not tuned values)
        assertThat(r.stats().get("reactive_backup_mean_attention_to_source")).isLessThan(0.5);
        assertThat(r.stats().get("reactive_backup_mean_attention_to_source_main_ablated")).isGreaterThan(0.9);
        assertThat(r.stats().get("joint_mean_ablation_drop") - r.stats().get("induction_head_mean_ablation_drop"))
                .as("what the backup adds to the main head's ablation").isGreaterThan(r.stats().get("backup_head_mean_ablation_drop") + 0.1);
    }

    /** A runner that ignores every patch: no ablation moves anything, so the rise check (and the main head's) fail. */
    @Test
    void checksFailWhenPatchingDoesNothing() {
        assertThat(failed(Model.REPORT)).isEmpty(); // fills the memo
        Report r = PlantedChecks.run(Model.MODEL, (ids, patches) -> Model.RUNNER.run(ids, Patches.none()), STRIDE);
        assertThat(failed(r)).containsExactlyInAnyOrder("reactive_backup_mean_contribution_rise_when_main_ablated",
                "induction_head_min_patch_effect");
    }

    @Test
    void reactiveLayoutsAreConstrained() {
        org.assertj.core.api.ThrowableAssert.ThrowingCallable sameLayer = () -> PlantedLayout.parse(
                "layers=3,prev=L0H1,induction=L2H2,reactive=L2H5,duplicate=L1H0,frequency=L2H1,sink=L0H3");
        org.assertj.core.api.Assertions.assertThatThrownBy(sameLayer).hasMessageContaining("reactive backup")
                .isInstanceOf(org.milab.util.UserError.class);
        org.assertj.core.api.Assertions.assertThatThrownBy(() -> PlantedLayout.parse(
                        "layers=3,prev=L0H1,induction=L1H2,reactive=L2H5,backup=L2H6,duplicate=L1H0,frequency=L2H1,sink=L0H3"))
                .hasMessageContaining("combines");
        org.assertj.core.api.Assertions.assertThatThrownBy(() -> PlantedLayout.parse(
                        "layers=3,prev=L1H1,induction=L1H2,reactive=L2H5,duplicate=L1H0,frequency=L2H1,sink=L0H3"))
                .hasMessageContaining("previous-token head");
    }

    private static List<String> failed(Report r) {
        return r.checks().stream().filter(c -> !c.passed()).map(Check::name).toList();
    }
}
