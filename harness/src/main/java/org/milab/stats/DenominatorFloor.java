package org.milab.stats;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.function.Function;

/**
 * The declared floor under a normalized effect's denominator |clean - corrupt|: below it a negligible move
 * reads as a huge "effect" (spec 10.8), so such rows are never ranked as the strongest and are shown apart
 * as unstable.
 */
public final class DenominatorFloor {
    /**
     * The floor on |clean - corrupt|, in logit-difference units. Below it the normalized effect is unstable:
     * at 0.5, a patch that moves the logit difference by 0.1 already reads as a 20% effect.
     */
    public static final double VALUE = 0.5;

    private DenominatorFloor() {}

    /** True when |clean - corrupt| is below the floor, or a score is missing or NaN. */
    public static boolean unstable(Double clean, Double corrupt) {
        return clean == null || corrupt == null || clean.isNaN() || corrupt.isNaN() || Math.abs(clean - corrupt) < VALUE;
    }

    /** True when the row's ({@code clean_score}, {@code corrupt_score}) rest on a denominator below the floor. */
    public static boolean unstable(Map<String, ?> row) {
        return unstable(num(row.get("clean_score")), num(row.get("corrupt_score")));
    }

    /** Splits rows into [stable, unstable], keeping their order. */
    public static <T> List<List<T>> split(List<T> rows, Function<T, Map<String, ?>> values) {
        List<T> stable = new ArrayList<>(), unstable = new ArrayList<>();
        for (T r : rows) (unstable(values.apply(r)) ? unstable : stable).add(r);
        return List.of(stable, unstable);
    }

    private static Double num(Object v) {
        return v instanceof Number n ? n.doubleValue() : null;
    }
}
