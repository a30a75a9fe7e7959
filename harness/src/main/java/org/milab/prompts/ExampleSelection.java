package org.milab.prompts;

import org.milab.graph.Head;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.TreeSet;
import java.util.function.Predicate;
import org.milab.util.UserError;

/**
 * Which records a patching stage scores (reference {@code selected_records},
 * {@code select_examples_for_controlled_patching}, {@code selected_records_by_family},
 * {@code _selected_records}, {@code _selected_positive_records}; all the same algorithm).
 *
 * <p>One {@code Random(seed)} per call; for each family in the given order: that family's records sorted by
 * {@code family_index} (None as 0, stable), shuffled, the first k kept, re-sorted by {@code family_index}.
 * The generator carries over from family to family, so the family order is part of the result.
 */
public final class ExampleSelection {
    /** Head sweep (S11) config order ({@code head_specific.families}, = {@code DEFAULT_HEAD_PATCHING_FAMILIES}). */
    public static final List<String> HEAD_SWEEP_FAMILIES = List.of(
            "positive_repeat_sequence",
            "distractor_repeat_control",
            "random_expected_token_control",
            "same_token_frequency_control");

    /** Controlled layer patching (S9) default, {@code DEFAULT_CONTROLLED_PATCHING_FAMILIES} (same order). */
    public static final List<String> CONTROLLED_PATCHING_FAMILIES = HEAD_SWEEP_FAMILIES;

    /** Held-out robustness (S14), {@code DEFAULT_HELDOUT_FAMILIES}. */
    public static final List<String> HELDOUT_FAMILIES = PromptFamily.names(HeldoutPrompts.FAMILIES);

    /** OV/QK diagnostics (S16): the 7 positive characterization families in declared order, positives only. */
    public static final List<String> OV_QK_FAMILIES = PromptFamily.names(CharacterizationPrompts.POSITIVE_FAMILIES);

    private ExampleSelection() {}

    /** Selection over {@code familyOrder} with a fresh {@code Random(seed)}. */
    public static List<PromptRecord> select(List<PromptRecord> records, List<String> familyOrder,
            int perFamily, long seed) {
        return select(records, familyOrder, perFamily, seed, r -> true);
    }

    /** OV/QK variant: only records with {@code is_positive_induction_example} take part. */
    public static List<PromptRecord> selectPositives(List<PromptRecord> records, List<String> familyOrder,
            int perFamily, long seed) {
        return select(records, familyOrder, perFamily, seed, PromptRecord::positiveInductionExample);
    }

    /** Characterization variant: the families present in {@code records}, in alphabetical order. */
    public static List<PromptRecord> selectAlphabetical(List<PromptRecord> records, int perFamily, long seed) {
        return select(records, alphabeticalFamilies(records), perFamily, seed);
    }

    /** {@code sorted({record.family for record in records})} (code-point order, as Python sorts str). */
    public static List<String> alphabeticalFamilies(List<PromptRecord> records) {
        TreeSet<String> families = new TreeSet<>();
        records.forEach(r -> families.add(r.family()));
        return List.copyOf(families);
    }

    private static List<PromptRecord> select(List<PromptRecord> records, List<String> familyOrder, int perFamily,
            long seed, Predicate<PromptRecord> eligible) {
        if (perFamily < 0) {
            throw new UserError("examples per family must not be negative, got " + perFamily + ".",
                    "Pass 0 or a positive count.");
        }
        // Python's `record.family_index or 0`; List.sort is stable like sorted().
        Comparator<PromptRecord> byIndex =
                Comparator.comparingInt(r -> r.familyIndex() == null ? 0 : r.familyIndex());
        PyRandom rng = new PyRandom(seed);
        List<PromptRecord> selected = new ArrayList<>();
        for (String family : familyOrder) {
            List<PromptRecord> rows = new ArrayList<>();
            for (PromptRecord r : records) {
                if (r.family().equals(family) && eligible.test(r)) {
                    rows.add(r);
                }
            }
            rows.sort(byIndex);
            rng.shuffle(rows);
            List<PromptRecord> kept = new ArrayList<>(rows.subList(0, Math.min(perFamily, rows.size())));
            kept.sort(byIndex);
            selected.addAll(kept);
        }
        return List.copyOf(selected);
    }
}
