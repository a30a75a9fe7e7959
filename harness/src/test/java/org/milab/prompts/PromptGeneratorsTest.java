package org.milab.prompts;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.List;
import java.util.Map;
import java.util.function.Function;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;
import org.milab.util.UserError;

/**
 * The verified examples of reference-protocol.md section 4 (checked there against the reference's committed
 * outputs) plus the structural rules of the generator tables, recomputed here from the pool entry.
 */
class PromptGeneratorsTest {

    private static Map<String, PromptRecord> byId(List<PromptRecord> records) {
        return records.stream().collect(Collectors.toMap(PromptRecord::exampleId, Function.identity()));
    }

    @Test
    void heldoutVerifiedExamples() {
        // section 4.3: seed 12 heldout_symbolic_longer_0003 = "N O P Q R M N O P Q R" (true " M", wrong " N")
        PromptRecord r = byId(HeldoutPrompts.generate(12, 24)).get("heldout_symbolic_longer_0003");
        assertThat(r.prompt()).isEqualTo("N O P Q R M N O P Q R");
        assertThat(r.trueExpectedNextToken()).isEqualTo(" M");
        assertThat(r.wrongOrControlToken()).isEqualTo(" N");
        assertThat(r.expectedSourcePositionHint()).isEqualTo(4);
        // seed 10 heldout_word_sequences_0000 = "bird fish cat dog bird fish cat"
        assertThat(byId(HeldoutPrompts.generate(10, 24)).get("heldout_word_sequences_0000").prompt())
                .isEqualTo("bird fish cat dog bird fish cat");
    }

    @Test
    void characterizationVerifiedExamples() {
        // section 4.4: seed 21 char_multi_distractor_0000 = "A B C X Y A B C X A X"
        PromptRecord multi = byId(CharacterizationPrompts.generate(21, 12)).get("char_multi_distractor_0000");
        assertThat(multi.prompt()).isEqualTo("A B C X Y A B C X A X");
        assertThat(multi.distractorPositionHint()).isEqualTo(9);
        assertThat(multi.tokenDomain()).isEqualTo("symbolic");
        assertThat(multi.sequenceLengthBucket()).isEqualTo("medium");
        assertThat(multi.characterizationAxis()).isEqualTo("distractor");
        // seed 20 char_target_swap_control_0003 = "C D A B C D A", paired with clean "L M J K L M J"
        Map<String, PromptRecord> seed20 = byId(CharacterizationPrompts.generate(20, 12));
        PromptRecord swap = seed20.get("char_target_swap_control_0003");
        assertThat(swap.prompt()).isEqualTo("C D A B C D A");
        assertThat(swap.pairedPositiveExampleId()).isEqualTo("char_symbolic_short_0003");
        assertThat(seed20.get(swap.pairedPositiveExampleId()).prompt()).isEqualTo("L M J K L M J");
        assertThat(swap.expectedNextToken()).isEqualTo(" C").isEqualTo(swap.wrongOrControlToken());
        assertThat(swap.trueExpectedNextToken()).isEqualTo(" B");
    }

    @Test
    void controlFamiliesFollowTheSectionFourTwoTable() {
        List<PromptRecord> records = ControlPrompts.generate(0, 32);
        assertThat(records).hasSize(192);
        List<List<String>> pool = BasicInductionPrompts.pool(0);
        assertThat(pool).hasSize(40);
        Map<String, PromptRecord> ids = byId(records);
        for (int i = 0; i < 32; i++) {
            List<String> s = pool.get(i);
            int n = s.size();
            String tail = String.join(" ", s);
            String trueToken = " " + s.get(n - 1);
            String idx = String.format("%04d", i);
            PromptRecord pos = ids.get("positive_repeat_sequence_" + idx);
            assertThat(pos.prompt()).isEqualTo(tail + " " + String.join(" ", s.subList(0, n - 1)));
            assertThat(pos.expectedSourcePositionHint()).isEqualTo(n - 2);
            int index = i;
            for (PromptRecord r : records.stream().filter(r -> r.familyIndex() == index).toList()) {
                assertThat(r.controlPrompt()).isEqualTo(tail + " X Y Z");
                assertThat(r.pairedPositiveExampleId()).isEqualTo("positive_repeat_sequence_" + idx);
                assertThat(r.trueExpectedNextToken()).isEqualTo(trueToken);
                assertThat(r.sequenceTokens()).isEqualTo(s);
            }
            PromptRecord distractor = ids.get("distractor_repeat_control_" + idx);
            // for 3-word sequences the distractor prompt is identical to the positive prompt
            assertThat(distractor.prompt().equals(pos.prompt())).isEqualTo(n == 3);
            PromptRecord random = ids.get("random_expected_token_control_" + idx);
            assertThat(random.prompt()).isEqualTo(pos.prompt());
            assertThat(random.expectedNextToken()).isEqualTo(" X");
            assertThat(random.notes()).endsWith("true positive expected token would be '" + trueToken + "'.");
            PromptRecord noRepeat = ids.get("no_repeat_control_" + idx);
            assertThat(noRepeat.expectedSourcePositionHint()).isNull();
            assertThat(noRepeat.csvValues().get(PromptRecord.COLUMNS.indexOf("expected_source_position_hint")))
                    .isEmpty();
        }
    }

    @Test
    void basicInductionWrapsThePoolAfterFortyExamples() {
        List<PromptRecord> records = BasicInductionPrompts.generate(0, 64);
        assertThat(records.get(40).prompt()).isEqualTo(records.get(0).prompt());
        assertThat(records.get(63).prompt()).isEqualTo(records.get(23).prompt());
        assertThat(records).allSatisfy(r -> {
            assertThat(r.controlPrompt()).endsWith(" X");
            assertThat(r.wrongOrControlToken()).isEqualTo(" X");
        });
        // the controls set draws the same pool for the same seed
        assertThat(ControlPrompts.generate(0, 40).subList(0, 40))
                .extracting(PromptRecord::prompt)
                .containsExactlyElementsOf(records.subList(0, 40).stream().map(PromptRecord::prompt).toList());
    }

    @Test
    void heldoutFamiliesShareTheSymbolicPool() {
        List<PromptRecord> records = HeldoutPrompts.generate(11, 24);
        assertThat(records).hasSize(144);
        Map<String, PromptRecord> ids = byId(records);
        for (int i = 0; i < 24; i++) {
            String idx = String.format("%04d", i);
            PromptRecord symbolic = ids.get("heldout_symbolic_longer_" + idx);
            PromptRecord wrong = ids.get("heldout_wrong_target_same_prompt_" + idx);
            PromptRecord noStructure = ids.get("heldout_no_structure_same_tokens_" + idx);
            assertThat(wrong.prompt()).isEqualTo(symbolic.prompt()).isEqualTo(wrong.controlPrompt());
            assertThat(wrong.expectedNextToken()).isEqualTo(" " + symbolic.sequenceTokens().get(0));
            assertThat(noStructure.prompt()).isEqualTo(symbolic.controlPrompt());
            assertThat(noStructure.promptTokensText()).hasSize(11);
            assertThat(noStructure.pairedPositiveExampleId()).isEqualTo(symbolic.exampleId());
        }
        // family order does not change any pool (each pool has its own string seed)
        List<PromptRecord> reversed = HeldoutPrompts.generate(11, 24,
                List.of("heldout_double_repeat", "heldout_word_sequences"));
        assertThat(reversed.get(0).prompt()).isEqualTo(ids.get("heldout_double_repeat_0000").prompt());
        assertThat(reversed.get(24).prompt()).isEqualTo(ids.get("heldout_word_sequences_0000").prompt());
    }

    @Test
    void characterizationControlsUseTheirOwnSymbolicShortPool() {
        // section 4.4: the controls' pool "<seed>:symbolic_short" is a different order from char_symbolic_short's
        assertThat(CharacterizationPrompts.pool(20, "char_reversed_control"))
                .isNotEqualTo(CharacterizationPrompts.pool(20, "char_symbolic_short"))
                .containsExactlyInAnyOrderElementsOf(CharacterizationPrompts.pool(20, "char_symbolic_short"));
        List<PromptRecord> records = CharacterizationPrompts.generate(22, 12);
        assertThat(records).hasSize(108);
        assertThat(records).filteredOn(r -> r.family().equals("char_word_long"))
                .allSatisfy(r -> assertThat(r.sequenceLengthBucket()).isEqualTo("long"));
        assertThat(records).filteredOn(PromptRecord::positiveInductionExample)
                .allSatisfy(r -> assertThat(r.wrongOrControlToken()).isEqualTo(" " + r.sequenceTokens().get(0)));
    }

    @Test
    void badArgumentsAreUserErrors() {
        assertThatThrownBy(() -> ControlPrompts.generate(0, 4, List.of("positive_repeat_sequence", "nope")))
                .isInstanceOf(UserError.class).hasMessageContaining("nope").hasMessageContaining("Fix:");
        assertThatThrownBy(() -> HeldoutPrompts.generate(10, 0)).isInstanceOf(UserError.class);
        assertThatThrownBy(() -> BasicInductionPrompts.generate(0, -1)).isInstanceOf(UserError.class);
        assertThatThrownBy(() -> CharacterizationPrompts.generate(20, 4, List.of("char_bogus")))
                .isInstanceOf(UserError.class);
    }
}
