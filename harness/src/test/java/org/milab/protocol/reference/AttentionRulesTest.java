package org.milab.protocol.reference;

import org.junit.jupiter.api.Test;
import org.milab.prompts.ControlPrompts;
import org.milab.prompts.PromptRecord;
import org.milab.tables.Table;
import org.milab.tables.TableBuilder;
import org.milab.util.UserError;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Function;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

/** Word spans, the per-row scores and the summary rules of the attention stage on hand-made inputs. */
class AttentionRulesTest {
    /** "ab" is two tokens, everything else one; a leading space is part of the later words' tokens. */
    static final Map<String, int[]> VOCAB = Map.of("ab", new int[]{5, 6}, " c", new int[]{7}, " ab", new int[]{8, 6},
            "c", new int[]{9}, " e", new int[]{});
    static final Function<String, int[]> ENCODE = w -> VOCAB.getOrDefault(w, new int[]{99});

    @Test
    void wordSpansFollowMultiTokenWordsAndTheBosOffset() {
        List<int[]> withBos = AttentionStage.wordSpans(ENCODE, new int[]{0, 5, 6, 7, 8, 6}, List.of("ab", "c", "ab"), "x");
        assertThat(withBos).containsExactly(new int[]{1, 2}, new int[]{3, 3}, new int[]{4, 5});
        List<int[]> noBos = AttentionStage.wordSpans(ENCODE, new int[]{5, 6, 7}, List.of("ab", "c"), "x");
        assertThat(noBos).containsExactly(new int[]{0, 1}, new int[]{2, 2});
    }

    @Test
    void wordSpansRejectMismatchesAndEmptyWords() {
        assertThatThrownBy(() -> AttentionStage.wordSpans(ENCODE, new int[]{0, 5, 6, 9}, List.of("ab", "c"), "ex_7"))
                .isInstanceOf(UserError.class).hasMessageContaining("ex_7").hasMessageContaining("does not reconstruct");
        assertThatThrownBy(() -> AttentionStage.wordSpans(ENCODE, new int[]{0, 5, 6}, List.of("ab", "e"), "ex_8"))
                .isInstanceOf(UserError.class).hasMessageContaining("encodes to no tokens");
    }

    @Test
    void metadataChecksRejectOtherTasksMissingWordsAndOutOfRangeHints() {
        PromptRecord ok = ControlPrompts.generate(0, 1).get(0);
        AttentionStage.requireInductionMetadata(ok);
        assertThatThrownBy(() -> AttentionStage.requireInductionMetadata(with(ok, "candidate_characterization", ok.promptTokensText(), 1)))
                .isInstanceOf(UserError.class).hasMessageContaining("candidate_characterization");
        assertThatThrownBy(() -> AttentionStage.requireInductionMetadata(with(ok, ok.task(), List.of(), null)))
                .isInstanceOf(UserError.class).hasMessageContaining("prompt_tokens_text");
        int n = ok.promptTokensText().size();
        for (int bad : new int[]{-1, n})
            assertThatThrownBy(() -> AttentionStage.requireInductionMetadata(with(ok, ok.task(), ok.promptTokensText(), bad)))
                    .isInstanceOf(UserError.class).hasMessageContaining("outside");
        AttentionStage.requireInductionMetadata(with(ok, ok.task(), ok.promptTokensText(), null)); // no hint is fine
    }

    private static PromptRecord with(PromptRecord r, String task, List<String> words, Integer hint) {
        return new PromptRecord(r.exampleId(), task, r.family(), r.prompt(), r.expectedNextToken(), r.controlPrompt(),
                r.notes(), words, r.sequenceTokens(), r.repeatedPrefixLength(), r.targetPositionLabel(),
                r.expectedSourceToken(), hint, r.positiveInductionExample(), r.controlFamily(),
                r.shouldShowInductionBehavior(), r.baseSequenceId(), r.familyIndex(), r.trueExpectedNextToken(),
                r.pairedPositiveExampleId(), r.wrongOrControlToken(), r.heldoutFamilyType(), r.heldoutConstructionNote(),
                r.distractorPositionHint(), r.characterizationAxis(), r.sequenceLengthBucket(), r.tokenDomain());
    }

    @Test
    void entropyNormalizesTheRowAndArgmaxTakesTheFirstMaximumUpToTheTarget() {
        assertThat(AttentionStage.entropy(new double[]{0.25, 0.25, 0.25, 0.25})).isCloseTo(Math.log(4), within(1e-15));
        assertThat(AttentionStage.entropy(new double[]{2, 0, 2})).isCloseTo(Math.log(2), within(1e-15));
        assertThat(AttentionStage.entropy(new double[]{0, 0})).isZero();
        assertThat(AttentionStage.entropy(new double[]{1, 0, 0})).isZero();
        assertThat(AttentionStage.argmax(new double[]{0.1, 0.4, 0.4, 0.9}, 3)).isEqualTo(1);
    }

    // ---- summary rules on hand-made by-head rows ------------------------------------------------------

    private static final String POS = "positive_repeat_sequence", RAND = "random_expected_token_control",
            DIST = "distractor_repeat_control", SAME = "same_token_frequency_control", NOREP = "no_repeat_control";

    /** Rows (family, head, three scores) for layer 0; example ids are family + index, as in the controls set. */
    private static Table byHead(Object[]... groups) {
        TableBuilder b = AttentionStage.byHeadBuilder();
        for (Object[] g : groups) {
            double[] scores = (double[]) g[2];
            for (int i = 0; i < scores.length; i++) {
                Map<String, Object> row = new LinkedHashMap<>();
                row.put("example_id", g[0] + "_" + i);
                row.put("family", g[0]);
                row.put("should_show_induction_behavior", g[0].equals(POS));
                row.put("layer", 0);
                row.put("head", g[1]);
                row.put(AttentionStage.SCORE, g[0].equals(NOREP) ? null : scores[i]);
                row.put("attention_entropy", 1.0 + i);
                row.put("attention_to_bos", 0.5);
                b.addRow(row);
            }
        }
        return b.build();
    }

    private static double[] s(double... v) {
        return v;
    }

    /** The controls-set situation: random_expected_token_control repeats the positive exactly. */
    private static Table controlsLike() {
        return byHead(
                new Object[]{POS, 0, s(0.9, 0.8, 0.7)}, new Object[]{RAND, 0, s(0.9, 0.8, 0.7)},
                new Object[]{DIST, 0, s(0.85, 0.85, 0.85)}, new Object[]{SAME, 0, s(0.5, 0.5, 0.5)},
                new Object[]{NOREP, 0, s(1, 1, 1)},
                new Object[]{POS, 1, s(0.3, 0.3, 0.3)}, new Object[]{RAND, 1, s(0.3, 0.3, 0.3)},
                new Object[]{DIST, 1, s(0.3, 0.3, 0.3)}, new Object[]{SAME, 1, s(0.1, 0.1, 0.1)},
                new Object[]{NOREP, 1, s(1, 1, 1)});
    }

    @Test
    @SuppressWarnings("unchecked")
    void gapsAreNeverPositiveWhenRandomExpectedRepeatsThePositive() {
        Map<String, Object> s = AttentionStage.controlSummary(controlsLike(), 20);
        List<Map<String, Object>> gaps = (List<Map<String, Object>>) s.get("top_heads_by_positive_minus_control_gap");
        assertThat(gaps).extracting(g -> g.get("head")).containsExactly(1L, 0L); // gap 0 before gap -0.05
        assertThat(gaps).allSatisfy(g -> assertThat((Double) g.get("positive_minus_control_attention_gap")).isLessThanOrEqualTo(0.0));
        // head 1: distractor ties random_expected at the max; the alphabetically first family wins (idxmax)
        assertThat(gaps.get(0)).containsEntry("max_control_family", DIST).containsEntry("positive_minus_control_attention_gap", 0.0);
        assertThat(gaps.get(1)).containsEntry("max_control_family", DIST)
                .containsEntry("max_control_mean_attention_to_previous_occurrence", 0.85)
                .containsEntry("positive_minus_control_attention_gap", -0.05) // 10-decimal rounding hides float noise
                .containsEntry("positive_n_examples", 3L);
        assertThat(gaps.get(1).keySet()).containsExactly("layer", "head", "positive_mean_attention_to_previous_occurrence",
                "positive_median_attention_to_previous_occurrence", "mean_attention_entropy", "positive_n_examples",
                "max_control_family", "max_control_mean_attention_to_previous_occurrence", "positive_minus_control_attention_gap");
    }

    @Test
    @SuppressWarnings("unchecked")
    void topHeadsHardestFamilyAndFamiliesPresentIgnoreRowsWithoutAScore() {
        Map<String, Object> s = AttentionStage.controlSummary(controlsLike(), 20);
        List<Map<String, Object>> pos = (List<Map<String, Object>>) s.get("top_heads_on_positive_examples");
        assertThat(pos).extracting(h -> h.get("head")).containsExactly(0L, 1L);
        assertThat(pos.get(0)).containsEntry(AttentionStage.MEAN, 0.8).containsEntry(AttentionStage.MEDIAN, 0.8)
                .containsEntry("mean_attention_entropy", 2.0).containsEntry("n_examples", 3L);
        List<Map<String, Object>> ctl = (List<Map<String, Object>>) s.get("top_heads_on_controls");
        // head 0 over the 9 scored control rows (no_repeat's 1.0s are dropped): (2.4 + 2.55 + 1.5) / 9
        assertThat(ctl.get(0)).containsEntry("head", 0L).containsEntry("n_examples", 9L);
        assertThat((Double) ctl.get(0).get(AttentionStage.MEAN)).isCloseTo(6.45 / 9, within(1e-10));
        // distractor (0.85 * 3 + 0.3 * 3) / 6 = 0.575 beats random_expected 0.55 and same_token 0.3
        assertThat(s.get("hardest_control_family_by_attention"))
                .isEqualTo(Map.of("family", DIST, AttentionStage.MEAN, 0.575, "n_examples", 3L));
        assertThat((List<String>) s.get("families_present")).containsExactly(DIST, NOREP, POS, RAND, SAME);
        Map<String, Object> top1 = AttentionStage.controlSummary(controlsLike(), 1);
        assertThat((List<?>) top1.get("top_heads_on_positive_examples")).hasSize(1);
        assertThat((List<?>) top1.get("top_heads_by_positive_minus_control_gap")).hasSize(1);
        assertThat((List<?>) top1.get("top_heads_on_controls")).hasSize(1);
    }

    @Test
    @SuppressWarnings("unchecked")
    void aHeadWithoutControlRowsGetsNullsAndItsWholeMeanAsGap() {
        Table t = byHead(new Object[]{POS, 0, s(0.4, 0.4, 0.4)}, new Object[]{SAME, 0, s(0.1, 0.1, 0.1)},
                new Object[]{POS, 1, s(0.2, 0.2, 0.2)}, new Object[]{NOREP, 1, s(0, 0, 0)});
        List<Map<String, Object>> gaps = (List<Map<String, Object>>) AttentionStage.controlSummary(t, 20)
                .get("top_heads_by_positive_minus_control_gap");
        assertThat(gaps.get(0)).containsEntry("head", 0L).containsEntry("positive_minus_control_attention_gap", 0.3);
        assertThat(gaps.get(1)).containsEntry("head", 1L).containsEntry("max_control_family", null)
                .containsEntry("max_control_mean_attention_to_previous_occurrence", null)
                .containsEntry("positive_minus_control_attention_gap", 0.2);
    }

    @Test
    @SuppressWarnings("unchecked")
    void withoutAnyScoredControlTheFamilyIsEmptyAndThereIsNoHardestFamily() {
        Table t = byHead(new Object[]{POS, 0, s(0.4, 0.4, 0.4)}, new Object[]{NOREP, 0, s(0, 0, 0)});
        Map<String, Object> s = AttentionStage.controlSummary(t, 20);
        Map<String, Object> gap = ((List<Map<String, Object>>) s.get("top_heads_by_positive_minus_control_gap")).get(0);
        assertThat(gap.keySet()).containsSubsequence("max_control_mean_attention_to_previous_occurrence", "max_control_family");
        assertThat(gap).containsEntry("max_control_family", "").containsEntry("positive_minus_control_attention_gap", 0.4);
        assertThat(s.get("hardest_control_family_by_attention")).isNull();
        assertThat((List<?>) s.get("top_heads_on_controls")).isEmpty();
    }

    @Test
    @SuppressWarnings("unchecked")
    void overallSummaryKeepsFullPrecisionAndSkipsMissingScores() {
        Table t = byHead(new Object[]{POS, 0, s(0.123456789012345, 0.2, 0.3)}, new Object[]{NOREP, 0, s(0, 0, 0)});
        Map<String, Object> o = AttentionStage.overallSummary(t);
        assertThat((Double) o.get(AttentionStage.MEAN)).isCloseTo((0.123456789012345 + 0.5) / 3, within(1e-16));
        assertThat(o.get(AttentionStage.MEDIAN)).isEqualTo(0.2);
        Map<String, Object> head = ((List<Map<String, Object>>) o.get("top_heads_by_previous_occurrence_attention")).get(0);
        assertThat(head).containsEntry("n_examples", 6L); // nunique counts the unscored examples too
        assertThat(AttentionStage.records(List.of(Map.of("v", 0.123456789012345)), 5).get(0)).containsEntry("v", 0.123456789);
    }

    @Test
    void familyTableMeansSkipMissingScoresAndLeaveAllMissingNull() {
        Table fam = AttentionStage.byFamily(controlsLike()).build();
        assertThat(fam.rowCount()).isEqualTo(10);
        assertThat(fam.strings("family").subList(0, 4)).containsExactly(DIST, DIST, NOREP, NOREP);
        Table.Row norep = fam.row(2);
        assertThat(norep.getDouble(AttentionStage.MEAN)).isNull();
        assertThat(norep.getDouble(AttentionStage.MEDIAN)).isNull();
        assertThat(norep.getLong("n_examples")).isEqualTo(3);
        assertThat(norep.getDouble("mean_attention_entropy")).isEqualTo(2.0);
        assertThat(fam.row(0).getDouble(AttentionStage.MEAN)).isCloseTo(0.85, within(1e-15));
    }
}
