package org.milab.prompts;

import static org.milab.prompts.SequencePools.concat;
import static org.milab.prompts.SequencePools.dropLast;
import static org.milab.prompts.SequencePools.fromEnd;
import static org.milab.prompts.SequencePools.join;
import static org.milab.prompts.SequencePools.spaced;

import java.util.ArrayList;
import java.util.List;

/**
 * The controls set ({@code task: induction_controls}; reference {@code generate_induction_control_prompts}):
 * six index-aligned families over one integer-seeded pool of {@link BasicInductionPrompts#BASE_SEQUENCES}
 * (the same pool as the basic set for the same seed). Every family's record i uses {@code pool[i % 40]};
 * {@code control_prompt} is always {@code s + X Y Z}; the paired positive is
 * {@code positive_repeat_sequence_<iiii>}.
 */
public final class ControlPrompts {
    public static final String TASK = "induction_controls";

    /** {@code CONTROL_FAMILIES}, in the reference's (and the configs') order. */
    public static final List<PromptFamily> FAMILIES = List.of(
            PromptFamily.positive("positive_repeat_sequence", TASK),
            PromptFamily.control("no_repeat_control", TASK),
            PromptFamily.control("shuffled_repeat_control", TASK),
            PromptFamily.control("distractor_repeat_control", TASK),
            PromptFamily.control("same_token_frequency_control", TASK),
            PromptFamily.control("random_expected_token_control", TASK));

    private ControlPrompts() {}

    /** All six families, {@code perFamily} records each, family by family. */
    public static List<PromptRecord> generate(long seed, int perFamily) {
        return generate(seed, perFamily, null);
    }

    /** The given families (null or empty: all six) in the given order. */
    public static List<PromptRecord> generate(long seed, int perFamily, List<String> families) {
        SequencePools.requirePositive(perFamily, "n_examples_per_family");
        List<String> selected = SequencePools.resolveFamilies(families, FAMILIES, "control");
        List<List<String>> pool = BasicInductionPrompts.pool(seed);
        List<PromptRecord> records = new ArrayList<>(selected.size() * perFamily);
        for (String family : selected) {
            for (int i = 0; i < perFamily; i++) {
                records.add(record(family, pool.get(i % pool.size()), i));
            }
        }
        return records;
    }

    /** {@code _control_record}. */
    static PromptRecord record(String family, List<String> s, int index) {
        int n = s.size();
        List<String> positivePrompt = concat(s, dropLast(s, 1));
        String trueExpected = spaced(fromEnd(s, 1));
        List<String> controlPrompt = concat(s, List.of("X", "Y", "Z"));
        PromptRecord.Builder b = PromptRecord.builder()
                .expectedNextToken(trueExpected)
                .wrongOrControlToken(" X")
                .repeatedPrefixLength(0)
                .positiveInductionExample(false)
                .shouldShowInductionBehavior(false);
        List<String> prompt;
        switch (family) {
            case "positive_repeat_sequence" -> {
                prompt = positivePrompt;
                source(b, s, n - 2);
                b.repeatedPrefixLength(n - 1)
                        .positiveInductionExample(true)
                        .shouldShowInductionBehavior(true)
                        .notes("Positive repeated-prefix induction prompt.");
            }
            case "no_repeat_control" -> {
                prompt = controlPrompt;
                b.expectedSourcePositionHint(null)
                        .expectedSourceToken("")
                        .notes("No repeated prefix licenses the expected token.");
            }
            case "shuffled_repeat_control" -> {
                prompt = concat(s, List.of(s.get(1), s.get(0)));
                source(b, s, 0);
                b.wrongOrControlToken(spacedNonTrue(s.get(1), trueExpected))
                        .notes("Repeated tokens are shuffled, so prior occurrence does not license the expected token.");
            }
            case "distractor_repeat_control" -> {
                prompt = concat(s, List.of(s.get(0), s.get(1)));
                source(b, s, 1);
                b.wrongOrControlToken(spacedNonTrue(s.get(2 % n), trueExpected))
                        .repeatedPrefixLength(2)
                        .notes("Repeated subsequence points toward a different next token than the scored target.");
            }
            case "same_token_frequency_control" -> {
                // n >= 4: s + [s[-2], s0, s1], source s1; n = 3: s + [s[-2], s0] (= s + [s1, s0]), source s0
                int sourceAt = n >= 4 ? 1 : 0;
                prompt = n >= 4
                        ? concat(s, List.of(fromEnd(s, 2), s.get(0), s.get(1)))
                        : concat(s, List.of(fromEnd(s, 2), s.get(0)));
                source(b, s, sourceAt);
                b.wrongOrControlToken(spacedNonTrue(s.get(sourceAt), trueExpected))
                        .notes("Approximate token frequencies are preserved without the positive induction structure.");
            }
            case "random_expected_token_control" -> {
                prompt = positivePrompt;
                source(b, s, n - 2);
                b.expectedNextToken(" X")
                        .wrongOrControlToken(" X")
                        .repeatedPrefixLength(n - 1)
                        .notes("Positive repeated-prefix prompt with a deliberately wrong scored expected token; "
                                + "true positive expected token would be " + PyText.repr(trueExpected) + ".");
            }
            default -> throw new IllegalArgumentException("Unknown control family '" + family + "'");
        }
        boolean positive = family.equals("positive_repeat_sequence");
        return b.exampleId(SequencePools.id(family, index))
                .task(TASK)
                .family(family)
                .prompt(join(prompt))
                .controlPrompt(join(controlPrompt))
                .promptTokensText(prompt)
                .sequenceTokens(s)
                .targetPositionLabel("final")
                .controlFamily(positive ? "" : family)
                .baseSequenceId(SequencePools.id("base_sequence", index))
                .familyIndex(index)
                .trueExpectedNextToken(trueExpected)
                .pairedPositiveExampleId(SequencePools.id("positive_repeat_sequence", index))
                .build();
    }

    private static void source(PromptRecord.Builder b, List<String> s, int position) {
        b.expectedSourcePositionHint(position).expectedSourceToken(s.get(position));
    }

    /** {@code _spaced_nontrue_token}: " " + token unless that is the true token, then " X". */
    private static String spacedNonTrue(String token, String trueExpected) {
        String spaced = spaced(token);
        return spaced.equals(trueExpected) ? " X" : spaced;
    }
}
