package org.milab.protocol.reference;

import org.junit.jupiter.api.Test;
import org.milab.graph.Head;
import org.milab.stats.Decisions;

import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Issue 10, defect 4, on hand-made values: a true zero measured as +-1e-9 (the planted sink head's float noise
 * between 64 and 128 rows per call) gives the same verdict whatever its sign, and rankings do not reorder rows
 * whose values differ only by noise. Values beyond the tolerance decide as before.
 */
class DecisionToleranceTest {
    static final double NOISE = 1e-9;

    @Test
    void aNoiseLevelEffectIsNoEffectWhateverItsSign() {
        for (double n : new double[]{NOISE, -NOISE, 0.0}) {
            assertThat(HeadSweepStage.specificity(true, 10, 0, n, 0.0, n, "head_specific_positive_candidate"))
                    .isEqualTo("no_positive_effect");
            assertThat(LayerPatchingStage.specificityStatus(10, 0, n, 0.0, n)).isEqualTo("no_positive_effect");
            assertThat(HeldoutRobustnessStage.survival(true, n, 0.0, n, 2)).isEqualTo("falsified_no_positive_effect");
            assertThat(HeldoutCounterexampleStage.bucket(n, "heldout_repeat", "positive"))
                    .isEqualTo(HeldoutCounterexampleStage.bucket(0.0, "heldout_repeat", "positive"));
        }
        // a real effect whose controls sit within noise of it moves controls; one clearly above them is specific
        assertThat(HeadSweepStage.specificity(true, 10, 0, 0.2, 0.2 - NOISE, NOISE, "s")).isEqualTo("nonspecific_moves_controls");
        assertThat(HeadSweepStage.specificity(true, 10, 0, 0.2, 0.1, 0.1, "s")).isEqualTo("s");
    }

    @Test
    void replicationNeedsAMinimumGapBeyondNoise() {
        Head h = new Head(0, 3);
        List<SweepConsolidationStage.SeedRow> noise = List.of(
                new SweepConsolidationStage.SeedRow(0, h, true, 0.1, 0.1 - NOISE, NOISE, "head_specific_positive_candidate", false, true),
                new SweepConsolidationStage.SeedRow(1, h, true, 0.1, 0.1 - NOISE, NOISE, "head_specific_positive_candidate", false, true));
        assertThat(SweepConsolidationStage.replicationStatus(noise)).isNotEqualTo(SweepConsolidationStage.REPLICATED);
        List<SweepConsolidationStage.SeedRow> real = List.of(
                new SweepConsolidationStage.SeedRow(0, h, true, 0.1, 0.05, 0.05, "head_specific_positive_candidate", false, true),
                new SweepConsolidationStage.SeedRow(1, h, true, 0.1, 0.06, 0.04, "head_specific_positive_candidate", false, true));
        assertThat(SweepConsolidationStage.replicationStatus(real)).isEqualTo(SweepConsolidationStage.REPLICATED);
    }

    @Test
    void rankingsKeepInputOrderForValuesWithinNoise() {
        List<double[]> rows = List.of(new double[]{0, 2 * NOISE}, new double[]{1, -NOISE}, new double[]{2, 0.5},
                new double[]{3, NOISE});
        assertThat(PandasRules.sortDescending(rows, r -> r[1]).stream().map(r -> (int) r[0]).toList())
                .containsExactly(2, 0, 1, 3);
        assertThat(Decisions.rounded(0.123456789)).isCloseTo(0.12346, org.assertj.core.api.Assertions.within(1e-12));
        assertThat(Decisions.rounded(-NOISE)).isEqualTo(0.0).isEqualTo(Decisions.rounded(NOISE));
    }

    @Test
    void correlationWithAVectorThatIsConstantUpToNoiseIsUndefined() {
        assertThat(CharacterizationStage.pearson(List.of(0.1, 0.5, 0.9, 0.2), List.of(NOISE, -NOISE, 0.0, 2 * NOISE))).isNull();
        assertThat(CharacterizationStage.spearman(List.of(0.1, 0.5, 0.9, 0.2), List.of(NOISE, -NOISE, 0.0, 2 * NOISE))).isNull();
    }
}
