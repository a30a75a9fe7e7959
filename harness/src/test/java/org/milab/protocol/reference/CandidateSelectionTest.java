package org.milab.protocol.reference;

import org.milab.run.RunContext;

import com.fasterxml.jackson.databind.JsonNode;
import org.junit.jupiter.api.Test;
import org.milab.tables.Table;
import org.milab.tables.TableBuilder;

import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

/** S8 selection on a hand-made attention summary and a 72-head family table (layers 0, 2, 4, 7, 9, 11). */
class CandidateSelectionTest {
    static final int[] LAYERS = {0, 2, 4, 7, 9, 11};
    static final String DIST = "distractor_repeat_control", NOREP = "no_repeat_control",
            POS = "positive_repeat_sequence", RAND = "random_expected_token_control";

    static double positive(int layer, int head) {
        return 0.01 * layer + 0.001 * head;
    }

    /** attention_by_family as S6 writes it (sorted by family, layer, head); random_expected repeats the positive. */
    static Table familyTable() {
        TableBuilder b = AttentionStage.byFamilyBuilder();
        for (String family : List.of(DIST, NOREP, POS, RAND))
            for (int l : LAYERS)
                for (int h = 0; h < 12; h++) {
                    Double mean = switch (family) {
                        case NOREP -> null;
                        case DIST -> l == 9 && h == 9 ? 0.5 : positive(l, h) / 2;
                        default -> positive(l, h);
                    };
                    b.addRow(family, l, h, 32, mean, mean, 0.5, 1.0);
                }
        return b.build();
    }

    static JsonNode json(String text) throws Exception {
        return RunContext.JSON.readTree(text.replace('\'', '"'));
    }

    /** Five raw heads; controls repeat four of them plus one new head, L11H0; no gap is positive. */
    static JsonNode logLikeSummary() throws Exception {
        return json("""
                {'top_heads_on_positive_examples': [
                   {'layer': 11, 'head': 10, 'mean_attention_to_previous_occurrence': 0.9},
                   {'layer': 9, 'head': 9}, {'layer': 0, 'head': 4}, {'layer': 2, 'head': 2}, {'layer': 0, 'head': 1},
                   {'layer': 7, 'head': 1}],
                 'top_heads_on_controls': [
                   {'layer': 9, 'head': 9}, {'layer': 11, 'head': 0}, {'layer': 0, 'head': 4}, {'layer': 2, 'head': 2},
                   {'layer': 0, 'head': 1}, {'layer': 4, 'head': 6}],
                 'top_heads_by_positive_minus_control_gap': [
                   {'layer': 11, 'head': 11, 'positive_minus_control_attention_gap': 0.0},
                   {'layer': 4, 'head': 4, 'positive_minus_control_attention_gap': null},
                   {'layer': 4, 'head': 5, 'positive_minus_control_attention_gap': -0.2}]}
                """);
    }

    static List<String> heads(List<CandidateSelectionStage.Candidate> c) {
        return c.stream().map(x -> "L" + x.layer() + "H" + x.head()).toList();
    }

    @Test
    void shuffleOfTheSortedHeadsMatchesThePythonCheckVectors() {
        List<String> r0 = CandidateSelectionStage.allHeadsShuffled(familyTable(), 0).stream()
                .map(h -> "L" + h.get(0) + "H" + h.get(1)).toList();
        assertThat(r0).hasSize(72).startsWith("L11H0", "L4H0", "L11H9", "L11H11", "L9H6", "L7H7", "L11H7", "L4H2");
        List<String> r1 = CandidateSelectionStage.allHeadsShuffled(familyTable(), 1).stream()
                .map(h -> "L" + h.get(0) + "H" + h.get(1)).toList();
        assertThat(r1).startsWith("L11H7", "L4H11", "L9H3", "L4H1", "L0H4", "L2H4", "L0H2", "L11H8");
    }

    @Test
    void seedZeroReproducesTheLoggedRandomHeads() throws Exception {
        List<CandidateSelectionStage.Candidate> c = CandidateSelectionStage.select(logLikeSummary(), familyTable(),
                CandidateSelectionStage.Selection.defaults(0));
        assertThat(heads(c)).containsExactly("L11H10", "L9H9", "L0H4", "L2H2", "L0H1", "L11H0",
                "L4H0", "L11H9", "L11H11", "L9H6", "L7H7");
        assertThat(c).extracting(CandidateSelectionStage.Candidate::source).containsExactly(
                "top_raw_positive_attention", "top_raw_positive_attention", "top_raw_positive_attention",
                "top_raw_positive_attention", "top_raw_positive_attention", "top_control_firing_attention",
                "random_comparison", "random_comparison", "random_comparison", "random_comparison", "random_comparison");
        assertThat(c.get(9).candidateId()).isEqualTo("cand_009");
        assertThat(c.get(10).candidateId()).isEqualTo("cand_010");
    }

    @Test
    void seedOneReproducesTheLoggedRandomHeads() throws Exception {
        List<CandidateSelectionStage.Candidate> c = CandidateSelectionStage.select(logLikeSummary(), familyTable(),
                CandidateSelectionStage.Selection.defaults(1));
        assertThat(heads(c).subList(6, c.size())).containsExactly("L11H7", "L4H11", "L9H3", "L4H1", "L2H4"); // L0H4 seen
        assertThat(c.get(8).candidateId()).isEqualTo("cand_008");
        assertThat(heads(c).get(8)).isEqualTo("L9H3");
    }

    @Test
    void statsComeFromTheFamilyTableWithTheReferenceGapRules() throws Exception {
        List<CandidateSelectionStage.Candidate> c = CandidateSelectionStage.select(logLikeSummary(), familyTable(),
                CandidateSelectionStage.Selection.defaults(0));
        CandidateSelectionStage.Candidate l9h9 = c.get(1);
        assertThat(l9h9.rawPositiveAttention()).isEqualTo(positive(9, 9));
        assertThat(l9h9.maxControlAttention()).isEqualTo(0.5);
        assertThat(l9h9.maxControlFamily()).isEqualTo(DIST);
        assertThat(l9h9.positiveMinusControlAttentionGap()).isEqualTo(positive(9, 9) - 0.5);
        assertThat(l9h9.gapPositive()).isFalse();
        assertThat(l9h9.expectedSpecificity()).isEqualTo("nonspecific_attention_candidate");
        // random_expected equals the positive: the max control is that family, the gap exactly 0
        CandidateSelectionStage.Candidate l11h10 = c.get(0);
        assertThat(l11h10.maxControlFamily()).isEqualTo(RAND);
        assertThat(l11h10.positiveMinusControlAttentionGap()).isZero();
        assertThat(l11h10.component()).isEqualTo("attn_out");
        assertThat(l11h10.positionLabel()).isEqualTo("final");
        CandidateSelectionStage.Candidate random = c.get(6);
        assertThat(random.expectedSpecificity()).isEqualTo("comparison_candidate");
        assertThat(random.selectionReason()).isEqualTo("Deterministic random comparison head.");
    }

    @Test
    void positiveGapRowsKeepTheirOwnGapAndDuplicatesUseUpSlots() throws Exception {
        JsonNode summary = json("""
                {'top_heads_on_positive_examples': [{'layer': 0, 'head': 0}],
                 'top_heads_on_controls': [],
                 'top_heads_by_positive_minus_control_gap': [
                   {'layer': 0, 'head': 0, 'positive_minus_control_attention_gap': 0.4},
                   {'layer': 2, 'head': 3, 'positive_minus_control_attention_gap': 0.3},
                   {'layer': 2, 'head': 4, 'positive_minus_control_attention_gap': 0.2}]}
                """);
        var c = CandidateSelectionStage.select(summary, familyTable(), new CandidateSelectionStage.Selection(5, 5, 2, 0, 0));
        // the first gap row repeats L0H0 and still counts toward top_k_gap = 2, so L2H4 is never reached
        assertThat(heads(c)).containsExactly("L0H0", "L2H3");
        assertThat(c.get(1).source()).isEqualTo("top_positive_minus_control_gap");
        assertThat(c.get(1).positiveMinusControlAttentionGap()).isEqualTo(0.3); // from the summary, not the table
        assertThat(c.get(1).gapPositive()).isTrue();
        assertThat(c.get(1).expectedSpecificity()).isEqualTo("attention_gap_candidate");
        assertThat(c.get(1).selectionReason()).isEqualTo("Positive-minus-control attention gap was positive.");
    }

    @Test
    void missingPositiveOrControlsDefaultToZeroAndTiesPickTheFirstFamily() throws Exception {
        TableBuilder b = AttentionStage.byFamilyBuilder();
        b.addRow("a_control", 0, 0, 4, 0.3, 0.3, 0.5, 1.0);
        b.addRow("b_control", 0, 0, 4, 0.3, 0.3, 0.5, 1.0);
        b.addRow(POS, 0, 0, 4, null, null, 0.5, 1.0);
        b.addRow(NOREP, 0, 1, 4, null, null, 0.5, 1.0);
        b.addRow(POS, 0, 1, 4, 0.6, 0.6, 0.5, 1.0);
        JsonNode summary = json("{'top_heads_on_positive_examples': [{'layer': 0, 'head': 0}, {'layer': 0, 'head': 1}]}");
        var c = CandidateSelectionStage.select(summary, b.build(), new CandidateSelectionStage.Selection(5, 5, 5, 5, 0));
        assertThat(c).hasSize(2); // every head is already a candidate: no random heads are left
        assertThat(c.get(0).rawPositiveAttention()).isZero();
        assertThat(c.get(0).maxControlFamily()).isEqualTo("a_control");
        assertThat(c.get(0).positiveMinusControlAttentionGap()).isEqualTo(-0.3);
        assertThat(c.get(1).maxControlAttention()).isZero();
        assertThat(c.get(1).maxControlFamily()).isEmpty();
        assertThat(c.get(1).gapPositive()).isTrue();
        assertThat(c.get(1).expectedSpecificity()).isEqualTo("attention_gap_candidate");
    }

    @Test
    void markdownListsNonspecificAndComparisonCandidates() throws Exception {
        var c = CandidateSelectionStage.select(logLikeSummary(), familyTable(), CandidateSelectionStage.Selection.defaults(0));
        String md = CandidateSelectionStage.markdown("controls/seed0", c, CandidateSelectionStage.Selection.defaults(0));
        assertThat(md).contains("- `controls/seed0/attention_summary.json`", "Any positive-minus-control attention gaps selected: False.",
                "- `cand_001` L9H9 gap=-0.401000; expected to be nonspecific", "- `cand_010` L7H7\n");
    }
}
