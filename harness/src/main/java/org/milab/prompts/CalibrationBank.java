package org.milab.prompts;

import static org.milab.prompts.SequencePools.concat;
import static org.milab.prompts.SequencePools.dropLast;
import static org.milab.prompts.SequencePools.fromEnd;
import static org.milab.prompts.SequencePools.join;
import static org.milab.prompts.SequencePools.spaced;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;

/**
 * The metric-calibration prompt bank ({@code build_calibration_prompt_bank}): no randomness, 9 bases x 8
 * families = 72 rows, base by base, families in {@link #ROW_FAMILY_ORDER} order within a base. Ids are
 * {@code <family>_<domain>_<bucket>_<NN>} with NN = 00/01/02 for short/medium/long.
 */
public final class CalibrationBank {
    public static final String TASK = "induction_metric_calibration";

    /** One base: its domain, length bucket, sequence and the distractor words of the no-repeat control. */
    public record Base(String tokenDomain, String lengthBucket, List<String> sequence, List<String> distractors) {
        public Base {
            sequence = List.copyOf(sequence);
            distractors = List.copyOf(distractors);
        }
    }

    /** {@code _base_sequences}, in order. */
    public static final List<Base> BASES = List.of(
            new Base("symbolic", "short", List.of("A", "B", "C", "D"), List.of("X", "Y", "Z")),
            new Base("symbolic", "medium", List.of("E", "F", "G", "H", "I"), List.of("J", "K", "L", "M")),
            new Base("symbolic", "long", List.of("N", "P", "Q", "R", "S", "T"), List.of("U", "V", "W", "X", "Y")),
            new Base("word", "short", List.of("red", "blue", "green", "yellow"), List.of("black", "white", "gray")),
            new Base("word", "medium", List.of("north", "south", "east", "west", "center"),
                    List.of("left", "right", "up", "down")),
            new Base("word", "long", List.of("cat", "dog", "bird", "fish", "horse", "cow"),
                    List.of("mouse", "lion", "tiger", "bear", "wolf")),
            new Base("number", "short", List.of("one", "two", "three", "four"), List.of("five", "six", "seven")),
            new Base("number", "medium", List.of("two", "four", "six", "eight", "ten"),
                    List.of("one", "three", "five", "seven")),
            new Base("number", "long", List.of("three", "six", "nine", "twelve", "fifteen", "eighteen"),
                    List.of("one", "two", "four", "five", "seven")));

    /** Families of one base's eight rows, in row order ({@code <domain>} is replaced by the base's domain). */
    public static final List<String> ROW_FAMILY_ORDER = List.of(
            "calib_clean_repeat_<domain>",
            "calib_clean_repeat_format_variant",
            "calib_wrong_target_same_prompt",
            "calib_target_swap_control",
            "calib_same_token_frequency_control",
            "calib_reversed_order_control",
            "calib_no_repeat_control",
            "calib_frequency_trap_control");

    /** {@code POSITIVE_FAMILIES} (a set in the reference; listed here in row order). */
    public static final List<String> POSITIVE_FAMILIES = List.of(
            "calib_clean_repeat_symbolic", "calib_clean_repeat_word", "calib_clean_repeat_number",
            "calib_clean_repeat_format_variant");

    /** {@code CONTROL_FAMILIES} (a set in the reference; listed here in row order). */
    public static final List<String> CONTROL_FAMILIES = List.of(
            "calib_wrong_target_same_prompt", "calib_target_swap_control", "calib_same_token_frequency_control",
            "calib_reversed_order_control", "calib_no_repeat_control", "calib_frequency_trap_control");

    private static final Map<String, Integer> BUCKET_INDEX = Map.of("short", 0, "medium", 1, "long", 2);

    private static final Map<String, String> RATIONALES = Map.of(
            "calib_wrong_target_same_prompt", "Same prompt but scored against a deliberately wrong target.",
            "calib_target_swap_control", "Same prompt with target swapped to another sequence token.",
            "calib_same_token_frequency_control",
            "Approximate token counts preserved without repeated-prefix structure.",
            "calib_reversed_order_control", "Repeated material appears in reversed order.",
            "calib_no_repeat_control", "Same initial vocabulary followed by distractors and no repeated prefix.",
            "calib_frequency_trap_control",
            "Expected token frequency is high without the target induction structure.");

    private CalibrationBank() {}

    /** The 72 rows in the reference's order. */
    public static List<CalibrationPrompt> build() {
        List<CalibrationPrompt> rows = new ArrayList<>(BASES.size() * ROW_FAMILY_ORDER.size());
        for (Base base : BASES) {
            rows.addAll(rowsFor(base));
        }
        return List.copyOf(rows);
    }

    /** {@code _rows_for_base_sequence}. */
    static List<CalibrationPrompt> rowsFor(Base base) {
        List<String> s = base.sequence();
        int n = s.size();
        String repeat = join(concat(s, dropLast(s, 1)));
        String expected = spaced(fromEnd(s, 1));
        String control = spaced(s.get(0));
        String secondControl = spaced(s.get(1));
        List<String> reversedPrefix = new ArrayList<>(dropLast(s, 1));
        Collections.reverse(reversedPrefix);
        return List.of(
                row(base, "calib_clean_repeat_" + base.tokenDomain(), repeat, expected, control, true),
                row(base, "calib_clean_repeat_format_variant", join(s) + "\n" + join(dropLast(s, 1)),
                        expected, control, true),
                row(base, "calib_wrong_target_same_prompt", repeat, control, expected, false),
                row(base, "calib_target_swap_control", repeat, secondControl, expected, false),
                row(base, "calib_same_token_frequency_control",
                        join(concat(s, List.of(fromEnd(s, 2), s.get(0), s.get(1)))), expected, control, false),
                row(base, "calib_reversed_order_control", join(concat(s, reversedPrefix)), expected, control, false),
                row(base, "calib_no_repeat_control", join(concat(s, base.distractors().subList(0,
                        Math.min(n - 1, base.distractors().size())))), expected, control, false),
                row(base, "calib_frequency_trap_control",
                        join(concat(s, Collections.nCopies(n - 1, fromEnd(s, 1)))), expected, control, false));
    }

    private static CalibrationPrompt row(Base base, String family, String prompt, String trueToken,
            String controlToken, boolean shouldShow) {
        String id = String.format("%s_%s_%s_%02d", family, base.tokenDomain(), base.lengthBucket(),
                BUCKET_INDEX.get(base.lengthBucket()));
        return new CalibrationPrompt(id, TASK, family, prompt, trueToken, controlToken, trueToken,
                base.tokenDomain(), base.lengthBucket(), shouldShow,
                shouldShow ? "high_true_vs_control_logit_diff" : "low_true_vs_control_logit_diff",
                RATIONALES.getOrDefault(family, "Positive repeated-prefix prompt."));
    }
}
