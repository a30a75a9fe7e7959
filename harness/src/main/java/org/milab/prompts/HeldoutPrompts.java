package org.milab.prompts;

import static org.milab.prompts.SequencePools.concat;
import static org.milab.prompts.SequencePools.dropLast;
import static org.milab.prompts.SequencePools.fromEnd;
import static org.milab.prompts.SequencePools.join;
import static org.milab.prompts.SequencePools.spaced;

import java.util.ArrayList;
import java.util.List;

/**
 * The held-out set ({@code task: induction_heldout}; reference {@code heldout_prompts.py}): four positive
 * and two control families. Pools are seeded with strings: one pool {@code "<seed>:heldout_symbolic_longer"}
 * over {@link #SYMBOLIC} is shared by the symbolic, wrong-target and no-structure families; every other
 * family has its own {@code "<seed>:<family>"} pool, so family order does not change any pool.
 */
public final class HeldoutPrompts {
    public static final String TASK = "induction_heldout";

    /** {@code HELDOUT_FAMILIES}: the four positives then the two controls. */
    public static final List<PromptFamily> FAMILIES = List.of(
            PromptFamily.positive("heldout_symbolic_longer", TASK),
            PromptFamily.positive("heldout_word_sequences", TASK),
            PromptFamily.positive("heldout_number_sequences", TASK),
            PromptFamily.positive("heldout_double_repeat", TASK),
            PromptFamily.control("heldout_wrong_target_same_prompt", TASK),
            PromptFamily.control("heldout_no_structure_same_tokens", TASK));

    public static final List<List<String>> SYMBOLIC = List.of(
            List.of("A", "B", "C", "D", "E", "F"),
            List.of("G", "H", "I", "J", "K", "L"),
            List.of("M", "N", "O", "P", "Q", "R"),
            List.of("S", "T", "U", "V", "W", "X"));

    public static final List<List<String>> WORD = List.of(
            List.of("red", "blue", "green", "yellow"),
            List.of("cat", "dog", "bird", "fish"),
            List.of("north", "south", "east", "west"),
            List.of("spring", "summer", "autumn", "winter"),
            List.of("iron", "copper", "silver", "gold"),
            List.of("circle", "square", "triangle", "star"));

    public static final List<List<String>> NUMBER = List.of(
            List.of("one", "two", "three", "four"),
            List.of("two", "four", "six", "eight"),
            List.of("three", "five", "seven", "nine"),
            List.of("ten", "eleven", "twelve", "thirteen"));

    public static final List<List<String>> DOUBLE_REPEAT = List.of(
            List.of("A", "B", "C", "X", "Y"),
            List.of("red", "blue", "green", "black", "white"),
            List.of("one", "two", "three", "zero", "four"),
            List.of("cat", "dog", "bird", "fish", "horse"));

    private static final String SYMBOLIC_FAMILY = "heldout_symbolic_longer";

    private HeldoutPrompts() {}

    /** All six families, {@code perFamily} records each. */
    public static List<PromptRecord> generate(long seed, int perFamily) {
        return generate(seed, perFamily, null);
    }

    /** The given families (null or empty: all six) in the given order. */
    public static List<PromptRecord> generate(long seed, int perFamily, List<String> families) {
        return SequencePools.generate(seed, perFamily, families, FAMILIES, "held-out", HeldoutPrompts::pool, HeldoutPrompts::record);
    }

    /** The shuffled pool a family draws from for {@code seed}. */
    public static List<List<String>> pool(long seed, String family) {
        return switch (family) {
            case SYMBOLIC_FAMILY, "heldout_wrong_target_same_prompt", "heldout_no_structure_same_tokens" ->
                    SequencePools.shuffled(SYMBOLIC, new PyRandom(seed + ":" + SYMBOLIC_FAMILY));
            case "heldout_word_sequences" -> SequencePools.shuffled(WORD, new PyRandom(seed + ":" + family));
            case "heldout_number_sequences" -> SequencePools.shuffled(NUMBER, new PyRandom(seed + ":" + family));
            case "heldout_double_repeat" -> SequencePools.shuffled(DOUBLE_REPEAT, new PyRandom(seed + ":" + family));
            default -> throw new IllegalArgumentException("Unknown held-out family '" + family + "'");
        };
    }

    /** {@code _heldout_record}. */
    static PromptRecord record(String family, List<String> s, int index) {
        int n = s.size();
        List<String> repeat = concat(s, dropLast(s, 1));
        String trueExpected = spaced(fromEnd(s, 1));
        String wrong = wrongToken(s, trueExpected);
        PromptRecord.Builder b = PromptRecord.builder()
                .exampleId(SequencePools.id(family, index))
                .task(TASK)
                .family(family)
                .sequenceTokens(s)
                .targetPositionLabel("final")
                .baseSequenceId(SequencePools.id("heldout_sequence", index))
                .familyIndex(index)
                .trueExpectedNextToken(trueExpected)
                .wrongOrControlToken(wrong);
        switch (family) {
            case SYMBOLIC_FAMILY -> positive(b, family, s, index, noStructure(s),
                    "Longer symbolic repeated-prefix prompt.", "Longer symbolic repeated-prefix prompt.");
            case "heldout_word_sequences" -> positive(b, family, s, index, noStructure(s),
                    "Common-word repeated-prefix prompt.", "Common-word repeated-prefix prompt.");
            case "heldout_number_sequences" -> positive(b, family, s, index, noStructure(s),
                    "Number-word repeated-prefix prompt.", "Number-word repeated-prefix prompt.");
            case "heldout_double_repeat" -> positive(b, family, s, index,
                    concat(s, List.of(s.get(0), s.get(2), s.get(1))),
                    "Two repeated subsequences are present; only the final repeated prefix licenses the target.",
                    "Double-repeat positive prompt with a distractor pattern.");
            case "heldout_wrong_target_same_prompt" -> control(b, family, index)
                    .prompt(join(repeat))
                    .promptTokensText(repeat)
                    .expectedNextToken(wrong)
                    .controlPrompt(join(repeat))
                    .repeatedPrefixLength(n - 1)
                    .notes("Target-specificity control: same prompt as positive but scored against a wrong target.")
                    .heldoutConstructionNote("Wrong-target same-prompt control.");
            case "heldout_no_structure_same_tokens" -> {
                List<String> bag = noStructure(s);
                control(b, family, index)
                        .prompt(join(bag))
                        .promptTokensText(bag)
                        .expectedNextToken(trueExpected)
                        .controlPrompt(join(repeat))
                        .repeatedPrefixLength(0)
                        .notes("Structure-specificity control: same token bag without ordered repeated-prefix structure.")
                        .heldoutConstructionNote("Same-token-bag control with no induction structure.");
            }
            default -> throw new IllegalArgumentException("Unknown held-out family '" + family + "'");
        }
        return b.build();
    }

    private static void positive(PromptRecord.Builder b, String family, List<String> s, int index,
            List<String> control, String notes, String constructionNote) {
        List<String> prompt = concat(s, dropLast(s, 1));
        int source = s.size() - 2;
        b.prompt(join(prompt))
                .promptTokensText(prompt)
                .expectedNextToken(spaced(fromEnd(s, 1)))
                .controlPrompt(join(control))
                .notes(notes)
                .repeatedPrefixLength(s.size() - 1)
                .expectedSourceToken(s.get(source))
                .expectedSourcePositionHint(source)
                .positiveInductionExample(true)
                .controlFamily("")
                .shouldShowInductionBehavior(true)
                .pairedPositiveExampleId(SequencePools.id(family, index))
                .heldoutFamilyType("positive")
                .heldoutConstructionNote(constructionNote);
    }

    private static PromptRecord.Builder control(PromptRecord.Builder b, String family, int index) {
        return b.expectedSourceToken("")
                .expectedSourcePositionHint(null)
                .positiveInductionExample(false)
                .controlFamily(family)
                .shouldShowInductionBehavior(false)
                .pairedPositiveExampleId(SequencePools.id(SYMBOLIC_FAMILY, index))
                .heldoutFamilyType("control");
    }

    /**
     * {@code _no_structure_tokens}: for n >= 6 the fixed 11-word scramble s0 s2 s4 s1 s3 s5 s2 s0 s4 s1 s3;
     * shorter sequences get {@code s + [s[-2], s0, s1, s[-3]]}.
     */
    static List<String> noStructure(List<String> s) {
        if (s.size() >= 6) {
            return List.of(s.get(0), s.get(2), s.get(4), s.get(1), s.get(3), s.get(5), s.get(2), s.get(0),
                    s.get(4), s.get(1), s.get(3));
        }
        return concat(s, List.of(fromEnd(s, 2), s.get(0), s.get(1), fromEnd(s, 3)));
    }

    /** {@code _wrong_token}: the first of s0..s[n-2], " X", " zero", " other" whose spaced form is not true. */
    static String wrongToken(List<String> s, String trueExpected) {
        List<String> candidates = concat(dropLast(s, 1), List.of(" X", " zero", " other"));
        for (String token : candidates) {
            String spaced = token.startsWith(" ") ? token : spaced(token);
            if (!spaced.equals(trueExpected)) {
                return spaced;
            }
        }
        return " X";
    }
}
