package org.milab.protocol.reference;

import org.junit.jupiter.api.Test;
import org.milab.graph.Head;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;

/** S17's Markdown: scores beside every effect, unstable-denominator rows apart; its table keeps the reference's slices. */
class CharacterizationCounterexampleReportTest {

    static CharacterizationCounterexampleStage.Row row(String example, String family, String type, double clean, double corrupt, double patched) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("seed", 20L);
        m.put("candidate_id", "heldout_cand_000");
        m.put("candidate_group", "replicated_candidate");
        m.put("layer", 1L);
        m.put("head", 2L);
        m.put("family", family);
        m.put("heldout_family_type", type);
        m.put("example_id", example);
        m.put("token_domain", "word");
        m.put("sequence_length_bucket", "short");
        m.put("intervention", "head_clean_to_corrupt_patch");
        m.put("position_label", "final");
        m.put("clean_score", clean);
        m.put("corrupt_score", corrupt);
        m.put("patched_score", patched);
        m.put("effect_size", (patched - corrupt) / (clean - corrupt));
        m.put("effect_size_status", "ok");
        return new CharacterizationCounterexampleStage.Row(m);
    }

    @Test
    void theReportRanksOnlyStableRowsAndShowsTheirScores() {
        List<CharacterizationCounterexampleStage.Row> rows = new ArrayList<>();
        for (int i = 0; i < 4; i++) rows.add(row("pos_" + i, "char_word_short", "positive", 10.0, 0.0, 2.0 * i));
        // |clean - corrupt| = 0.02: a 0.1 move reads as an effect of 5
        rows.add(row("tiny", "char_word_short", "positive", 1.0, 0.98, 1.08));
        rows.add(row("ctl_0", "char_reversed_control", "control", 6.0, 2.0, 3.0));

        List<Map<String, Object>> table = CharacterizationCounterexampleStage.select(rows, 8);
        assertThat(table.get(0).get("example_id")).as("the table keeps the reference's ranking").isEqualTo("tiny");
        assertThat(table.get(0).keySet()).containsExactlyElementsOf(CharacterizationCounterexampleStage.COLUMNS);

        String md = CharacterizationCounterexampleStage.markdown("L1H2",
                new HeldoutCandidateStage.Candidate("heldout_cand_000", new Head(1, 2), "replicated_candidate", "r", 0.1, "x", false, false, true), rows);
        String success = md.substring(md.indexOf("## strongest_positive_success"), md.indexOf("## strongest_positive_failure"));
        assertThat(success).doesNotContain("| 5 |")
                .contains("| seed | family | intervention | position_label | token_domain | sequence_length_bucket | clean | corrupt | patched | "
                        + "raw delta (patched - corrupt) | clean - corrupt | normalized effect |")
                // the strongest stable row first: clean 10, corrupt 0, patched 6 -> raw delta 6, effect 0.6
                .contains("| 20 | char_word_short | head_clean_to_corrupt_patch | final | word | short | 10 | 0 | 6 | 6 | 10 | 0.6 |");
        String control = md.substring(md.indexOf("## control_moved"), md.indexOf("## wrong_target_control_moved"));
        assertThat(control).contains("| 6 | 2 | 3 | 1 | 4 | 0.25 |");
        String unstable = md.substring(md.indexOf("## Unstable rows"));
        assertThat(unstable).contains("The same slices over the 1 unstable rows")
                .contains("| strongest_positive_success | 20 | char_word_short |").contains("| 1 | 0.98 | 1.08 | 0.1 | 0.02 | 5 |");
        assertThat(md).contains("Here 5 rows clear the floor and 1 do not.");
    }
}
