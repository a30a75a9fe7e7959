package org.milab.stats;

import java.util.HashSet;
import java.util.Set;

/** How much two discovered sets (e.g. confirmed heads of two seeds) agree. */
public final class Stability {
    private Stability() {}

    /** |a ∩ b| / |a ∪ b|; two empty sets agree completely (1). */
    public static double jaccard(Set<?> a, Set<?> b) {
        Set<Object> union = new HashSet<>(a);
        union.addAll(b);
        if (union.isEmpty()) return 1;
        Set<Object> both = new HashSet<>(a);
        both.retainAll(b);
        return (double) both.size() / union.size();
    }
}
