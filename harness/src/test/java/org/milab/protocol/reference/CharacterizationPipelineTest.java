package org.milab.protocol.reference;

import org.milab.run.Pipeline;
import org.milab.stage.RunConfig;
import org.milab.run.RunContext;

import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.io.TempDir;
import org.milab.catalog.ModelExports;
import org.milab.catalog.ModelLayout;
import org.milab.lab.LabModel;
import org.milab.planted.PlantedInductionModel;
import org.milab.planted.PlantedSpec;
import org.milab.runtime.Device;
import org.milab.tables.ArrowTables;
import org.milab.tables.Table;

import java.nio.file.Path;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

/** S16/S17 on the planted model after the held-out chain (full counts), seeds 20-22, plus a repeat of seed 20. */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class CharacterizationPipelineTest {
    Path run;
    Table first, repeat, firstResults, repeatResults;

    @BeforeAll
    void runPipeline(@TempDir Path root) {
        ModelExports.exportPlanted(new ModelLayout(root, PlantedInductionModel.MODEL_ID), PlantedSpec.defaults());
        try (LabModel m = LabModel.open(root, PlantedInductionModel.MODEL_ID, Device.CPU, 0)) {
            RunContext ctx = new RunContext(root, RunConfig.reference(PlantedInductionModel.MODEL_ID, "ci"), m);
            Pipeline p = new Pipeline(ctx);
            p.heldout();
            List<Integer> seeds = List.of(20, 21, 22);
            for (int s : seeds) new CharacterizationStage().run(ctx, s);
            first = ctx.read(CharacterizationStage.DIR, 20, CharacterizationStage.BY_CANDIDATE);
            firstResults = ctx.read(CharacterizationStage.DIR, 20, CharacterizationStage.RESULTS);
            new CharacterizationConsolidationStage().run(ctx, seeds);
            new CharacterizationCounterexampleStage().run(ctx, seeds);
            new CharacterizationStage().run(ctx, 20); // same seed again: identical tables
            repeat = ctx.read(CharacterizationStage.DIR, 20, CharacterizationStage.BY_CANDIDATE);
            repeatResults = ctx.read(CharacterizationStage.DIR, 20, CharacterizationStage.RESULTS);
            p.finish("test");
            run = ctx.finalDir();
        }
    }

    private Table table(String rel) {
        return ArrowTables.read(run.resolve(rel + ArrowTables.EXTENSION));
    }

    @Test
    void matrixHasTheSpecShape() {
        Table res = table("characterization/seed20/candidate_characterization_results");
        int nCand = table("heldout_candidates/heldout_candidate_set").rowCount();
        assertThat(res.rowCount()).isEqualTo(nCand * 36 * 3 * 2);
        assertThat(res.columnNames()).isEqualTo(table("heldout/seed10/heldout_robustness_results").columnNames());
        // controls are unavailable at previous_occurrence; controls pair with char_symbolic_short_<i>
        assertThat(res.filter(r -> "control".equals(r.getString("heldout_family_type"))
                && "previous_occurrence".equals(r.getString("position_label"))).strings("effect_size_status"))
                .containsOnly("position_unavailable");
        assertThat(table("characterization/seed20/candidate_characterization_by_candidate").columnNames()).containsExactly(
                "seed", "candidate_id", "candidate_group", "layer", "head", "head_id", "mean_true_vs_control_effect", "max_control_effect",
                "positive_minus_control_gap", "spearman_attention_effect_corr", "mean_source_attention_margin",
                "position_specificity_status", "ov_copy_margin", "ov_status", "qk_source_margin", "qk_status",
                "characterization_seed_status");
        assertThat(table("characterization_multiseed/candidate_characterization_multiseed_by_candidate").rowCount()).isEqualTo(nCand);
        assertThat(table("characterization_multiseed/candidate_characterization_multiseed_by_axis").rowCount()).isEqualTo(nCand * 5);
    }

    @Test
    void sameSeedTwiceGivesIdenticalTables() {
        assertThat(repeat.rows().stream().map(Table.Row::toMap).toList())
                .isEqualTo(first.rows().stream().map(Table.Row::toMap).toList());
        assertThat(repeatResults.rows().stream().map(Table.Row::toMap).toList())
                .isEqualTo(firstResults.rows().stream().map(Table.Row::toMap).toList());
    }

    @Test
    void printsWhatTheProtocolConcludes() {
        Table ms = table("characterization_multiseed/candidate_characterization_multiseed_by_candidate");
        for (Table.Row r : ms.rows())
            System.out.printf("CHAR L%dH%d %s %s gap=%s corr=%s ov=%s qk=%s pos=%s ovs=%s qks=%s seeds(s/d/f)=%d/%d/%d%n",
                    r.getLong("layer"), r.getLong("head"), r.getString("candidate_group"), r.getString("final_characterization_status"),
                    r.getDouble("mean_positive_minus_control_gap"), r.getDouble("mean_attention_effect_corr"),
                    r.getDouble("mean_ov_copy_margin"), r.getDouble("mean_qk_source_margin"), r.getStrings("position_statuses"),
                    r.getStrings("ov_statuses"), r.getStrings("qk_statuses"), r.getLong("n_support_seeds"),
                    r.getLong("n_downgrade_seeds"), r.getLong("n_falsify_seeds"));
        assertThat(ms.strings("final_characterization_status")).allMatch(s -> List.of("strengthened_local_candidate",
                "downgraded_candidate", "falsified_candidate", "insufficient_characterization_data").contains(s));
        assertThat(run.resolve("characterization_multiseed/head_specific_candidate_characterization_v1.md")).isRegularFile();
    }

    @Test
    void counterexamplesPerPrimaryHead() {
        for (HeldoutCandidateStage.Candidate c : HeldoutCandidateStage.fromTable(table("heldout_candidates/heldout_candidate_set"))) {
            if (!CharacterizationConsolidationStage.isPrimary(c.group())) continue;
            Table t = table("characterization_counterexamples/counterexamples_" + c.head().label());
            List<String> expected = new java.util.ArrayList<>(CharacterizationCounterexampleStage.COLUMNS);
            expected.add(expected.indexOf("head") + 1, "head_id"); // the reference's columns plus head_id
            assertThat(t.columnNames()).isEqualTo(expected);
            assertThat(t.strings("head_id")).containsOnly(c.head().label());
            assertThat(t.strings("candidate_id")).containsOnly(c.candidateId());
            assertThat(t.filter(r -> "strongest_positive_success".equals(r.getString("counterexample_type"))).rowCount()).isEqualTo(8);
        }
    }
}
