package org.milab.prompts;

import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import org.milab.util.UserError;

/**
 * Pool construction shared by every generator, plus the small word-list helpers they use.
 *
 * <p>Pool: for each base sequence in list order, all its rotations (rotation r starts at element r and
 * wraps), then one {@code shuffle} of the whole list. Example i of a family uses {@code pool[i % size]}.
 */
public final class SequencePools {
    private SequencePools() {}

    /** All rotations of every base sequence, base by base, rotation 0 first. */
    public static List<List<String>> rotations(List<List<String>> bases) {
        List<List<String>> pool = new ArrayList<>();
        for (List<String> sequence : bases) {
            for (int offset = 0; offset < sequence.size(); offset++) {
                List<String> rotated = new ArrayList<>(sequence.subList(offset, sequence.size()));
                rotated.addAll(sequence.subList(0, offset));
                pool.add(List.copyOf(rotated));
            }
        }
        return pool;
    }

    /** {@link #rotations} shuffled once with {@code rng} (which advances). */
    public static List<List<String>> shuffled(List<List<String>> bases, PyRandom rng) {
        List<List<String>> pool = rotations(bases);
        rng.shuffle(pool);
        return List.copyOf(pool);
    }

    /** Words joined by single spaces (how every prompt is written). */
    static String join(List<String> words) {
        return String.join(" ", words);
    }

    /** Concatenation of word lists. */
    @SafeVarargs
    static List<String> concat(List<String>... parts) {
        List<String> out = new ArrayList<>();
        for (List<String> part : parts) {
            out.addAll(part);
        }
        return List.copyOf(out);
    }

    /** {@code s[:-k]}. */
    static List<String> dropLast(List<String> s, int k) {
        return s.subList(0, s.size() - k);
    }

    /** {@code s[-k]} (k = 1 is the last word). */
    static String fromEnd(List<String> s, int k) {
        return s.get(s.size() - k);
    }

    /** The scored form of a word: a leading space ({@code f" {word}"}). */
    static String spaced(String word) {
        return " " + word;
    }

    /** {@code f"{prefix}_{index:04d}"}: the id pattern of every per-family record. */
    static String id(String prefix, int index) {
        return String.format("%s_%04d", prefix, index);
    }

    /** The families to generate: {@code requested}, or all known ones when null or empty (Python's {@code or}). */
    static List<String> resolveFamilies(List<String> requested, List<PromptFamily> known, String setName) {
        List<String> knownNames = PromptFamily.names(known);
        if (requested == null || requested.isEmpty()) {
            return knownNames;
        }
        Set<String> unknown = new TreeSet<>(requested);
        unknown.removeAll(knownNames);
        if (!unknown.isEmpty()) {
            throw new UserError("Unknown " + setName + " families: " + unknown + ".",
                    "Use only these family names: " + knownNames + ".");
        }
        return List.copyOf(requested);
    }

    static void requirePositive(int n, String what) {
        if (n <= 0) {
            throw new UserError(what + " must be positive, got " + n + ".", "Pass a count of at least 1.");
        }
    }

    /** Builds one record of a family from a pool entry (the i-th record of that family). */
    @FunctionalInterface
    interface RecordMaker {
        PromptRecord make(String family, List<String> sequence, int index);
    }

    /**
     * The generators' shared loop: for each selected family in order, record i uses pool[i % len(pool)]
     * of that family's seeded pool.
     */
    static List<PromptRecord> generate(long seed, int perFamily, List<String> families, List<PromptFamily> all,
                                       String setName, java.util.function.BiFunction<Long, String, List<List<String>>> pools,
                                       RecordMaker maker) {
        requirePositive(perFamily, "n_examples_per_family");
        List<String> selected = resolveFamilies(families, all, setName);
        List<PromptRecord> records = new java.util.ArrayList<>(selected.size() * perFamily);
        for (String family : selected) {
            List<List<String>> pool = pools.apply(seed, family);
            for (int i = 0; i < perFamily; i++) records.add(maker.make(family, pool.get(i % pool.size()), i));
        }
        return records;
    }
}
