package org.milab.protocol.v2;

import java.util.List;

/**
 * A declared prompt family: its token pool and the lengths n of its random sequences. Every family has the
 * same structure (BOS + r + r[0:k], one induction answer), its symmetric corrupt twin and its control.
 */
public record FamilySpec(String name, String pool, List<Integer> lengths) {
    public FamilySpec {
        lengths = List.copyOf(lengths);
    }

    /** The longest sequence this family draws (its pool must hold at least this many distinct tokens). */
    public int maxLength() {
        return lengths.stream().mapToInt(Integer::intValue).max().orElseThrow();
    }
}
