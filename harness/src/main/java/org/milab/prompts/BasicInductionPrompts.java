package org.milab.prompts;

import static org.milab.prompts.SequencePools.concat;
import static org.milab.prompts.SequencePools.dropLast;
import static org.milab.prompts.SequencePools.fromEnd;
import static org.milab.prompts.SequencePools.join;
import static org.milab.prompts.SequencePools.spaced;

import java.util.ArrayList;
import java.util.List;

/**
 * The basic induction set ({@code task: induction}; reference {@code generate_induction_prompts}):
 * {@code s + s[:-1]} scored on the last word of s, with a control that swaps the final word for "X".
 * Ids {@code induction_0000..}; one family, {@code positive_repeat_sequence}.
 */
public final class BasicInductionPrompts {
    public static final String TASK = "induction";
    public static final PromptFamily FAMILY = PromptFamily.positive("positive_repeat_sequence", TASK);

    /** {@code BASE_SEQUENCES} of {@code prompts.py}: 12 sequences, 40 rotations (also the controls' pool). */
    public static final List<List<String>> BASE_SEQUENCES = List.of(
            List.of("A", "B", "C", "D"),
            List.of("red", "blue", "green"),
            List.of("one", "two", "three"),
            List.of("cat", "dog", "bird"),
            List.of("north", "south", "east", "west"),
            List.of("Monday", "Tuesday", "Wednesday"),
            List.of("Paris", "London", "Rome"),
            List.of("alpha", "beta", "gamma", "delta"),
            List.of("apple", "banana", "cherry"),
            List.of("spring", "summer", "autumn", "winter"),
            List.of("iron", "copper", "silver"),
            List.of("circle", "square", "triangle"));

    private static final String NOTES =
            "Repeated-token induction practice prompt with a simple nonmatching control.";

    private BasicInductionPrompts() {}

    /** The shuffled pool for {@code seed}: {@code Random(seed)} over the rotations of {@link #BASE_SEQUENCES}. */
    public static List<List<String>> pool(long seed) {
        return SequencePools.shuffled(BASE_SEQUENCES, new PyRandom(seed));
    }

    /** {@code nExamples} records; example i uses {@code pool[i % 40]}. */
    public static List<PromptRecord> generate(long seed, int nExamples) {
        SequencePools.requirePositive(nExamples, "n_examples");
        List<List<String>> pool = pool(seed);
        List<PromptRecord> records = new ArrayList<>(nExamples);
        for (int i = 0; i < nExamples; i++) {
            List<String> s = pool.get(i % pool.size());
            List<String> prompt = concat(s, dropLast(s, 1));
            List<String> control = concat(s, dropLast(s, 2), List.of(distractorFor(s)));
            String expected = spaced(fromEnd(s, 1));
            int source = s.size() - 2;
            String id = SequencePools.id("induction", i);
            records.add(PromptRecord.builder()
                    .exampleId(id)
                    .task(TASK)
                    .family(FAMILY.name())
                    .prompt(join(prompt))
                    .expectedNextToken(expected)
                    .controlPrompt(join(control))
                    .notes(NOTES)
                    .promptTokensText(prompt)
                    .sequenceTokens(s)
                    .repeatedPrefixLength(s.size() - 1)
                    .targetPositionLabel("final")
                    .expectedSourceToken(s.get(source))
                    .expectedSourcePositionHint(source)
                    .positiveInductionExample(true)
                    .controlFamily("")
                    .shouldShowInductionBehavior(true)
                    .baseSequenceId(SequencePools.id("induction_sequence", i))
                    .familyIndex(i)
                    .trueExpectedNextToken(expected)
                    .pairedPositiveExampleId(id)
                    .wrongOrControlToken(" X")
                    .build());
        }
        return records;
    }

    /** {@code _distractor_for}: the first of X, zero, plain, other not in the sequence. */
    static String distractorFor(List<String> sequence) {
        for (String candidate : List.of("X", "zero", "plain", "other")) {
            if (!sequence.contains(candidate)) {
                return candidate;
            }
        }
        return "other";
    }
}
