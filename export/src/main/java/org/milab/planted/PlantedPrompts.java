package org.milab.planted;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.List;

/**
 * The prompts the planted model's behavioural checks use, built from the definitions of protocol
 * section 4 (base lists, rotations, s + s[:-1] and the controls). Every rotation of every base list is
 * used, so no random pool is needed. Words carry no leading space: with the word-level tokenizer the
 * reference target {@code " D"} is the token {@code "D"}.
 */
public final class PlantedPrompts {
    private PlantedPrompts() {}

    /** A prompt (words, BOS not included) and the induction answer ({@code s[n-1]}). */
    public record Prompt(String family, List<String> words, String trueWord) {
        public String text() {
            return String.join(" ", words);
        }
    }

    /**
     * A clean/corrupt pair for final-position patching, scored by {@code L[trueWord] - L[wrongWord]}.
     * {@code earlierOccurrence} is the word index (no BOS) of the earlier copy of the clean prompt's final
     * word, i.e. the protocol's hint.
     */
    public record PatchPair(String family, List<String> clean, List<String> corrupt, String trueWord,
                            String wrongWord, int earlierOccurrence) {}

    // 4.1
    static final List<List<String>> BASE_SEQUENCES = seqs("A B C D", "red blue green", "one two three",
            "cat dog bird", "north south east west", "Monday Tuesday Wednesday", "Paris London Rome",
            "alpha beta gamma delta", "apple banana cherry", "spring summer autumn winter",
            "iron copper silver", "circle square triangle");
    // 4.3
    static final List<List<String>> SYMBOLIC = seqs("A B C D E F", "G H I J K L", "M N O P Q R", "S T U V W X");
    static final List<List<String>> WORD = seqs("red blue green yellow", "cat dog bird fish",
            "north south east west", "spring summer autumn winter", "iron copper silver gold",
            "circle square triangle star");
    static final List<List<String>> NUMBER = seqs("one two three four", "two four six eight",
            "three five seven nine", "ten eleven twelve thirteen");
    static final List<List<String>> DOUBLE = seqs("A B C X Y", "red blue green black white",
            "one two three zero four", "cat dog bird fish horse");
    // 4.4 (SYMBOLIC_LONG = SYMBOLIC, NUMBER_SHORT = NUMBER, MULTI_DISTRACTOR = DOUBLE)
    static final List<List<String>> SYMBOLIC_SHORT = seqs("A B C D", "E F G H", "J K L M", "N P Q R");
    static final List<List<String>> WORD_SHORT = seqs("red blue green yellow", "cat dog bird fish",
            "north south east west", "iron copper silver gold");
    static final List<List<String>> WORD_LONG = seqs("red blue green yellow black white",
            "spring summer autumn winter dawn night", "circle square triangle star line point",
            "alpha beta gamma delta omega lambda");
    static final List<List<String>> NUMBER_LONG = seqs("one two three four five six",
            "two four six eight ten twelve", "three five seven nine eleven thirteen",
            "zero one two three four five");

    /** 4.5: one calibration base (sequence and its no-repeat distractors). */
    record CalibrationBase(String domain, List<String> sequence, List<String> distractors) {}

    static final List<CalibrationBase> CALIBRATION = List.of(
            calib("symbolic", "A B C D", "X Y Z"),
            calib("symbolic", "E F G H I", "J K L M"),
            calib("symbolic", "N P Q R S T", "U V W X Y"),
            calib("word", "red blue green yellow", "black white gray"),
            calib("word", "north south east west center", "left right up down"),
            calib("word", "cat dog bird fish horse cow", "mouse lion tiger bear wolf"),
            calib("number", "one two three four", "five six seven"),
            calib("number", "two four six eight ten", "one three five seven"),
            calib("number", "three six nine twelve fifteen eighteen", "one two four five seven"));

    /** Every base list of sections 4.1-4.5 (for vocabulary checks). */
    public static List<List<String>> allBaseSequences() {
        List<List<String>> out = new ArrayList<>();
        for (List<List<String>> l : List.of(BASE_SEQUENCES, SYMBOLIC, WORD, NUMBER, DOUBLE, SYMBOLIC_SHORT,
                WORD_SHORT, WORD_LONG, NUMBER_LONG)) out.addAll(l);
        for (CalibrationBase b : CALIBRATION) {
            out.add(b.sequence());
            out.add(b.distractors());
        }
        return out;
    }

    /** Positive induction prompts s + s[:-1]: 4.1, the 4.3 positives, the 4.4 positives and the 4.5 clean repeats. */
    public static List<Prompt> inductionPositives() {
        List<Prompt> out = new ArrayList<>();
        addRepeats(out, "induction", BASE_SEQUENCES);
        addRepeats(out, "heldout_symbolic_longer", SYMBOLIC);
        addRepeats(out, "heldout_word_sequences", WORD);
        addRepeats(out, "heldout_number_sequences", NUMBER);
        addRepeats(out, "heldout_double_repeat", DOUBLE);
        addRepeats(out, "char_symbolic_short", SYMBOLIC_SHORT);
        addRepeats(out, "char_symbolic_long", SYMBOLIC);
        addRepeats(out, "char_word_short", WORD_SHORT);
        addRepeats(out, "char_word_long", WORD_LONG);
        addRepeats(out, "char_number_short", NUMBER);
        addRepeats(out, "char_number_long", NUMBER_LONG);
        for (CalibrationBase b : CALIBRATION)
            out.add(new Prompt("calib_clean_repeat_" + b.domain(), repeat(b.sequence()), last(b.sequence())));
        return out;
    }

    /** 4.2 no_repeat_control (s + X Y Z) and 4.5 calib_no_repeat_control (s + distractors[:n-1]). */
    public static List<Prompt> noRepeatControls() {
        List<Prompt> out = new ArrayList<>();
        for (List<String> s : rotations(BASE_SEQUENCES))
            out.add(new Prompt("no_repeat_control", concat(s, List.of("X", "Y", "Z")), last(s)));
        for (CalibrationBase b : CALIBRATION) {
            List<String> s = b.sequence();
            out.add(new Prompt("calib_no_repeat_control", concat(s, b.distractors().subList(0, s.size() - 1)), last(s)));
        }
        return out;
    }

    /** 4.5 calib_frequency_trap_control s + [s[n-1]] * (n-1), plus the same construction on the 4.1 rotations. */
    public static List<Prompt> frequencyTraps() {
        List<Prompt> out = new ArrayList<>();
        for (CalibrationBase b : CALIBRATION) out.add(frequencyTrap("calib_frequency_trap_control", b.sequence()));
        for (List<String> s : rotations(BASE_SEQUENCES)) out.add(frequencyTrap("frequency_trap_basic", s));
        return out;
    }

    /**
     * Clean/corrupt pairs: 4.1 (control s + s[:-2] + [X], wrong X) and the 4.3 positives with their
     * controls (wrong s0). heldout_symbolic_longer uses rev(s) of 4.4 as its corrupt prompt because its
     * own control nostruct(s) is degenerate (see {@link #symbolicNostructPairs()}).
     */
    public static List<PatchPair> patchPairs() {
        List<PatchPair> out = new ArrayList<>();
        for (List<String> s : rotations(BASE_SEQUENCES)) {
            List<String> corrupt = concat(concat(s, s.subList(0, s.size() - 2)), List.of("X"));
            out.add(new PatchPair("induction", repeat(s), corrupt, last(s), "X", s.size() - 2));
        }
        for (List<String> s : rotations(SYMBOLIC))
            out.add(heldoutPair("heldout_symbolic_longer(rev control)", s, reversedControl(s)));
        for (List<String> s : rotations(WORD)) out.add(heldoutPair("heldout_word_sequences", s, nostruct(s)));
        for (List<String> s : rotations(NUMBER)) out.add(heldoutPair("heldout_number_sequences", s, nostruct(s)));
        for (List<String> s : rotations(DOUBLE))
            out.add(heldoutPair("heldout_double_repeat", s, concat(s, List.of(s.get(0), s.get(2), s.get(1)))));
        return out;
    }

    /**
     * heldout_symbolic_longer with its reference control nostruct(s). The control's final word s3 occurred
     * earlier followed by s5 = s[n-1], so induction predicts the true token in the corrupt prompt too
     * (protocol section 10, item 2): clean and corrupt scores nearly agree.
     */
    public static List<PatchPair> symbolicNostructPairs() {
        List<PatchPair> out = new ArrayList<>();
        for (List<String> s : rotations(SYMBOLIC)) out.add(heldoutPair("heldout_symbolic_longer", s, nostruct(s)));
        return out;
    }

    /** nostruct(s) of 4.3. */
    public static List<String> nostruct(List<String> s) {
        int n = s.size();
        if (n >= 6) return List.of(s.get(0), s.get(2), s.get(4), s.get(1), s.get(3), s.get(5), s.get(2), s.get(0),
                s.get(4), s.get(1), s.get(3));
        return concat(s, List.of(s.get(n - 2), s.get(0), s.get(1), s.get(n - 3)));
    }

    /** rev(s) of 4.4: s + reverse(s[:-1]). */
    public static List<String> reversedControl(List<String> s) {
        List<String> tail = new ArrayList<>(s.subList(0, s.size() - 1));
        Collections.reverse(tail);
        return concat(s, tail);
    }

    /** Rotation r of each base = the base starting at element r, wrapping; all rotations, in base order. */
    public static List<List<String>> rotations(List<List<String>> bases) {
        List<List<String>> out = new ArrayList<>();
        for (List<String> s : bases)
            for (int r = 0; r < s.size(); r++) out.add(concat(s.subList(r, s.size()), s.subList(0, r)));
        return out;
    }

    private static PatchPair heldoutPair(String family, List<String> s, List<String> corrupt) {
        return new PatchPair(family, repeat(s), corrupt, last(s), s.get(0), s.size() - 2);
    }

    private static Prompt frequencyTrap(String family, List<String> s) {
        return new Prompt(family, concat(s, Collections.nCopies(s.size() - 1, last(s))), last(s));
    }

    private static void addRepeats(List<Prompt> out, String family, List<List<String>> bases) {
        for (List<String> s : rotations(bases)) out.add(new Prompt(family, repeat(s), last(s)));
    }

    /** s + s[:-1]. */
    static List<String> repeat(List<String> s) {
        return concat(s, s.subList(0, s.size() - 1));
    }

    private static String last(List<String> s) {
        return s.get(s.size() - 1);
    }

    private static List<String> concat(List<String> a, List<String> b) {
        List<String> out = new ArrayList<>(a);
        out.addAll(b);
        return List.copyOf(out);
    }

    private static List<List<String>> seqs(String... seqs) {
        return Arrays.stream(seqs).map(s -> List.of(s.split(" "))).toList();
    }

    private static CalibrationBase calib(String domain, String seq, String distractors) {
        return new CalibrationBase(domain, List.of(seq.split(" ")), List.of(distractors.split(" ")));
    }
}
