package org.milab.protocol.reference;

import org.milab.stage.RunConfig;
import org.milab.run.RunContext;

import org.milab.graph.Head;

import com.fasterxml.jackson.databind.JsonNode;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.milab.lab.LabFixtures;
import org.milab.lab.LabModel;
import org.milab.tables.Table;
import org.milab.tables.TableBuilder;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

/** S12: the replication cascade and aggregation on hand-made rows, then one run over written seed tables. */
class SweepConsolidationStageTest {
    static final Head H = new Head(7, 7);
    static final String POS = "head_specific_positive_candidate", NONSPEC = "nonspecific_moves_controls",
            NOEFF = "no_positive_effect", DENOM = "denominator_problem";

    static SweepConsolidationStage.SeedRow row(int seed, String status, Double gap) {
        return new SweepConsolidationStage.SeedRow(seed, H, true, 0.1, 0.05, gap, status, false, false);
    }

    static String status(SweepConsolidationStage.SeedRow... rows) {
        return SweepConsolidationStage.replicationStatus(List.of(rows));
    }

    @Test
    void replicationCascadeEveryBranch() {
        var notHeadSpecific = new SweepConsolidationStage.SeedRow(1, H, false, 0.1, 0.0, 0.1, POS, false, false);
        assertThat(status(row(0, POS, 0.1), notHeadSpecific, row(2, POS, 0.1))).isEqualTo("not_head_specific");
        assertThat(status(row(0, POS, 0.1))).isEqualTo("insufficient_seeds");
        assertThat(status(row(0, POS, 0.1), row(0, POS, 0.2))).as("two rows, one seed").isEqualTo("insufficient_seeds");
        assertThat(status(row(0, POS, 0.1), row(1, POS, 0.05), row(2, NOEFF, -0.3))).isEqualTo("replicated_head_specific_candidate");
        assertThat(status(row(0, POS, 0.1), row(1, POS, 0.05), row(2, NONSPEC, -0.3))).as("a nonspecific seed blocks replication")
                .isEqualTo("nonspecific");
        assertThat(status(row(0, POS, 0.1), row(1, POS, 0.0))).as("min gap must be > 0").isEqualTo("not_replicated");
        assertThat(status(row(0, POS, null), row(1, POS, null))).as("all-NaN gaps").isEqualTo("not_replicated");
        assertThat(status(row(0, POS, 0.1), row(1, NONSPEC, 0.0))).isEqualTo("nonspecific");
        assertThat(status(row(0, NOEFF, -0.1), row(1, POS, 0.1))).as("(2+1)//2 = 1 no-effect seed suffices").isEqualTo("no_effect");
        assertThat(status(row(0, NOEFF, -0.1), row(1, POS, 0.1), row(2, DENOM, null))).as("(3+1)//2 = 2 needed")
                .isEqualTo("not_replicated");
        assertThat(status(row(0, NOEFF, -0.1), row(1, NOEFF, 0.1), row(2, POS, 0.2))).isEqualTo("no_effect");
        assertThat(status(row(0, DENOM, null), row(1, DENOM, null))).isEqualTo("not_replicated");
    }

    @Test
    void minimumGapComesFromPositiveSeedsWhenThereAreAny() {
        assertThat(SweepConsolidationStage.minRelevantGap(List.of(row(0, POS, 0.3), row(1, NOEFF, -0.5), row(2, POS, 0.1))))
                .isEqualTo(0.1);
        assertThat(SweepConsolidationStage.minRelevantGap(List.of(row(0, NONSPEC, 0.3), row(1, NOEFF, -0.5), row(2, NOEFF, null))))
                .isEqualTo(-0.5);
        assertThat(SweepConsolidationStage.minRelevantGap(List.of(row(0, POS, null), row(1, NOEFF, -0.5)))).isNull();
        assertThat(SweepConsolidationStage.minRelevantGap(List.of(row(0, DENOM, null)))).isNull();
    }

    @Test
    void consolidationAggregatesPerHeadAndSortsByMeanGap() {
        List<SweepConsolidationStage.SeedRow> rows = new ArrayList<>();
        Head a = new Head(0, 1), b = new Head(7, 7), c = new Head(2, 3), d = new Head(1, 0);
        for (int s = 0; s < 3; s++) {
            rows.add(new SweepConsolidationStage.SeedRow(s, a, true, 0.1 * s, 0.2, -0.1 * s, NOEFF, s == 1, false));
            rows.add(new SweepConsolidationStage.SeedRow(s, b, true, 0.2, 0.1, 0.05 + 0.01 * s, POS, false, s == 0));
            rows.add(new SweepConsolidationStage.SeedRow(s, d, true, null, null, null, DENOM, false, false));
        }
        rows.add(new SweepConsolidationStage.SeedRow(1, c, true, 0.3, 0.2, 0.1, POS, false, false)); // one seed only
        Table t = SweepConsolidationStage.consolidate(rows).build();
        assertThat(t.columnNames()).containsExactly("layer", "head", "head_id", "n_seeds", "seeds_present", "mean_positive_effect",
                "mean_max_control_effect", "mean_positive_minus_control_gap", "min_positive_minus_control_gap",
                "n_positive_specific_seeds", "n_nonspecific_seeds", "n_no_effect_seeds", "replication_status",
                "raw_attention_candidate_in_any_seed", "random_comparison_candidate_in_any_seed");
        // mean gaps: L2H3 0.1, L7H7 0.06, L0H1 -0.1, L1H0 missing (last)
        assertThat(t.rows().stream().map(r -> "L" + r.getLong("layer") + "H" + r.getLong("head")).toList())
                .containsExactly("L2H3", "L7H7", "L0H1", "L1H0");
        Table.Row r7 = t.row(1);
        assertThat(r7.getLong("n_seeds")).isEqualTo(3);
        assertThat(r7.getLongs("seeds_present")).containsExactly(0L, 1L, 2L); // a list column, not "0,1,2"
        assertThat(r7.getString("head_id")).isEqualTo("L7H7");
        assertThat(r7.getDouble("mean_positive_minus_control_gap")).isCloseTo(0.06, within(1e-12));
        assertThat(r7.getDouble("min_positive_minus_control_gap")).isCloseTo(0.05, within(1e-12));
        assertThat(r7.getLong("n_positive_specific_seeds")).isEqualTo(3);
        assertThat(r7.getString("replication_status")).isEqualTo("replicated_head_specific_candidate");
        assertThat(r7.getBool("random_comparison_candidate_in_any_seed")).isTrue();
        assertThat(r7.getBool("raw_attention_candidate_in_any_seed")).isFalse();
        Table.Row r0 = t.row(2);
        assertThat(r0.getDouble("mean_positive_effect")).isCloseTo(0.1, within(1e-12));
        assertThat(r0.getLong("n_no_effect_seeds")).isEqualTo(3);
        assertThat(r0.getString("replication_status")).isEqualTo("no_effect");
        assertThat(r0.getBool("raw_attention_candidate_in_any_seed")).isTrue();
        assertThat(t.row(0).getString("replication_status")).isEqualTo("insufficient_seeds");
        assertThat(t.row(3).getDouble("mean_positive_minus_control_gap")).isNull();
        assertThat(t.row(3).getString("replication_status")).isEqualTo("not_replicated");
    }

    @Test
    void flagsComeFromCandidatesElseFromTheAttentionSummary() throws Exception {
        TableBuilder b = candidates();
        b.addRow("cand_000", "top_raw_positive_attention", 0L, 1L, "attn_out");
        b.addRow("cand_001", "top_control_firing_attention", 0L, 2L, "attn_out");
        b.addRow("cand_002", "random_comparison", 7L, 7L, "attn_out");
        b.addRow("cand_003", "random_comparison", 4L, null, "attn_out"); // no head: skipped
        JsonNode summary = RunContext.JSON.readTree(attentionSummary());
        var f = SweepConsolidationStage.flags(b.build(), summary);
        assertThat(f.rawAttention()).containsExactly(new Head(0, 1));
        assertThat(f.randomComparison()).containsExactly(new Head(7, 7));

        TableBuilder noRaw = candidates();
        noRaw.addRow("cand_000", "random_comparison", 1L, 1L, "attn_out");
        var g = SweepConsolidationStage.flags(noRaw.build(), summary);
        assertThat(g.rawAttention()).as("top 5 of the summary").containsExactly(new Head(0, 1), new Head(0, 5), new Head(0, 10),
                new Head(11, 8), new Head(0, 4));
        assertThat(g.randomComparison()).containsExactly(new Head(1, 1));
        assertThat(SweepConsolidationStage.flags(null, summary).rawAttention()).hasSize(5);
        assertThat(SweepConsolidationStage.flags(null, null).rawAttention()).isEmpty();
    }

    static TableBuilder candidates() {
        return Table.builder(LayerPatchingStage.CANDIDATES).keys("candidate_id")
                .string("candidate_id", "source").int64("layer", "head").string("component");
    }

    static String attentionSummary() {
        return "{\"top_heads_on_positive_examples\": [{\"layer\": 0, \"head\": 1, \"mean\": 0.54}, {\"layer\": 0, \"head\": 5},"
                + "{\"layer\": 0, \"head\": 10}, {\"layer\": 11, \"head\": 8}, {\"layer\": 0, \"head\": 4}, {\"layer\": 3, \"head\": 3}]}";
    }

    /** A head_specific_patching_by_head table as S11 writes it (spec columns). */
    static TableBuilder byHead(int seed, Object[]... rows) {
        TableBuilder b = Table.builder(SweepConsolidationStage.SWEEP_BY_HEAD).keys("layer", "head")
                .int64("seed", "layer", "head").string("hook_name").bool("head_specific_patch")
                .string("actual_patch_scope", "intervention", "intervention_status", "metric", "position_label")
                .float64("positive_mean_effect_size", "max_control_mean_effect_size", "positive_minus_control_effect_gap")
                .string("hardest_control_family").int64("n_positive_examples", "n_control_examples").string("specificity_status");
        for (Object[] r : rows)
            b.addRow(seed, r[0], r[1], "blocks." + r[0] + ".attn.hook_z", true, "single_head_z", "head_clean_to_corrupt_patch", "ok",
                    HeadPatching.METRIC, "final", r[2], 0.0, r[3], "same_token_frequency_control", 8, 24, r[4]);
        return b;
    }

    @Test
    void runConsolidatesTheSeedTablesWithTheirFlags(@TempDir Path root) throws Exception {
        try (LabModel model = LabFixtures.randomWordModel(root, "words", 3)) {
            RunContext ctx = new RunContext(root, RunConfig.reference("words", "s12"), model);
            ctx.write(SweepConsolidationStage.SWEEP_DIR, 0, byHead(0, new Object[]{0, 1, 0.2, 0.1, POS},
                    new Object[]{1, 2, -0.1, -0.2, NOEFF}));
            ctx.write(SweepConsolidationStage.SWEEP_DIR, 1, byHead(1, new Object[]{0, 1, 0.3, 0.05, POS},
                    new Object[]{1, 2, 0.1, -0.4, NONSPEC}));
            TableBuilder c0 = candidates();
            c0.addRow("cand_000", "random_comparison", 0L, 1L, "attn_out");
            ctx.write(LayerPatchingStage.DIR, 0, c0);
            Files.createDirectories(ctx.dir("controls", 1));
            Files.writeString(ctx.dir("controls", 1).resolve("attention_summary.json"),
                    "{\"top_heads_on_positive_examples\": [{\"layer\": 1, \"head\": 2}]}");
            Table t = new SweepConsolidationStage().run(ctx, List.of(0, 1));
            assertThat(ctx.read(SweepConsolidationStage.DIR, null, SweepConsolidationStage.TABLE).rowCount()).isEqualTo(2);
            Table.Row first = t.row(0);
            assertThat(first.getLong("layer")).isEqualTo(0);
            assertThat(first.getString("replication_status")).isEqualTo("replicated_head_specific_candidate");
            assertThat(first.getDouble("mean_positive_minus_control_gap")).isCloseTo(0.075, within(1e-12));
            assertThat(first.getBool("random_comparison_candidate_in_any_seed")).isTrue();
            Table.Row second = t.row(1);
            assertThat(second.getString("replication_status")).isEqualTo("nonspecific");
            assertThat(second.getBool("raw_attention_candidate_in_any_seed")).as("seed 1 falls back to attention_summary.json").isTrue();
            Map<?, ?> summary = RunContext.JSON.readValue(ctx.dir(SweepConsolidationStage.DIR, null)
                    .resolve("head_specific_multiseed_summary.json").toFile(), Map.class);
            assertThat(summary.get("n_replicated_candidates")).isEqualTo(1);
            assertThat(summary.get("seeds")).isEqualTo(List.of(0, 1));
            assertThat(Files.readString(ctx.dir(SweepConsolidationStage.DIR, null).resolve("head_specific_multiseed.md")))
                    .contains("| L0H1 | 0,1 | 0.0750 | 0.0500 | 2 / 0 / 0 | replicated_head_specific_candidate | random-comparison |");
        }
    }
}
