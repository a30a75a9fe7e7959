package org.milab.prompts;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * Selected family indices per family. Expected values: python3 running the reference's selection function
 * ({@code selected_records}: sort by family_index, shuffle with one Random(seed) carried across families,
 * keep k, re-sort) on the reference generators' records. The distractor counts are also the protocol's
 * [verified] numbers (section S11).
 */
class ExampleSelectionTest {

    private static Map<String, List<Integer>> indices(List<PromptRecord> selected) {
        Map<String, List<Integer>> out = new LinkedHashMap<>();
        for (PromptRecord r : selected) {
            out.computeIfAbsent(r.family(), f -> new ArrayList<>()).add(r.familyIndex());
        }
        return out;
    }

    @Test
    void headSweepSelectionsForSeedsZeroOneTwo() {
        assertThat(indices(ExampleSelection.select(ControlPrompts.generate(0, 32),
                ExampleSelection.HEAD_SWEEP_FAMILIES, 8, 0))).containsExactly(
                Map.entry("positive_repeat_sequence", List.of(0, 3, 5, 7, 10, 19, 20, 29)),
                Map.entry("distractor_repeat_control", List.of(4, 21, 23, 24, 26, 28, 29, 30)),
                Map.entry("random_expected_token_control", List.of(0, 2, 4, 7, 8, 11, 30, 31)),
                Map.entry("same_token_frequency_control", List.of(0, 3, 5, 11, 13, 18, 23, 27)));
        assertThat(indices(ExampleSelection.select(ControlPrompts.generate(1, 32),
                ExampleSelection.HEAD_SWEEP_FAMILIES, 8, 1))).containsExactly(
                Map.entry("positive_repeat_sequence", List.of(1, 4, 5, 10, 11, 17, 26, 28)),
                Map.entry("distractor_repeat_control", List.of(2, 5, 8, 9, 18, 23, 26, 31)),
                Map.entry("random_expected_token_control", List.of(0, 3, 4, 11, 17, 20, 25, 31)),
                Map.entry("same_token_frequency_control", List.of(2, 4, 10, 17, 21, 25, 26, 27)));
        assertThat(indices(ExampleSelection.select(ControlPrompts.generate(2, 32),
                ExampleSelection.HEAD_SWEEP_FAMILIES, 8, 2))).containsExactly(
                Map.entry("positive_repeat_sequence", List.of(0, 4, 16, 18, 20, 25, 29, 31)),
                Map.entry("distractor_repeat_control", List.of(1, 3, 9, 13, 15, 18, 19, 22)),
                Map.entry("random_expected_token_control", List.of(0, 1, 6, 12, 13, 27, 29, 30)),
                Map.entry("same_token_frequency_control", List.of(5, 9, 13, 14, 15, 22, 28, 29)));
    }

    @Test
    void selectedThreeWordDistractorsMatchTheVerifiedCounts() {
        // reference-protocol.md S11 [verified]: 7/8 (seed 0), 5/8 (seed 1), 6/8 (seed 2)
        int[] expected = {7, 5, 6};
        for (int seed = 0; seed < 3; seed++) {
            long threeWord = ExampleSelection.select(ControlPrompts.generate(seed, 32),
                            ExampleSelection.HEAD_SWEEP_FAMILIES, 8, seed).stream()
                    .filter(r -> r.family().equals("distractor_repeat_control") && r.sequenceTokens().size() == 3)
                    .count();
            assertThat(threeWord).as("seed %d", seed).isEqualTo(expected[seed]);
        }
    }

    @Test
    void heldoutSelectionsInDefaultFamilyOrder() {
        List<PromptRecord> seed10 = ExampleSelection.select(HeldoutPrompts.generate(10, 24),
                ExampleSelection.HELDOUT_FAMILIES, 12, 10);
        assertThat(seed10).hasSize(72);
        assertThat(indices(seed10)).containsExactly(
                Map.entry("heldout_symbolic_longer", List.of(2, 3, 5, 7, 8, 9, 11, 12, 16, 17, 19, 22)),
                Map.entry("heldout_word_sequences", List.of(0, 1, 3, 4, 6, 7, 15, 17, 18, 20, 21, 22)),
                Map.entry("heldout_number_sequences", List.of(0, 1, 3, 4, 6, 8, 12, 16, 18, 19, 21, 22)),
                Map.entry("heldout_double_repeat", List.of(0, 1, 5, 6, 8, 9, 10, 13, 14, 15, 19, 23)),
                Map.entry("heldout_wrong_target_same_prompt", List.of(0, 1, 2, 4, 7, 10, 12, 13, 16, 20, 21, 22)),
                Map.entry("heldout_no_structure_same_tokens", List.of(0, 3, 4, 5, 6, 9, 10, 11, 13, 14, 18, 23)));
        assertThat(indices(ExampleSelection.select(HeldoutPrompts.generate(11, 24),
                ExampleSelection.HELDOUT_FAMILIES, 12, 11)).get("heldout_no_structure_same_tokens"))
                .containsExactly(2, 8, 9, 10, 11, 13, 14, 16, 20, 21, 22, 23);
        assertThat(indices(ExampleSelection.select(HeldoutPrompts.generate(12, 24),
                ExampleSelection.HELDOUT_FAMILIES, 12, 12)).get("heldout_wrong_target_same_prompt"))
                .containsExactly(8, 9, 10, 13, 14, 15, 16, 18, 20, 21, 22, 23);
    }

    @Test
    void characterizationSelectsFamiliesAlphabetically() {
        List<PromptRecord> records = CharacterizationPrompts.generate(20, 12);
        assertThat(ExampleSelection.alphabeticalFamilies(records)).containsExactly(
                "char_multi_distractor", "char_number_long", "char_number_short", "char_reversed_control",
                "char_symbolic_long", "char_symbolic_short", "char_target_swap_control", "char_word_long",
                "char_word_short");
        assertThat(indices(ExampleSelection.selectAlphabetical(records, 4, 20))).containsExactly(
                Map.entry("char_multi_distractor", List.of(0, 3, 5, 7)),
                Map.entry("char_number_long", List.of(0, 7, 8, 9)),
                Map.entry("char_number_short", List.of(1, 2, 3, 7)),
                Map.entry("char_reversed_control", List.of(2, 4, 5, 7)),
                Map.entry("char_symbolic_long", List.of(3, 6, 7, 10)),
                Map.entry("char_symbolic_short", List.of(3, 6, 7, 10)),
                Map.entry("char_target_swap_control", List.of(3, 4, 7, 11)),
                Map.entry("char_word_long", List.of(2, 4, 6, 10)),
                Map.entry("char_word_short", List.of(1, 2, 3, 8)));
        assertThat(indices(ExampleSelection.selectAlphabetical(CharacterizationPrompts.generate(21, 12), 4, 21))
                .get("char_word_short")).containsExactly(2, 3, 7, 8);
        assertThat(indices(ExampleSelection.selectAlphabetical(CharacterizationPrompts.generate(22, 12), 4, 22))
                .get("char_reversed_control")).containsExactly(0, 1, 3, 7);
    }

    @Test
    void ovQkSelectsPositivesInDeclaredOrder() {
        assertThat(indices(ExampleSelection.selectPositives(CharacterizationPrompts.generate(20, 12),
                ExampleSelection.OV_QK_FAMILIES, 4, 20))).containsExactly(
                Map.entry("char_symbolic_short", List.of(0, 3, 5, 7)),
                Map.entry("char_symbolic_long", List.of(0, 7, 8, 9)),
                Map.entry("char_word_short", List.of(1, 2, 3, 7)),
                Map.entry("char_word_long", List.of(2, 4, 5, 7)),
                Map.entry("char_number_short", List.of(3, 6, 7, 10)),
                Map.entry("char_number_long", List.of(3, 6, 7, 10)),
                Map.entry("char_multi_distractor", List.of(3, 4, 7, 11)));
        assertThat(indices(ExampleSelection.selectPositives(CharacterizationPrompts.generate(22, 12),
                ExampleSelection.OV_QK_FAMILIES, 4, 22)).get("char_multi_distractor")).containsExactly(4, 5, 7, 9);
        // controls never take part, even when named
        assertThat(ExampleSelection.selectPositives(CharacterizationPrompts.generate(20, 12),
                List.of("char_reversed_control"), 4, 20)).isEmpty();
    }

    @Test
    void familyOrderChangesTheSelection() {
        // the generator state carries across families: swapping two families changes who is picked
        List<PromptRecord> records = ControlPrompts.generate(0, 32);
        List<Integer> first = indices(ExampleSelection.select(records, List.of("positive_repeat_sequence",
                "no_repeat_control"), 8, 0)).get("no_repeat_control");
        List<Integer> alone = indices(ExampleSelection.select(records, List.of("no_repeat_control"), 8, 0))
                .get("no_repeat_control");
        assertThat(alone).isEqualTo(List.of(0, 3, 5, 7, 10, 19, 20, 29)); // same draws as the first family above
        assertThat(first).isNotEqualTo(alone);
    }
}
