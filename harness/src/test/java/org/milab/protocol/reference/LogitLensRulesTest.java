package org.milab.protocol.reference;

import org.junit.jupiter.api.Test;
import org.milab.tables.Table;
import org.milab.tables.TableBuilder;

import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

/** The logit-lens family table and summary rules on hand-made rows. */
class LogitLensRulesTest {

    private static TableBuilder familyTable() {
        return Table.builder(LogitLensStage.BY_FAMILY).string("family").int64("layer").int64("n_examples")
                .float64("mean_expected_logit", "mean_expected_probability", "median_expected_rank")
                .bool("should_show_induction_behavior");
    }

    private static Table families(Object[]... rows) {
        TableBuilder b = familyTable();
        for (Object[] r : rows) b.addRow(r[0], r[1], 4, 0.0, r[2], 1.0, r[3]);
        return b.build();
    }

    @Test
    void bestPositiveIsTheTopFamilyLayerAndHardestControlAveragesItsLayers() {
        Table fam = families(
                new Object[]{"a_control", 0, 0.1, false}, new Object[]{"a_control", 1, 0.3, false},   // mean 0.2
                new Object[]{"b_control", 0, 0.4, false}, new Object[]{"b_control", 1, 0.45, false},  // mean 0.425
                new Object[]{"positive", 0, 0.2, true}, new Object[]{"positive", 1, 0.5, true});
        Map<String, Object> s = LogitLensStage.controlSummary(fam);
        assertThat(s).containsEntry("best_positive_layer", Map.of("layer", 1L, "family", "positive", "mean_expected_probability", 0.5));
        @SuppressWarnings("unchecked")
        Map<String, Object> hardest = (Map<String, Object>) s.get("hardest_control_family_by_expected_probability");
        assertThat(hardest.get("family")).isEqualTo("b_control");
        assertThat((Double) hardest.get("mean_expected_probability")).isCloseTo(0.425, within(1e-15));
        assertThat(s.get("positive_separates_from_controls_descriptively")).isEqualTo(true);
        assertThat(s.keySet()).containsExactly("best_positive_layer", "hardest_control_family_by_expected_probability",
                "positive_separates_from_controls_descriptively");
    }

    @Test
    void separationIsStrictAndTiesPickTheFirstRow() {
        Table equal = families(new Object[]{"c", 0, 0.5, false}, new Object[]{"p", 0, 0.5, true}, new Object[]{"p", 1, 0.5, true});
        Map<String, Object> s = LogitLensStage.controlSummary(equal);
        assertThat(s.get("positive_separates_from_controls_descriptively")).isEqualTo(false);
        assertThat(((Map<?, ?>) s.get("best_positive_layer")).get("layer")).isEqualTo(0L);
        Table above = families(new Object[]{"c", 0, 0.6, false}, new Object[]{"p", 0, 0.5, true});
        assertThat(LogitLensStage.controlSummary(above).get("positive_separates_from_controls_descriptively")).isEqualTo(false);
    }

    @Test
    void missingPositivesOrControlsLeaveTheComparisonNull() {
        Map<String, Object> noPositive = LogitLensStage.controlSummary(families(new Object[]{"c", 0, 0.5, false}));
        assertThat(noPositive.get("best_positive_layer")).isNull();
        assertThat(noPositive.get("hardest_control_family_by_expected_probability")).isNotNull();
        assertThat(noPositive.get("positive_separates_from_controls_descriptively")).isNull();
        Map<String, Object> noControl = LogitLensStage.controlSummary(families(new Object[]{"p", 3, 0.5, true}));
        assertThat(noControl.get("hardest_control_family_by_expected_probability")).isNull();
        assertThat(noControl.get("positive_separates_from_controls_descriptively")).isNull();
        Map<String, Object> empty = LogitLensStage.controlSummary(familyTable().build());
        assertThat(empty.values()).containsOnlyNulls();
    }

    @Test
    void familyTableIsSortedWithMeansMediansAndDistinctExamples() {
        TableBuilder b = Table.builder(LogitLensStage.BY_LAYER).string("example_id", "family").bool("should_show_induction_behavior")
                .int64("layer").float64("expected_logit", "expected_probability").int64("expected_rank");
        b.addRow("z1", "z", false, 1, 1.0, 0.1, 3);
        b.addRow("a1", "a", true, 1, 2.0, 0.2, 1);
        b.addRow("a2", "a", true, 1, 4.0, 0.4, 4);
        b.addRow("a1", "a", true, 0, 0.0, 0.3, 7);
        Table fam = LogitLensStage.byFamily(b.build()).build();
        assertThat(fam.rows().stream().map(r -> r.getString("family") + r.getLong("layer")).toList())
                .containsExactly("a0", "a1", "z1");
        Table.Row a1 = fam.row(1);
        assertThat(a1.getLong("n_examples")).isEqualTo(2);
        assertThat(a1.getDouble("mean_expected_logit")).isEqualTo(3.0);
        assertThat(a1.getDouble("mean_expected_probability")).isCloseTo(0.3, within(1e-15));
        assertThat(a1.getDouble("median_expected_rank")).isEqualTo(2.5);
        assertThat(a1.getBool("should_show_induction_behavior")).isTrue();
        assertThat(fam.row(2).getBool("should_show_induction_behavior")).isFalse();
    }

    @Test
    void bestLayerIsTheHighestMeanProbabilityFirstOnTies() {
        List<Map<String, Object>> layers = List.of(Map.of("layer", 0L, "mean_expected_probability", 0.2),
                Map.of("layer", 4L, "mean_expected_probability", 0.7), Map.of("layer", 7L, "mean_expected_probability", 0.7));
        assertThat(LogitLensStage.bestLayer(layers)).isEqualTo(4L);
        assertThat(LogitLensStage.bestLayer(List.of())).isNull();
    }
}
