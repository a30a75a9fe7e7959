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
 * The characterization set ({@code task: candidate_characterization}; reference
 * {@code characterization_prompts.py}): seven positive families, each over its own string-seeded pool
 * {@code "<seed>:<family>"}, and two controls sharing a pool seeded {@code "<seed>:symbolic_short"} over
 * {@link #SYMBOLIC_SHORT}. That control pool is a different order from the {@code char_symbolic_short}
 * pool the controls are paired with (reference behaviour, kept on purpose).
 */
public final class CharacterizationPrompts {
    public static final String TASK = "candidate_characterization";

    /** {@code CHAR_POSITIVE_FAMILIES}, declared order (also the OV/QK selection order). */
    public static final List<PromptFamily> POSITIVE_FAMILIES = List.of(
            PromptFamily.positive("char_symbolic_short", TASK),
            PromptFamily.positive("char_symbolic_long", TASK),
            PromptFamily.positive("char_word_short", TASK),
            PromptFamily.positive("char_word_long", TASK),
            PromptFamily.positive("char_number_short", TASK),
            PromptFamily.positive("char_number_long", TASK),
            PromptFamily.positive("char_multi_distractor", TASK));

    /** {@code CHAR_CONTROL_FAMILIES}. */
    public static final List<PromptFamily> CONTROL_FAMILIES = List.of(
            PromptFamily.control("char_reversed_control", TASK),
            PromptFamily.control("char_target_swap_control", TASK));

    /** {@code CHARACTERIZATION_FAMILIES} (= the configs' order): positives then controls. */
    public static final List<PromptFamily> FAMILIES = List.copyOf(concatFamilies());

    public static final List<List<String>> SYMBOLIC_SHORT = List.of(
            List.of("A", "B", "C", "D"),
            List.of("E", "F", "G", "H"),
            List.of("J", "K", "L", "M"),
            List.of("N", "P", "Q", "R"));

    public static final List<List<String>> SYMBOLIC_LONG = HeldoutPrompts.SYMBOLIC;

    public static final List<List<String>> WORD_SHORT = List.of(
            List.of("red", "blue", "green", "yellow"),
            List.of("cat", "dog", "bird", "fish"),
            List.of("north", "south", "east", "west"),
            List.of("iron", "copper", "silver", "gold"));

    /**
     * The last sequence ends "omega lambda": an earlier reference revision had "theta", which is not one
     * GPT-2 token (" theta" is absent from the vocabulary), so the committed runs used "omega".
     */
    public static final List<List<String>> WORD_LONG = List.of(
            List.of("red", "blue", "green", "yellow", "black", "white"),
            List.of("spring", "summer", "autumn", "winter", "dawn", "night"),
            List.of("circle", "square", "triangle", "star", "line", "point"),
            List.of("alpha", "beta", "gamma", "delta", "omega", "lambda"));

    public static final List<List<String>> NUMBER_SHORT = HeldoutPrompts.NUMBER;

    public static final List<List<String>> NUMBER_LONG = List.of(
            List.of("one", "two", "three", "four", "five", "six"),
            List.of("two", "four", "six", "eight", "ten", "twelve"),
            List.of("three", "five", "seven", "nine", "eleven", "thirteen"),
            List.of("zero", "one", "two", "three", "four", "five"));

    public static final List<List<String>> MULTI_DISTRACTOR = HeldoutPrompts.DOUBLE_REPEAT;

    private static final Map<String, List<List<String>>> POSITIVE_BASES = Map.of(
            "char_symbolic_short", SYMBOLIC_SHORT,
            "char_symbolic_long", SYMBOLIC_LONG,
            "char_word_short", WORD_SHORT,
            "char_word_long", WORD_LONG,
            "char_number_short", NUMBER_SHORT,
            "char_number_long", NUMBER_LONG,
            "char_multi_distractor", MULTI_DISTRACTOR);

    private CharacterizationPrompts() {}

    /** All nine families, {@code perFamily} records each. */
    public static List<PromptRecord> generate(long seed, int perFamily) {
        return generate(seed, perFamily, null);
    }

    /** The given families (null or empty: all nine) in the given order. */
    public static List<PromptRecord> generate(long seed, int perFamily, List<String> families) {
        return SequencePools.generate(seed, perFamily, families, FAMILIES, "characterization", CharacterizationPrompts::pool, CharacterizationPrompts::record);
    }

    /** The shuffled pool a family draws from for {@code seed}. */
    public static List<List<String>> pool(long seed, String family) {
        if (family.equals("char_reversed_control") || family.equals("char_target_swap_control")) {
            return SequencePools.shuffled(SYMBOLIC_SHORT, new PyRandom(seed + ":symbolic_short"));
        }
        List<List<String>> bases = POSITIVE_BASES.get(family);
        if (bases == null) {
            throw new IllegalArgumentException("Unknown characterization family '" + family + "'");
        }
        return SequencePools.shuffled(bases, new PyRandom(seed + ":" + family));
    }

    /** {@code _characterization_record}. */
    static PromptRecord record(String family, List<String> s, int index) {
        int n = s.size();
        List<String> repeat = concat(s, dropLast(s, 1));
        String trueExpected = spaced(fromEnd(s, 1));
        PromptRecord.Builder b = PromptRecord.builder()
                .exampleId(SequencePools.id(family, index))
                .task(TASK)
                .family(family)
                .sequenceTokens(s)
                .targetPositionLabel("final")
                .baseSequenceId(SequencePools.id("char_sequence", index))
                .familyIndex(index)
                .trueExpectedNextToken(trueExpected)
                .wrongOrControlToken(wrongToken(s, trueExpected));
        switch (family) {
            case "char_reversed_control" -> {
                List<String> reversed = reversedTokens(s);
                control(b, family, index)
                        .prompt(join(reversed))
                        .promptTokensText(reversed)
                        .expectedNextToken(trueExpected)
                        .controlPrompt(join(repeat))
                        .notes("Control with same symbolic-short token set but reversed structure.")
                        .repeatedPrefixLength(0)
                        .heldoutConstructionNote("Reversed-order control.")
                        .characterizationAxis("structure_control");
            }
            case "char_target_swap_control" -> control(b, family, index)
                    .prompt(join(repeat))
                    .promptTokensText(repeat)
                    .expectedNextToken(wrongToken(s, trueExpected))
                    .controlPrompt(join(repeat))
                    .notes("Control with positive prompt but deliberately wrong scored target.")
                    .repeatedPrefixLength(n - 1)
                    .heldoutConstructionNote("Wrong-target same-prompt control.")
                    .characterizationAxis("target_control");
            default -> {
                if (!POSITIVE_BASES.containsKey(family)) {
                    throw new IllegalArgumentException("Unknown characterization family '" + family + "'");
                }
                boolean multi = family.equals("char_multi_distractor");
                List<String> prompt = multi ? concat(repeat, List.of(s.get(0), fromEnd(s, 2))) : repeat;
                int source = n - 2;
                b.prompt(join(prompt))
                        .promptTokensText(prompt)
                        .expectedNextToken(trueExpected)
                        .controlPrompt(join(reversedTokens(s)))
                        .notes("Characterization positive repeated-prefix prompt.")
                        .repeatedPrefixLength(n - 1)
                        .expectedSourceToken(s.get(source))
                        .expectedSourcePositionHint(source)
                        .distractorPositionHint(multi ? prompt.size() - 2 : null)
                        .positiveInductionExample(true)
                        .controlFamily("")
                        .shouldShowInductionBehavior(true)
                        .pairedPositiveExampleId(SequencePools.id(family, index))
                        .heldoutFamilyType("positive")
                        .heldoutConstructionNote("Candidate characterization repeated-prefix positive.")
                        .characterizationAxis(axisFor(family))
                        .sequenceLengthBucket(lengthBucket(family))
                        .tokenDomain(tokenDomain(family));
            }
        }
        return b.build();
    }

    private static PromptRecord.Builder control(PromptRecord.Builder b, String family, int index) {
        return b.expectedSourceToken("")
                .expectedSourcePositionHint(null)
                .positiveInductionExample(false)
                .controlFamily(family)
                .shouldShowInductionBehavior(false)
                .pairedPositiveExampleId(SequencePools.id("char_symbolic_short", index))
                .heldoutFamilyType("control")
                .sequenceLengthBucket("short")
                .tokenDomain("symbolic");
    }

    /** {@code _reversed_tokens}: s + reverse(s[:-1]). */
    static List<String> reversedTokens(List<String> s) {
        List<String> back = new ArrayList<>(dropLast(s, 1));
        Collections.reverse(back);
        return concat(s, back);
    }

    /** {@code _wrong_token}: first of s0..s[n-1], X, zero, other (spaced) differing from true; always " "+s0. */
    static String wrongToken(List<String> s, String expected) {
        for (String token : concat(s, List.of("X", "zero", "other"))) {
            String candidate = spaced(token);
            if (!candidate.equals(expected)) {
                return candidate;
            }
        }
        return " X";
    }

    /** {@code _axis_for_family} (substring tests, as in the reference). */
    static String axisFor(String family) {
        if (family.contains("multi_distractor")) {
            return "distractor";
        }
        if (family.contains("long")) {
            return "sequence_length";
        }
        return "token_domain";
    }

    /** {@code _length_bucket}. */
    static String lengthBucket(String family) {
        if (family.contains("long")) {
            return "long";
        }
        if (family.contains("multi_distractor")) {
            return "medium";
        }
        return "short";
    }

    /** {@code _token_domain}: multi-distractor is "symbolic" even for word or number sequences. */
    static String tokenDomain(String family) {
        if (family.contains("word")) {
            return "word";
        }
        if (family.contains("number")) {
            return "number";
        }
        return "symbolic";
    }

    private static List<PromptFamily> concatFamilies() {
        List<PromptFamily> all = new ArrayList<>(POSITIVE_FAMILIES);
        all.addAll(CONTROL_FAMILIES);
        return all;
    }
}
