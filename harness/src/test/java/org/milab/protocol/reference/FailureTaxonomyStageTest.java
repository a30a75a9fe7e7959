package org.milab.protocol.reference;

import org.milab.protocol.reference.FailureTaxonomyStage.SignFlips;
import org.milab.protocol.reference.FailureTaxonomyStage.Label;
import org.milab.protocol.reference.FailureTaxonomyStage.HeadSummary;
import org.milab.protocol.reference.FailureTaxonomyStage.HeadRow;
import org.milab.protocol.reference.FailureTaxonomyStage.Counterexample;
import org.milab.stage.RunConfig;
import org.milab.run.RunContext;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.milab.lab.LabFixtures;
import org.milab.lab.LabModel;
import org.milab.tables.ArrowTables;
import org.milab.tables.Table;
import org.milab.tables.TableBuilder;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.milab.protocol.reference.FailureTaxonomyStage.*;

/** Every S18 row label, every tie rule, the head labels and counts, and a run over hand-made S16/S17 tables. */
class FailureTaxonomyStageTest {
    private static final SignFlips NONE = new SignFlips(Set.of(), Set.of(), Set.of(), Set.of());

    /** A counterexample row of head {@code head}; the other fields vary per test. */
    private static Counterexample row(String head, String type, String family, String familyType, String domain,
                                      String bucket, String intervention, String position, Double effect) {
        return new Counterexample(head, "heldout_cand_000", "replicated_candidate", "characterization_counterexamples/x.arrow",
                type, 20L, family, familyType, domain, bucket, intervention, position, effect);
    }

    private static Counterexample positive(String head, String domain, String bucket, String intervention, String position,
                                           Double effect) {
        return row(head, "strongest_positive_success", "char_symbolic_short", "positive", domain, bucket, intervention,
                position, effect);
    }

    private static Counterexample typed(String type, String family, String familyType, Double effect) {
        return row("L1H2", type, family, familyType, "symbolic", "short", "head_clean_to_corrupt_patch", "final", effect);
    }

    // ---- row labels ----

    @Test
    void controlMovedByTagRegardlessOfSignOrByAControlWithPositiveEffect() {
        assertThat(classify(typed("control_moved", "char_no_repeat_control", "control", -0.4), NONE)).containsOnlyKeys(CONTROL_MOVED);
        assertThat(classify(typed("strongest_positive_success", "char_no_repeat_control", "control", 0.1), NONE))
                .containsOnlyKeys(CONTROL_MOVED);
        assertThat(classify(typed("strongest_positive_success", "char_no_repeat_control", "control", 0.0), NONE)).isEmpty();
        assertThat(classify(typed("strongest_positive_success", "char_no_repeat_control", "control", null), NONE)).isEmpty();
        // a positive row that moved is not a control
        assertThat(classify(typed("strongest_positive_success", "char_symbolic_short", "positive", 2.0), NONE)).isEmpty();
    }

    @Test
    void targetSwapLeakHasNoSignTest() {
        assertThat(classify(typed("wrong_target_control_moved", "char_other", "control", -1.0), NONE)).containsKey(TARGET_SWAP_LEAK);
        assertThat(classify(typed("strongest_positive_failure", "char_target_swap_control", "control", -3.0), NONE))
                .containsOnlyKeys(TARGET_SWAP_LEAK);
        assertThat(classify(typed("strongest_positive_failure", "heldout_wrong_target_same_prompt", "control", null), NONE))
                .containsOnlyKeys(TARGET_SWAP_LEAK);
        // a control tag on a moved target-swap row gives both labels, control first
        assertThat(classify(typed("control_moved", "char_target_swap_control", "control", 0.5), NONE).keySet())
                .containsExactly(CONTROL_MOVED, TARGET_SWAP_LEAK);
    }

    @Test
    void reversedControlLeakNeedsAPositiveEffect() {
        assertThat(classify(typed("strongest_positive_failure", "char_reversed_control", "control", 0.3), NONE).keySet())
                .containsExactly(CONTROL_MOVED, REVERSED_CONTROL_LEAK);
        assertThat(classify(typed("strongest_positive_failure", "char_reversed_control", "control", 0.0), NONE)).isEmpty();
        assertThat(classify(typed("strongest_positive_failure", "char_reversed_control", "control", -0.3), NONE)).isEmpty();
    }

    @Test
    void domainAndLengthLabelsFollowTheFlipSetsAndComeInPairsWhenNoFlipIsFound() {
        Counterexample r = typed("token_domain_or_length_failure", "char_word_short", "positive", -0.2);
        Map<String, String> neither = classify(r, NONE);
        assertThat(neither.keySet()).containsExactly(DOMAIN_FLIP, LENGTH_FLIP);
        assertThat(neither.values()).containsOnly("Token-domain or length failure row was present.");
        assertThat(classify(r, new SignFlips(Set.of("L1H2"), Set.of(), Set.of(), Set.of())))
                .containsExactly(Map.entry(DOMAIN_FLIP, "Effect direction disagreed across token domains."));
        assertThat(classify(r, new SignFlips(Set.of(), Set.of("L1H2"), Set.of(), Set.of())))
                .containsExactly(Map.entry(LENGTH_FLIP, "Effect direction disagreed across sequence lengths."));
        assertThat(classify(r, new SignFlips(Set.of("L1H2"), Set.of("L1H2"), Set.of(), Set.of())).keySet())
                .containsExactly(DOMAIN_FLIP, LENGTH_FLIP);
        // another head's flip does not count, and the intervention/position sets are not consulted
        assertThat(classify(r, new SignFlips(Set.of("L0H1"), Set.of(), Set.of("L1H2"), Set.of("L1H2"))).values())
                .containsOnly("Token-domain or length failure row was present.");
    }

    @Test
    void interventionAndPositionLabelsFollowTheFlipSetsAndComeInPairsWhenNoFlipIsFound() {
        Counterexample r = typed("position_intervention_mismatch", "char_word_short", "positive", -0.2);
        Map<String, String> neither = classify(r, new SignFlips(Set.of("L1H2"), Set.of("L1H2"), Set.of(), Set.of()));
        assertThat(neither.keySet()).containsExactly(INTERVENTION_DISAGREEMENT, POSITION_MISMATCH);
        assertThat(neither.values()).containsOnly("Position/intervention mismatch row was present.");
        assertThat(classify(r, new SignFlips(Set.of(), Set.of(), Set.of("L1H2"), Set.of())))
                .containsExactly(Map.entry(INTERVENTION_DISAGREEMENT, "Effect direction disagreed across interventions."));
        assertThat(classify(r, new SignFlips(Set.of(), Set.of(), Set.of(), Set.of("L1H2"))))
                .containsExactly(Map.entry(POSITION_MISMATCH, "Effect direction disagreed across positions."));
        assertThat(classify(r, new SignFlips(Set.of(), Set.of(), Set.of("L1H2"), Set.of("L1H2"))).keySet())
                .containsExactly(INTERVENTION_DISAGREEMENT, POSITION_MISMATCH);
    }

    // ---- sign flips ----

    @Test
    void flipperNeedsOneValueMeanAboveZeroAndAnotherBelow() {
        List<Counterexample> rows = List.of(
                positive("L1H2", "symbolic", "short", "patch", "final", 0.5),
                positive("L1H2", "word", "short", "patch", "final", -0.5),
                // L0H1: one domain mean exactly 0 (+1 and -1), the other > 0: no flip
                positive("L0H1", "symbolic", "short", "patch", "final", 1.0),
                positive("L0H1", "symbolic", "short", "patch", "final", -1.0),
                positive("L0H1", "word", "short", "patch", "final", 0.2),
                // L0H3: per-value means, not rows: word has +3 and -1 (mean +1), symbolic +0.1: no flip
                positive("L0H3", "word", "long", "patch", "final", 3.0),
                positive("L0H3", "word", "long", "patch", "final", -1.0),
                positive("L0H3", "symbolic", "long", "patch", "final", 0.1),
                // L1H1: only exactly-zero means below a positive one: no flip
                positive("L1H1", "word", "long", "patch", "final", 0.0),
                positive("L1H1", "number", "long", "patch", "final", 0.4));
        SignFlips f = signFlips(rows);
        assertThat(f.domain()).containsExactly("L1H2");
        assertThat(f.length()).isEmpty();
        assertThat(f.intervention()).isEmpty();
        assertThat(f.position()).isEmpty();
    }

    @Test
    void flipsUseOnlyPositiveRowsWithAnEffectAndCountAMissingValueAsAValue() {
        List<Counterexample> rows = new ArrayList<>(List.of(
                positive("L1H2", "symbolic", "short", "head_zero_ablation", "final", 0.5),
                // a control moving the other way is ignored, and so is a positive row without an effect
                row("L1H2", "control_moved", "char_no_repeat_control", "control", "word", "long", "head_mean_ablation",
                        "previous_occurrence", -2.0),
                positive("L1H2", "word", "long", "head_mean_ablation", "previous_occurrence", null)));
        assertThat(signFlips(rows)).isEqualTo(NONE);
        // a missing bucket forms its own group (pandas dropna=False)
        rows.add(positive("L1H2", "symbolic", null, "head_zero_ablation", "final", -0.25));
        SignFlips f = signFlips(rows);
        assertThat(f.length()).containsExactly("L1H2");
        assertThat(f.domain()).isEmpty(); // symbolic mean (0.5 - 0.25) / 2 > 0 only
        // intervention and position
        rows.add(positive("L1H2", "symbolic", "short", "head_clean_to_corrupt_patch", "source_position", -1.0));
        f = signFlips(rows);
        assertThat(f.intervention()).containsExactly("L1H2");
        assertThat(f.position()).containsExactly("L1H2");
        assertThat(f.domain()).isEmpty(); // a single domain value cannot flip
    }

    @Test
    void classifyAllUsesFlipsFromEveryFileAndDropsExactDuplicates() {
        Counterexample failure = row("L1H2", "token_domain_or_length_failure", "char_word_short", "positive", "word", "short",
                "head_zero_ablation", "final", -0.5);
        Counterexample success = row("L1H2", "strongest_positive_success", "char_symbolic_short", "positive", "symbolic",
                "short", "head_zero_ablation", "final", 0.5);
        List<Label> labels = classifyAll(List.of(success, failure, failure));
        // the success row only feeds the flip set; the failure row (twice) gives one domain_flip label
        assertThat(labels).extracting(Label::failureMode).containsExactly(DOMAIN_FLIP);
        assertThat(labels.get(0).reason()).isEqualTo("Effect direction disagreed across token domains.");
        // a row differing in an output column (seed) is kept
        Counterexample otherSeed = new Counterexample("L1H2", "heldout_cand_000", "replicated_candidate",
                "characterization_counterexamples/x.arrow", "token_domain_or_length_failure", 21L, "char_word_short", "positive",
                "word", "short", "head_zero_ablation", "final", -0.5);
        assertThat(classifyAll(List.of(success, failure, otherSeed))).hasSize(2);
    }

    // ---- head labels ----

    private static HeadSummary summary(String head, String status, Double corr, String ov, String qk) {
        return new HeadSummary(head, "heldout_cand_" + head, "replicated_candidate", status, -0.1, corr, ov, qk);
    }

    @Test
    void attentionEffectDecoupledAtOrBelowFivePercentOrMissing() {
        assertThat(attentionEffectDecoupled(summary("L1H2", "falsified_candidate", 0.05, "", ""))).isTrue();
        assertThat(attentionEffectDecoupled(summary("L1H2", "falsified_candidate", null, "", ""))).isTrue();
        assertThat(attentionEffectDecoupled(summary("L1H2", "falsified_candidate", -0.3, "", ""))).isTrue();
        assertThat(attentionEffectDecoupled(summary("L1H2", "falsified_candidate", 0.0501, "", ""))).isFalse();
        // the Markdown carried 4 decimals: 0.05004 read as 0.0500 (decoupled), 0.05005 as 0.0501 (half-even on the binary value)
        assertThat(round4(0.05004)).isEqualTo(0.05);
        assertThat(round4(-0.00001)).isEqualTo(-0.0);
        assertThat(round4(null)).isNull();
        assertThat(round4(Double.NaN)).isNull();
    }

    @Test
    void ovQkLocalOnlyNeedsFalsifiedAndASupportingStatus() {
        assertThat(ovQkLocalOnly(summary("L1H2", "falsified_candidate", 0.1, "ov_supports_copy,ov_weak", ""))).isTrue();
        assertThat(ovQkLocalOnly(summary("L1H2", "falsified_candidate", 0.1, "ov_weak", "qk_supports_source_selection"))).isTrue();
        assertThat(ovQkLocalOnly(summary("L1H2", "falsified_candidate", 0.1, "ov_weak", "qk_contradicts_source_selection"))).isFalse();
        assertThat(ovQkLocalOnly(summary("L1H2", "downgraded_candidate", 0.1, "ov_supports_copy", ""))).isFalse();
    }

    @Test
    void negativeControlSupportNeedsANegativeControlWithASupportingSeed() {
        Table supports = seedTable(new Object[] {"heldout_cand_010", "negative_control_no_effect", "characterization_supports"},
                new Object[] {"heldout_cand_000", "replicated_candidate", "characterization_falsifies"});
        Table candidateSupports = seedTable(new Object[] {"heldout_cand_010", "negative_control_nonspecific", "characterization_downgrades"},
                new Object[] {"heldout_cand_000", "replicated_candidate", "characterization_supports"});
        assertThat(negativeControlSupport(List.of(candidateSupports, supports))).isTrue();
        assertThat(negativeControlSupport(List.of(candidateSupports))).isFalse();
    }

    private static Table seedTable(Object[]... rows) {
        return seedBuilder(rows).build();
    }

    private static TableBuilder seedBuilder(Object[]... rows) {
        TableBuilder b = Table.builder(SEED_TABLE).keys("candidate_id").string("candidate_id", "candidate_group")
                .int64("layer", "head").string("characterization_seed_status");
        int i = 0;
        for (Object[] r : rows) b.addRow(r[0], r[1], (long) i, (long) i++, r[2]);
        return b;
    }

    @Test
    void byHeadCountsModesAddsHeadLabelsAndKeepsTheFirstFiveActiveModesInOrder() {
        List<Label> labels = new ArrayList<>();
        Counterexample r = typed("control_moved", "char_reversed_control", "control", 0.5);
        for (String m : List.of(CONTROL_MOVED, CONTROL_MOVED, REVERSED_CONTROL_LEAK, DOMAIN_FLIP, LENGTH_FLIP, POSITION_MISMATCH))
            labels.add(new Label(r, m, "x"));
        Counterexample other = new Counterexample("L0H5", "heldout_cand_007", "prior_raw_attention_failed", "f", "control_moved",
                20L, "char_no_repeat_control", "control", "word", "short", "patch", "final", 0.2);
        labels.add(new Label(other, CONTROL_MOVED, "x"));
        Map<String, HeadSummary> summaries = Map.of(
                "L1H2", summary("L1H2", "falsified_candidate", 0.01, "ov_supports_copy", "qk_weak"),
                "L11H0", summary("L11H0", "downgraded_candidate", 0.2, "ov_weak", "qk_weak"));
        List<HeadRow> heads = byHead(labels, summaries, Set.of("L1H2", "L11H0"), true);
        // string order of head labels, heads from rows and from summaries
        assertThat(heads).extracting(HeadRow::headLabel).containsExactly("L0H5", "L11H0", "L1H2");
        HeadRow h = heads.get(2);
        assertThat(h.counts()).containsExactlyEntriesOf(orderedCounts(2, 0, 1, 1, 1, 0, 1, 1, 1, 1));
        assertThat(h.dominantFailureModes()).isEqualTo("control_moved,reversed_control_leak,domain_flip,length_flip,position_mismatch");
        assertThat(h.nFailureModes()).isEqualTo(8);
        assertThat(h.finalStatus()).isEqualTo("falsified_candidate");
        assertThat(h.candidateId()).isEqualTo("heldout_cand_L1H2");
        assertThat(h.interpretation()).isEqualTo("L1H2 failed because controls moved under the same intervention logic; "
                + "reversed-order controls moved; token domain or sequence length changed the effect direction; intervention "
                + "or position variants disagreed; attention/effect alignment was weak; OV/QK local diagnostics did not combine "
                + "with causal specificity; negative-control support made the slice-level rule too permissive. Its consolidated "
                + "status was `falsified_candidate`.");
        // a head with only a summary: correlation 0.2 and not falsified, but primary with negative support
        HeadRow onlySummary = heads.get(1);
        assertThat(onlySummary.counts().get(NEGATIVE_CONTROL_SUPPORT)).isEqualTo(1);
        assertThat(onlySummary.dominantFailureModes()).isEqualTo(NEGATIVE_CONTROL_SUPPORT);
        // a head with only rows: ids from its rows, no status, not primary
        HeadRow onlyRows = heads.get(0);
        assertThat(onlyRows.candidateId()).isEqualTo("heldout_cand_007");
        assertThat(onlyRows.candidateGroup()).isEqualTo("prior_raw_attention_failed");
        assertThat(onlyRows.finalStatus()).isEmpty();
        assertThat(onlyRows.meanGap()).isNull();
        assertThat(onlyRows.counts().get(NEGATIVE_CONTROL_SUPPORT)).isZero();
        assertThat(onlyRows.interpretation()).isEqualTo("L0H5 failed because controls moved under the same intervention logic.");
        // without negative support nothing is added; a head with no active mode says so
        HeadRow quiet = byHead(List.of(), Map.of("L11H0", summaries.get("L11H0")), Set.of("L11H0"), false).get(0);
        assertThat(quiet.nFailureModes()).isZero();
        assertThat(quiet.dominantFailureModes()).isEmpty();
        assertThat(quiet.interpretation()).isEqualTo("No taxonomy rows were available for this head.");
    }

    private static Map<String, Long> orderedCounts(long... v) {
        Map<String, Long> m = new java.util.LinkedHashMap<>();
        for (int i = 0; i < MODES.size(); i++) m.put(MODES.get(i), v[i]);
        return m;
    }

    // ---- the stage over hand-made S16/S17 tables ----

    private static TableBuilder counterexampleTable(String name, Object[]... rows) {
        TableBuilder b = Table.builder(name).keys("counterexample_type", "example_id", "intervention", "position_label", "seed")
                .string("counterexample_type").int64("seed").string("candidate_id", "candidate_group").int64("layer", "head")
                .string("family", "heldout_family_type", "example_id", "token_domain", "sequence_length_bucket", "intervention",
                        "position_label").float64("effect_size").string("effect_size_status", "true_expected_next_token",
                        "wrong_or_control_token", "clean_prompt", "corrupt_prompt");
        for (Object[] r : rows)
            b.addRow(r[0], 20L, r[1], "replicated_candidate", r[2], r[3], r[4], r[5], r[6], r[7], "short",
                    "head_clean_to_corrupt_patch", "final", r[8], "ok", " D", " A", "A B C D A B C", "A B C D A B X");
        return b;
    }

    @Test
    void stageReadsTheCharacterizationTablesAndWritesTheTaxonomy(@TempDir Path root) {
        try (LabModel m = LabFixtures.randomWordModel(root, "words", 3)) {
            RunContext ctx = new RunContext(root, RunConfig.reference("words", "tax"), m);
            assertThatThrownBy(() -> new FailureTaxonomyStage().run(ctx, List.of(20)))
                    .hasMessageContaining("counterexamples_");
            ctx.write(COUNTEREXAMPLE_DIR, null, counterexampleTable("counterexamples_L1H2",
                    new Object[] {"strongest_positive_success", "heldout_cand_000", 1L, 2L, "char_symbolic_short", "positive", "e1", "symbolic", 0.8},
                    new Object[] {"token_domain_or_length_failure", "heldout_cand_000", 1L, 2L, "char_word_short", "positive", "e2", "word", -0.3},
                    new Object[] {"control_moved", "heldout_cand_000", 1L, 2L, "char_target_swap_control", "control", "e3", "symbolic", 0.4}));
            ctx.write(COUNTEREXAMPLE_DIR, null, counterexampleTable("counterexamples_L0H1",
                    new Object[] {"position_intervention_mismatch", "heldout_cand_001", 0L, 1L, "char_word_short", "positive", "e4", "word", -0.1}));
            TableBuilder multi = Table.builder(MULTISEED_TABLE).keys("candidate_id").string("candidate_id", "candidate_group")
                    .int64("layer", "head").float64("mean_positive_minus_control_gap", "mean_attention_effect_corr")
                    .stringList("ov_statuses", "qk_statuses").string("final_characterization_status");
            multi.addRow("heldout_cand_000", "replicated_candidate", 1L, 2L, -0.123456, 0.05004, List.of("ov_supports_copy"), List.of("qk_weak"), "falsified_candidate");
            multi.addRow("heldout_cand_001", "replicated_candidate", 0L, 1L, 0.2, 0.3, List.of("ov_weak"), List.of("qk_weak"), "downgraded_candidate");
            multi.addRow("heldout_cand_009", "negative_control_no_effect", 4L, 1L, 0.01, 0.2, List.of("ov_weak"), List.of("qk_weak"), "falsified_candidate");
            ctx.write(MULTISEED_DIR, null, multi);
            ctx.write(SEED_DIR, 20, seedBuilder(new Object[] {"heldout_cand_009", "negative_control_no_effect", "characterization_supports"}));
            Result res = new FailureTaxonomyStage().run(ctx, List.of(20));

            Table byRow = ArrowTables.read(ctx.dir(DIR, null).resolve(BY_ROW + ArrowTables.EXTENSION));
            assertThat(byRow.columnNames()).containsExactly("head_label", "layer", "head", "head_id", "candidate_id", "candidate_group", "source_file",
                    "counterexample_type", "seed", "family", "heldout_family_type", "token_domain", "sequence_length_bucket",
                    "intervention", "position_label", "effect_size", "failure_mode", "reason");
            // files in name order (L0H1 before L1H2); L1H2 is a domain flipper (symbolic +0.8 vs word -0.3)
            assertThat(byRow.strings("failure_mode")).containsExactly(INTERVENTION_DISAGREEMENT, POSITION_MISMATCH, DOMAIN_FLIP,
                    CONTROL_MOVED, TARGET_SWAP_LEAK);
            assertThat(byRow.strings("source_file")).first().isEqualTo("characterization_counterexamples/counterexamples_L0H1.arrow");
            Table byHead = ArrowTables.read(ctx.dir(DIR, null).resolve(BY_HEAD + ArrowTables.EXTENSION));
            assertThat(byHead.columnNames()).containsExactly("head_label", "layer", "head", "head_id", "candidate_id", "candidate_group", "final_status",
                    "mean_gap", "mean_attention_effect_corr", "control_moved", "target_swap_leak", "reversed_control_leak",
                    "domain_flip", "length_flip", "intervention_disagreement", "position_mismatch", "attention_effect_decoupled",
                    "ov_qk_local_only", "negative_control_support", "dominant_failure_modes", "n_failure_modes", "interpretation");
            assertThat(byHead.strings("head_label")).containsExactly("L0H1", "L1H2", "L4H1");
            Table.Row l1h2 = byHead.row(1);
            assertThat(l1h2.getDouble("mean_gap")).isEqualTo(-0.1235);
            assertThat(l1h2.getDouble("mean_attention_effect_corr")).isEqualTo(0.05);
            assertThat(l1h2.getStrings("dominant_failure_modes")).containsExactly(
                    "control_moved", "target_swap_leak", "domain_flip", "attention_effect_decoupled", "ov_qk_local_only");
            assertThat(byHead.strings("head_id")).isEqualTo(byHead.strings("head_label"));
            assertThat(l1h2.getLong("n_failure_modes")).isEqualTo(6); // + negative_control_support (primary head)
            assertThat(byHead.row(0).getLong("negative_control_support")).isEqualTo(1);
            assertThat(byHead.row(2).getLong("negative_control_support")).isZero(); // L4H1 has no counterexample table
            assertThat(res.summary().get("final_status")).isEqualTo(FINAL_STATUS);
            assertThat(res.summary().get("n_row_failure_labels")).isEqualTo(5);
            assertThat(res.summary().get("failure_mode_counts")).isEqualTo(Map.of(CONTROL_MOVED, 1L, DOMAIN_FLIP, 1L,
                    INTERVENTION_DISAGREEMENT, 1L, POSITION_MISMATCH, 1L, TARGET_SWAP_LEAK, 1L));
            assertThat(ctx.dir(DIR, null).resolve(SUMMARY_JSON)).isRegularFile();
            assertThat(ctx.dir(DIR, null).resolve("failure_taxonomy.md")).isRegularFile();
        }
    }
}
