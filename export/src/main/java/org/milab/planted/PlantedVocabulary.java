package org.milab.planted;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;

/**
 * The planted model's word-level vocabulary: every word the reference prompt families use (protocol
 * sections 4.1-4.5), the words of the tiny clean/corrupt pair (4.6), then {@code <unk>} and the BOS token
 * last (as GPT-2 puts {@code <|endoftext|>} last). A word's id is its index in {@link #inIdOrder()}.
 */
public final class PlantedVocabulary {
    private PlantedVocabulary() {}

    public static final String UNK = "<unk>";
    public static final String BOS = "<|endoftext|>";

    /** Groups in the order they get ids; a word listed twice keeps its first id. */
    private static final List<String> GROUPS = List.of(
            "A B C D E F G H I J K L M N O P Q R S T U V W X Y Z",
            "red blue green yellow black white gray",
            "cat dog bird fish horse cow mouse lion tiger bear wolf",
            "north south east west center left right up down",
            "spring summer autumn winter dawn night",
            "iron copper silver gold",
            "circle square triangle star line point",
            "Monday Tuesday Wednesday",
            "Paris London Rome",
            "apple banana cherry",
            "alpha beta gamma delta omega lambda",
            "zero one two three four five six seven eight nine ten eleven twelve thirteen fifteen eighteen",
            // the fallback wrong/control words of 4.1/4.3/4.4 ("X", "zero" are already above)
            "plain other",
            // section 4.6: "When John and Mary went to the store, John gave a drink to Mary" (and the swap)
            "When John and Mary went to the store, gave a drink");

    private static final List<String> IN_ID_ORDER = build();

    private static List<String> build() {
        Set<String> words = new LinkedHashSet<>();
        for (String group : GROUPS) words.addAll(Arrays.asList(group.split(" ")));
        List<String> out = new ArrayList<>(words);
        out.add(UNK);
        out.add(BOS);
        return Collections.unmodifiableList(out);
    }

    /** Token strings, the i-th has id i. */
    public static List<String> inIdOrder() {
        return IN_ID_ORDER;
    }
}
