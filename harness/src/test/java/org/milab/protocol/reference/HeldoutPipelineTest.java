package org.milab.protocol.reference;

import org.milab.stats.Stats;

import org.milab.run.PlantedRuns;
import org.milab.run.RunContext;

import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.milab.cli.Main;
import org.milab.prompts.PromptRecord;
import org.milab.tables.ArrowTables;
import org.milab.tables.RunDiff;
import org.milab.tables.Table;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The whole progression (S3-S19) on the planted model, at the reference's full counts, through the same
 * code `make run-all MODEL=planted-induction` runs: schemas, provenance, the planted truths the tables must
 * show, and `make diff` between seeds and of a run with itself.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class HeldoutPipelineTest {
    Path root;
    Path run;

    @BeforeAll
    void runPipeline() {
        run = PlantedRuns.fullRun(); // one shared run per test JVM (the table-reader tests read it too)
        root = PlantedRuns.root();
    }

    private Table table(String rel) {
        return ArrowTables.read(run.resolve(rel + ArrowTables.EXTENSION));
    }

    /** The answer first: the summary's first 10 lines say what the protocol kept and how that compares with the planted truth. */
    @Test
    void summaryOpensWithTheVerdictGradedAgainstTheGroundTruth() throws Exception {
        List<String> lines = Files.readAllLines(run.resolve("summary.md"));
        String first10 = String.join("\n", lines.subList(0, 10));
        assertThat(lines.get(0)).isEqualTo("# Verdict: run ci on `planted-induction`");
        assertThat(first10).contains("- **reference protocol (S3-S19)** kept no head.")
                .contains("  - vs ground truth: precision n/a (no head kept), recall 0/1; missed L1H2 (induction), lost at S12 `nonspecific`: positives ")
                .contains("L1H0 (duplicate_token_null_ov): S6/S8")
                .contains("Figures: [report.html](report.html)");
        assertThat(run.resolve("report.html")).isRegularFile();
    }

    @Test
    void runIsCompleteWithManifestSummaryAndProvenanceOnEveryTable() throws Exception {
        assertThat(run).isDirectory();
        assertThat(root.resolve("results/ci" + RunContext.INCOMPLETE)).doesNotExist();
        assertThat(run.resolve("run_manifest.json")).isRegularFile();
        assertThat(Files.readString(run.resolve("summary.md"))).contains("S14 consolidated");
        Map<?, ?> manifest = RunContext.JSON.readValue(run.resolve("run_manifest.json").toFile(), Map.class);
        assertThat(((Map<?, ?>) manifest.get("hashes")).get("heldout_candidate_set")).isNotNull();
        assertThat(((Map<?, ?>) manifest.get("model")).get("checkpoint_sha256").toString()).hasSize(64);
        try (var files = Files.walk(run)) {
            List<Path> arrows = files.filter(f -> f.toString().endsWith(ArrowTables.EXTENSION)).toList();
            assertThat(arrows).hasSizeGreaterThan(40);
            for (Path f : arrows) {
                Table t = ArrowTables.read(f);
                assertThat(t.keys()).as("keys of %s", f).isNotEmpty();
                assertThat(t.provenance()).as("provenance of %s", f).containsKeys("checkpoint_sha256", "graph_sha256",
                        "code_git_commit", "onnxruntime_version", "execution_provider", "seed", "run_id");
            }
        }
    }

    @Test
    void tablesHaveTheReferenceColumnsInOrder() {
        assertThat(table("controls/seed0/prompts").columnNames()).isEqualTo(PromptRecord.COLUMNS);
        assertThat(table("controls/seed0/baseline_by_example").columnNames()).containsExactly("example_id", "task",
                "family", "control_family", "is_positive_induction_example", "should_show_induction_behavior", "prompt",
                "expected_next_token", "expected_token_id", "expected_logit", "expected_probability", "expected_rank",
                "control_prompt", "control_expected_logit", "control_expected_probability", "control_expected_rank",
                "logit_diff_vs_control", "probability_diff_vs_control");
        // the reference's columns, except run_id (run identity is provenance) and plus head_id beside layer/head
        assertThat(table("head_sweep/seed1/head_specific_patching_results").columnNames()).containsExactly(
                "seed", "example_id", "family", "control_family", "should_show_induction_behavior", "layer", "head",
                "head_id", "hook_name", "head_specific_patch", "actual_patch_scope", "intervention", "intervention_status",
                "position_label", "position_status", "patch_position", "mean_ablation_source_n_examples", "clean_prompt",
                "corrupt_prompt", "true_expected_next_token", "wrong_or_control_token", "metric", "clean_score",
                "corrupt_score", "patched_score", "effect_size", "effect_size_status");
        assertThat(table("heldout/seed10/heldout_robustness_results").columnNames()).containsExactly("seed",
                "candidate_id", "candidate_group", "layer", "head", "head_id", "family", "example_id", "heldout_family_type",
                "intervention", "intervention_status", "position_label", "position_status", "head_specific_patch",
                "actual_patch_scope", "metric", "clean_score", "corrupt_score", "patched_score", "effect_size",
                "effect_size_status", "true_expected_next_token", "wrong_or_control_token", "clean_prompt", "corrupt_prompt");
        assertThat(table("heldout/seed11/heldout_robustness_by_candidate").columnNames()).containsExactly("seed",
                "candidate_id", "candidate_group", "layer", "head", "head_id", "intervention", "position_label",
                "head_specific_patch", "actual_patch_scope", "metric", "n_families", "n_examples",
                "positive_family_mean_effect", "max_control_family_mean_effect", "positive_minus_control_gap",
                "n_positive_families_with_gap_gt_0", "n_control_families_moving", "survival_status");
        assertThat(table("heldout_multiseed/heldout_multiseed_by_candidate").columnNames()).containsExactly(
                "candidate_id", "candidate_group", "layer", "head", "head_id", "n_seeds", "seeds_present", "n_survived_seeds",
                "n_downgraded_seeds", "n_falsified_seeds", "mean_positive_minus_control_gap",
                "min_positive_minus_control_gap", "families_survived_count", "interventions_survived",
                "positions_survived", "heldout_replication_status");
        // the reference's structural facts (spec S14): wrong-target rows never have a defined effect
        Table res = table("heldout/seed12/heldout_robustness_results");
        assertThat(res.rows().stream().filter(r -> r.getString("family").equals("heldout_wrong_target_same_prompt"))
                .allMatch(r -> r.getDouble("effect_size") == null)).isTrue();
    }

    @Test
    void plantedInductionHeadHasAPositiveCleanToCorruptEffectAtFinal() {
        Table res = table("head_sweep/seed0/head_specific_patching_results");
        List<Double> effects = res.rows().stream().filter(r -> r.getLong("layer") == 1 && r.getLong("head") == 2
                        && r.getString("family").equals("positive_repeat_sequence") && r.getDouble("effect_size") != null)
                .map(r -> r.getDouble("effect_size")).toList();
        assertThat(effects).hasSize(8);
        assertThat(Stats.mean(effects)).isGreaterThan(0.8);
    }

    @Test
    void nullOvDecoyHasHighRawAttentionButNoEffect() {
        Table att = table("controls/seed0/attention_by_family");
        double attention = att.rows().stream().filter(r -> r.getLong("layer") == 1 && r.getLong("head") == 0
                && r.getString("family").equals("positive_repeat_sequence"))
                .mapToDouble(r -> r.getDouble("mean_attention_to_previous_occurrence")).findFirst().orElseThrow();
        assertThat(attention).isGreaterThan(0.5);
        Table res = table("head_sweep/seed0/head_specific_patching_results");
        List<Double> effects = res.rows().stream().filter(r -> r.getLong("layer") == 1 && r.getLong("head") == 0
                        && r.getString("family").equals("positive_repeat_sequence") && r.getDouble("effect_size") != null)
                .map(r -> Math.abs(r.getDouble("effect_size"))).toList();
        assertThat(effects).isNotEmpty();
        assertThat(effects.stream().mapToDouble(Double::doubleValue).max().orElseThrow()).isLessThan(0.05);
    }

    @Test
    void diffOfTwoSeedsReportsDifferencesAndOfARunWithItselfNone() {
        RunDiff.Result seeds = RunDiff.diff(run.resolve("heldout/seed10"), run.resolve("heldout/seed11"));
        assertThat(seeds.identical()).isFalse();
        assertThat(seeds.changes().rowCount()).isGreaterThan(100);
        assertThat(RunDiff.diff(run, run).identical()).isTrue();
        StringWriter err = new StringWriter();
        assertThat(Main.run(new PrintWriter(err, true), "diff", run.resolve("heldout/seed10").toString(),
                run.resolve("heldout/seed11").toString(), "--out", root.resolve("diff-out").toString())).isZero();
        assertThat(root.resolve("diff-out/diff.arrow")).isRegularFile();
    }

    @Test
    void laterStagesWriteTheirVerdictTables() {
        Table chars = table("characterization_multiseed/candidate_characterization_multiseed_by_candidate");
        Table cands = table("heldout_candidates/heldout_candidate_set");
        assertThat(chars.rowCount()).isEqualTo(cands.rowCount());
        assertThat(chars.strings("final_characterization_status")).allMatch(st -> List.of("falsified_candidate",
                "downgraded_candidate", "strengthened_local_candidate", "insufficient_characterization_data").contains(st));
        Table byHead = table("failure_taxonomy/failure_taxonomy_by_head");
        assertThat(byHead.columnNames()).startsWith("head_label", "layer", "head", "head_id", "candidate_id", "candidate_group", "final_status",
                "mean_gap", "mean_attention_effect_corr", "control_moved", "target_swap_leak", "reversed_control_leak",
                "domain_flip", "length_flip", "intervention_disagreement", "position_mismatch",
                "attention_effect_decoupled", "ov_qk_local_only", "negative_control_support");
        Table calib = table("calibration/metric_calibration_by_example");
        assertThat(calib.rowCount()).isEqualTo(72);
        assertThat(calib.strings("validation_status")).containsOnly("ok");
        assertThat(calib.columnNames()).hasSize(25);
    }
}
