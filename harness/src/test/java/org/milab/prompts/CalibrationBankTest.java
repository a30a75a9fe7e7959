package org.milab.prompts;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.List;
import org.junit.jupiter.api.Test;

/** The bank against the table of reference-protocol.md section 4.5, recomputed from each base's words. */
class CalibrationBankTest {

    @Test
    void hasSeventyTwoRowsInBaseThenFamilyOrder() {
        List<CalibrationPrompt> rows = CalibrationBank.build();
        assertThat(rows).hasSize(72);
        assertThat(rows.get(0).exampleId()).isEqualTo("calib_clean_repeat_symbolic_symbolic_short_00");
        assertThat(rows.get(1).exampleId()).isEqualTo("calib_clean_repeat_format_variant_symbolic_short_00");
        assertThat(rows.get(15).exampleId()).isEqualTo("calib_frequency_trap_control_symbolic_medium_01");
        assertThat(rows.get(40).exampleId()).isEqualTo("calib_clean_repeat_word_word_long_02");
        assertThat(rows.get(71).exampleId()).isEqualTo("calib_frequency_trap_control_number_long_02");
        assertThat(rows).extracting(CalibrationPrompt::exampleId).doesNotHaveDuplicates();
        assertThat(rows).allSatisfy(r -> assertThat(r.task()).isEqualTo("induction_metric_calibration"));
        assertThat(rows).filteredOn(CalibrationPrompt::shouldShowInductionBehavior).hasSize(18);
    }

    @Test
    void everyRowFollowsTheSectionFourFiveTable() {
        List<CalibrationPrompt> rows = CalibrationBank.build();
        for (int b = 0; b < 9; b++) {
            CalibrationBank.Base base = CalibrationBank.BASES.get(b);
            List<String> s = base.sequence();
            int n = s.size();
            String words = String.join(" ", s);
            String prefix = String.join(" ", s.subList(0, n - 1));
            String t = " " + s.get(n - 1);
            String c0 = " " + s.get(0);
            String c1 = " " + s.get(1);
            String suffix = "_" + base.tokenDomain() + "_" + base.lengthBucket() + "_0"
                    + List.of("short", "medium", "long").indexOf(base.lengthBucket());
            List<CalibrationPrompt> eight = rows.subList(8 * b, 8 * b + 8);
            check(eight.get(0), "calib_clean_repeat_" + base.tokenDomain() + suffix, words + " " + prefix, t, c0, true);
            check(eight.get(1), "calib_clean_repeat_format_variant" + suffix, words + "\n" + prefix, t, c0, true);
            check(eight.get(2), "calib_wrong_target_same_prompt" + suffix, words + " " + prefix, c0, t, false);
            check(eight.get(3), "calib_target_swap_control" + suffix, words + " " + prefix, c1, t, false);
            check(eight.get(4), "calib_same_token_frequency_control" + suffix,
                    words + " " + s.get(n - 2) + " " + s.get(0) + " " + s.get(1), t, c0, false);
            StringBuilder reversed = new StringBuilder(words);
            for (int i = n - 2; i >= 0; i--) {
                reversed.append(' ').append(s.get(i));
            }
            check(eight.get(5), "calib_reversed_order_control" + suffix, reversed.toString(), t, c0, false);
            check(eight.get(6), "calib_no_repeat_control" + suffix,
                    words + " " + String.join(" ", base.distractors().subList(0, n - 1)), t, c0, false);
            check(eight.get(7), "calib_frequency_trap_control" + suffix,
                    words + (" " + s.get(n - 1)).repeat(n - 1), t, c0, false);
        }
    }

    @Test
    void symbolicShortRowsAreTheSpecExamples() {
        List<CalibrationPrompt> rows = CalibrationBank.build();
        assertThat(rows.subList(0, 8)).extracting(CalibrationPrompt::prompt).containsExactly(
                "A B C D A B C", "A B C D\nA B C", "A B C D A B C", "A B C D A B C",
                "A B C D C A B", "A B C D C B A", "A B C D X Y Z", "A B C D D D D");
        assertThat(rows.get(3).controlRationale())
                .isEqualTo("Same prompt with target swapped to another sequence token.");
        assertThat(rows.get(0).controlRationale()).isEqualTo("Positive repeated-prefix prompt.");
        assertThat(rows.get(2).expectedBehavior()).isEqualTo("low_true_vs_control_logit_diff");
    }

    private static void check(CalibrationPrompt r, String id, String prompt, String trueToken, String control,
            boolean positive) {
        assertThat(r.exampleId()).isEqualTo(id);
        assertThat(r.prompt()).isEqualTo(prompt);
        assertThat(r.trueExpectedNextToken()).isEqualTo(trueToken).isEqualTo(r.expectedNextToken());
        assertThat(r.wrongOrControlToken()).isEqualTo(control);
        assertThat(r.shouldShowInductionBehavior()).isEqualTo(positive);
        assertThat(r.expectedBehavior())
                .isEqualTo(positive ? "high_true_vs_control_logit_diff" : "low_true_vs_control_logit_diff");
        assertThat(positive ? CalibrationBank.POSITIVE_FAMILIES : CalibrationBank.CONTROL_FAMILIES)
                .contains(r.family());
    }
}
