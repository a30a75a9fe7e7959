package org.milab.protocol.reference;

import org.milab.stage.RunConfig;
import org.milab.run.RunContext;

import org.milab.graph.Head;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.io.TempDir;
import org.milab.lab.LabFixtures;
import org.milab.lab.LabModel;
import org.milab.tables.Table;
import org.milab.tables.TableBuilder;
import org.milab.util.UserError;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.milab.protocol.reference.HeldoutCounterexampleStage.*;

/** S15: bucketing, ordering and dedupe on hand-made rows; the report; one run over written seed tables. */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class HeldoutCounterexampleStageTest {
    static final String SYM = "heldout_symbolic_longer", WORD = "heldout_word_sequences", NOSTRUCT = "heldout_no_structure_same_tokens",
            WRONG = "heldout_wrong_target_same_prompt", CLEAN = "head_clean_to_corrupt_patch", ZERO = "head_zero_ablation";

    Path root;
    LabModel model;

    @BeforeAll
    void setUp(@TempDir Path root) {
        this.root = root;
        model = LabFixtures.randomWordModel(root, "words", 7);
    }

    @AfterAll
    void close() {
        model.close();
    }

    @Test
    void bucketEveryBranch() {
        assertThat(bucket(null, SYM, "positive")).isEqualTo(INVALID);
        assertThat(bucket(Double.NaN, WRONG, "control")).isEqualTo(INVALID);
        assertThat(bucket(0.1, WRONG, "control")).isEqualTo(WRONG_TARGET);
        assertThat(bucket(0.0, WRONG, "control")).as("wrong target at 0 is a control that did not move").isEqualTo(OTHER);
        assertThat(bucket(-0.3, WRONG, "control")).isEqualTo(OTHER);
        assertThat(bucket(0.3, NOSTRUCT, "control")).isEqualTo(CONTROLS_MOVED);
        assertThat(bucket(0.0, NOSTRUCT, "control")).isEqualTo(OTHER);
        assertThat(bucket(0.4, SYM, "positive")).isEqualTo(SUCCESS);
        assertThat(bucket(0.0, SYM, "positive")).isEqualTo(FAILURE);
        assertThat(bucket(-0.2, WORD, "positive")).isEqualTo(FAILURE);
        assertThat(bucket(0.5, "some_family", "")).isEqualTo(OTHER);
    }

    /** heldout_robustness_results with the spec's S14 columns. */
    static TableBuilder results() {
        return Table.builder(RESULTS).keys("candidate_id", "example_id", "intervention", "position_label")
                .int64("seed").string("candidate_id", "candidate_group").int64("layer", "head")
                .string("family", "example_id", "heldout_family_type", "intervention", "intervention_status", "position_label",
                        "position_status").bool("head_specific_patch").string("actual_patch_scope", "metric")
                .float64("clean_score", "corrupt_score", "patched_score", "effect_size")
                .string("effect_size_status", "true_expected_next_token", "wrong_or_control_token", "clean_prompt", "corrupt_prompt");
    }

    static void add(TableBuilder b, int seed, Head h, String family, int i, String intervention, String position, Double effect) {
        String type = family.equals(SYM) || family.equals(WORD) ? "positive" : "control";
        b.addRow(seed, "cand_" + h.label(), "g", h.layer(), h.head(), family, family + "_" + String.format("%04d", i), type,
                intervention, "ok", position, "ok", true, "single_head_z", HeadPatching.METRIC, 1.0, 0.5, 0.5 + (effect == null ? 0 : effect) / 2,
                effect, effect == null ? "denominator_zero" : "ok", " M", " N", "N O P M N O", "N P O M P N");
    }

    static final Head H = new Head(1, 2);

    /** 15 successes, 14 failures, 3 moving controls, 2 wrong-target failures, invalid and other rows, one exact duplicate. */
    static Table seedTable(int seed, double shift) {
        TableBuilder b = results();
        for (int i = 0; i < 15; i++) add(b, seed, H, SYM, i, CLEAN, "final", 0.1 * (i + 1) + shift);
        for (int i = 0; i < 14; i++) add(b, seed, H, WORD, i, ZERO, "final", -0.1 * i + shift);
        for (int i = 0; i < 3; i++) add(b, seed, H, NOSTRUCT, i, CLEAN, "final", 0.2 * (i + 1));
        for (int i = 0; i < 2; i++) add(b, seed, H, WRONG, i, CLEAN, "final", 0.05 * (i + 1));
        add(b, seed, H, WRONG, 5, ZERO, "final", null);
        add(b, seed, H, NOSTRUCT, 5, ZERO, "previous_occurrence", null);
        add(b, seed, H, NOSTRUCT, 6, ZERO, "final", -0.5);
        return b.build();
    }

    @Test
    void selectionKeepsTheStrongestTwelvePerBucketInTheReferenceOrder() {
        TableBuilder dup = results();
        dup.addRow(seedTable(10, 0.0).row(14).toMap()); // an exact copy of seed 10's strongest success
        Table all = withBuckets(List.of(seedTable(10, 0.0), dup.build(), seedTable(11, 0.0)), List.of("heldout/seed10", "heldout/seed10", "heldout/seed11"));
        Table sel = select(all, "counterexamples_L1H2").build();
        List<String> buckets = sel.strings("inspection_bucket");
        // the top 12 are taken first and deduplicated afterwards (as the reference does), so the copy costs a slot
        assertThat(buckets.subList(0, 11)).containsOnly(SUCCESS);
        assertThat(buckets.subList(11, 23)).containsOnly(FAILURE);
        assertThat(buckets.subList(23, 29)).containsOnly(CONTROLS_MOVED);
        assertThat(buckets.subList(29, 33)).containsOnly(WRONG_TARGET);
        assertThat(sel.rowCount()).isEqualTo(33);
        // successes: 1.5 (seed 10, its copy dropped), 1.5 (seed 11), 1.4, 1.4, ... ties keep seed order
        List<String> success = sel.rows().subList(0, 11).stream()
                .map(r -> r.getLong("seed") + ":" + String.format("%.1f", r.getDouble("effect_size"))).toList();
        assertThat(success).containsExactly("10:1.5", "11:1.5", "10:1.4", "11:1.4", "10:1.3", "11:1.3", "10:1.2", "11:1.2",
                "10:1.1", "11:1.1", "10:1.0");
        assertThat(sel.row(0).getString("source_run")).isEqualTo("heldout/seed10");
        // failures ascending: -1.3 first; 0.0 counts as a failure but is not among the 12 weakest
        List<Double> failures = sel.doubles("effect_size").subList(11, 23);
        assertThat(failures.get(0)).isCloseTo(-1.3, org.assertj.core.api.Assertions.within(1e-12));
        assertThat(failures).isSortedAccordingTo(Double::compare);
        assertThat(sel.doubles("effect_size").subList(23, 29)).isSortedAccordingTo((a, b) -> Double.compare(b, a));
        assertThat(sel.strings("family").subList(29, 33)).containsOnly(WRONG);
        assertThat(sel.columnNames().subList(sel.columnNames().size() - 2, sel.columnNames().size()))
                .containsExactly("source_run", "inspection_bucket");
        List<String> resultColumns = results().build().columnNames(); // the reference's 24 plus head_id
        assertThat(resultColumns).hasSize(25).contains("head_id");
        assertThat(sel.columnNames().subList(0, resultColumns.size())).isEqualTo(resultColumns);
    }

    @Test
    void theReportSaysWhereTheResultBroke() {
        Table all = withBuckets(List.of(seedTable(10, 0.0)), List.of("heldout/seed10"));
        HeldoutCandidateStage.Candidate c = new HeldoutCandidateStage.Candidate("heldout_cand_000", H, "replicated_candidate", "r",
                0.1, "x", false, false, true);
        String md = markdown(c, all, List.of(10));
        assertThat(md).startsWith("# Held-Out Counterexamples: L1H2\n")
                .contains("## Where the result broke", "## Strongest successes", "## Strongest failures", "## Controls that moved",
                        "## Prompt constructions that broke it", "## Intervention/position sensitivity", "## Wrong-target failures",
                        "Do not claim induction-head discovery")
                .contains("no reference counterpart")
                .contains("- strongest_positive_failure: seed 10, `heldout_word_sequences` (positive) `heldout_word_sequences_0013`, "
                        + "`head_zero_ablation` at `final`: effect -1.3 (clean 1, corrupt 0.5, patched -0.15, raw delta -0.65); "
                        + "clean `N O P M N O` -> corrupt `N P O M P N`, tokens ` M` vs ` N`")
                .contains("- controls_that_moved: seed 10, `heldout_no_structure_same_tokens` (control)")
                .contains("- wrong_target_failure: seed 10, `heldout_wrong_target_same_prompt` (control)")
                // family means: word -0.65 (positive <= 0) and no-structure (0.2+0.4+0.6-0.5)/4 = 0.175 (control > 0)
                .contains("- heldout_word_sequences: positive-family mean effect `-0.6500` over 14 valid rows.")
                .contains("- heldout_no_structure_same_tokens: control-family mean effect `0.1750` over 4 valid rows.")
                .doesNotContain("- heldout_symbolic_longer:")
                .contains("- head_zero_ablation at previous_occurrence: mean effect `nan`, valid rows `0`, controls moved `0`.")
                .contains("Inspection buckets: `{'strongest_positive_success': 15, 'strongest_positive_failure': 14, "
                        + "'controls_that_moved': 3, 'wrong_target_failure': 2, 'invalid_or_unavailable': 2, 'other': 1}`")
                // scores and the raw delta beside the normalized effect: clean 1, corrupt 0.5, patched 0.5 + 1.5 / 2
                .contains("| 10 | heldout_symbolic_longer | heldout_symbolic_longer_0014 | head_clean_to_corrupt_patch | final |  M |  N "
                        + "| N O P M N O | N P O M P N | 1 | 0.5 | 1.25 | 0.75 | 0.5 | 1.5 |")
                .contains("## Unstable rows (|clean - corrupt| < 0.5)\n\nNone.");
        assertThat(markdown(new HeldoutCandidateStage.Candidate("c", new Head(7, 7), "g", "r", null, "", false, false, true),
                all, List.of(10))).contains("The reference lab wrote this report too");
    }

    /** A tiny denominator makes a huge "effect": such rows are listed apart, never ranked as the strongest. */
    @Test
    void rowsBelowTheDenominatorFloorAreListedApart() {
        TableBuilder b = results();
        for (Table.Row r : seedTable(10, 0.0).rows()) b.addRow(r.toMap());
        // clean 1.0, corrupt 0.99: |clean - corrupt| = 0.01; patched 1.49 gives effect 50 (raw delta 0.5)
        b.addRow(10, "cand_L1H2", "g", 1, 2, SYM, SYM + "_0099", "positive", CLEAN, "ok", "final", "ok", true, "single_head_z",
                HeadPatching.METRIC, 1.0, 0.99, 1.49, 50.0, "ok", " M", " N", "tiny gap clean", "tiny gap corrupt");
        Table all = withBuckets(List.of(b.build()), List.of("heldout/seed10"));
        assertThat(select(all, "x").build().row(0).getDouble("effect_size")).as("the Arrow table keeps the reference's ranking").isEqualTo(50.0);
        String md = markdown(new HeldoutCandidateStage.Candidate("c", H, "g", "r", null, "", false, false, true), all, List.of(10));
        String strongest = md.substring(md.indexOf("## Strongest successes"), md.indexOf("## Strongest failures"));
        assertThat(strongest).doesNotContain("tiny gap").contains("heldout_symbolic_longer_0014");
        String unstable = md.substring(md.indexOf("## Unstable rows (|clean - corrupt| < 0.5)"), md.indexOf("## Interpretation"));
        assertThat(unstable).contains("Buckets of the 1 unstable rows: `{'strongest_positive_success': 1}`")
                .contains("| strongest_positive_success | 10 | heldout_symbolic_longer | heldout_symbolic_longer_0099 |")
                .contains("| 1 | 0.99 | 1.49 | 0.5 | 0.01 | 50 |");
        assertThat(md).contains("Here 37 rows clear the floor and 1 do not.");
    }

    @Test
    void runWritesEveryCandidateHead() throws Exception {
        Path file = Files.writeString(root.resolve("cands.csv"), "layer,head,group\n1,2,primary\n0,0,negative\n");
        RunContext ctx = ctxWith(file, "s15");
        new HeldoutCandidateStage().run(ctx);
        Head other = new Head(0, 0);
        for (int seed : List.of(10, 11)) {
            Table mine = seedTable(seed, 0.0);
            TableBuilder b = results();
            for (Table.Row r : mine.rows()) b.addRow(r.toMap());
            add(b, seed, other, SYM, 0, CLEAN, "final", -0.25);
            add(b, seed, new Head(1, 3), SYM, 0, CLEAN, "final", 0.9); // not a candidate: ignored
            ctx.write(RESULTS_DIR, seed, b);
        }
        new HeldoutCounterexampleStage().run(ctx, List.of(10, 11));
        Table a = ctx.read(DIR, null, "counterexamples_L1H2");
        assertThat(a.rowCount()).isEqualTo(34);
        assertThat(a.strings("source_run")).contains("heldout/seed10", "heldout/seed11");
        assertThat(a.longs("layer")).containsOnly(1L);
        Table b = ctx.read(DIR, null, "counterexamples_L0H0");
        assertThat(b.rowCount()).isEqualTo(2);
        assertThat(b.strings("inspection_bucket")).containsOnly(FAILURE);
        assertThat(Files.readString(ctx.dir(DIR, null).resolve("counterexamples_L0H0.md"))).contains("# Held-Out Counterexamples: L0H0");
        Map<?, ?> summary = RunContext.JSON.readValue(ctx.dir(DIR, null).resolve("heldout_counterexamples_summary.json").toFile(), Map.class);
        assertThat(((Map<?, ?>) summary.get("L1H2")).get("n_rows")).isEqualTo(74);
        assertThat(((Map<?, ?>) ((Map<?, ?>) summary.get("L1H2")).get("bucket_counts")).get(SUCCESS)).isEqualTo(30);
    }

    @Test
    void aCandidateWithoutRowsIsAnError() throws Exception {
        Path file = Files.writeString(root.resolve("cands2.csv"), "layer,head,group\n1,2,primary\n1,1,negative\n");
        RunContext ctx = ctxWith(file, "s15b");
        new HeldoutCandidateStage().run(ctx);
        ctx.write(RESULTS_DIR, 10, results().addRow(seedTable(10, 0.0).row(0).toMap()));
        assertThatThrownBy(() -> new HeldoutCounterexampleStage().run(ctx, List.of(10))).isInstanceOf(UserError.class)
                .hasMessageContaining("No held-out result rows found for candidate L1H1");
        assertThat(ctx.dir(DIR, null).resolve("counterexamples_L1H2.arrow")).as("nothing partial").doesNotExist();
    }

    private RunContext ctxWith(Path candidateFile, String runId) {
        RunConfig c = RunConfig.reference("words", runId);
        return new RunContext(root, new RunConfig(c.modelId(), runId, c.controlSeeds(), c.controlsPerFamily(), c.layerPatchSeeds(),
                c.layerPatchPerFamily(), c.maxCandidates(), c.sweepPerFamily(), List.of(10, 11), c.heldoutGenerated(),
                c.heldoutScored(), c.topKHeads(), candidateFile, c.zeroAblationFrame()), model);
    }

    @Test
    void pythonStyleFormatting() {
        assertThat(fmt4(null)).isEqualTo("nan");
        assertThat(fmt4(-0.12345)).isEqualTo("-0.1235");
        assertThat(fmt4(0.03125)).isEqualTo("0.0312");
        assertThat(pyDict(new java.util.LinkedHashMap<>(Map.of("a", 2L)))).isEqualTo("{'a': 2}");
        List<String> none = new ArrayList<>();
        assertThat(familyFailureLines(withBuckets(List.of(results().build()), List.of("x")))).isEqualTo(none);
    }
}
