package org.milab.protocol.reference;

import org.milab.stats.Decisions;

import org.milab.tables.Table;

import java.math.BigDecimal;
import java.math.MathContext;
import java.math.RoundingMode;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.function.Function;

/**
 * Choices the reference leaves to pandas, made explicit: groupby order (sorted keys), nunique, the order of
 * {@code sort_values(ascending=False)} (NaN/null last; ties keep their input order, which pandas guarantees
 * only for up to 16 rows: numpy's default sort is not stable beyond that, so the order of exactly tied
 * rows in longer summary lists is not reproducible from the reference) and the 10-decimal rounding of
 * {@code DataFrame.to_json}, which the reference round-trips some summary lists through.
 */
public final class PandasRules {
    private PandasRules() {}

    /**
     * Rows sorted by {@code key} descending; ties keep their input order (pandas' descending nargsort on
     * small frames); null and NaN keys go last in input order. Keys closer than {@link Decisions#TOLERANCE}
     * tie, so float noise never reorders a ranking.
     */
    public static <T> List<T> sortDescending(List<T> rows, Function<T, Double> key) {
        List<T> present = new ArrayList<>(), missing = new ArrayList<>();
        for (T r : rows) {
            Double k = key.apply(r);
            (k == null || Double.isNaN(k) ? missing : present).add(r);
        }
        present.sort(Comparator.comparing((T r) -> Decisions.rounded(key.apply(r))).reversed()); // List.sort is stable
        present.addAll(missing);
        return present;
    }

    /** pandas {@code groupby(columns)}: groups ordered by their key values, column by column. */
    public static Map<List<Object>, Table> groupBySorted(Table t, String... columns) {
        List<Map.Entry<List<Object>, Table>> groups = new ArrayList<>(t.groupBy(columns).entrySet());
        groups.sort(Map.Entry.comparingByKey(PandasRules::compareKeys));
        Map<List<Object>, Table> out = new LinkedHashMap<>();
        groups.forEach(e -> out.put(e.getKey(), e.getValue()));
        return out;
    }

    @SuppressWarnings({"unchecked", "rawtypes"}) // a key column holds Strings or Longs, comparable among themselves
    private static int compareKeys(List<Object> a, List<Object> b) {
        for (int i = 0; i < a.size(); i++) {
            int c = ((Comparable) a.get(i)).compareTo(b.get(i));
            if (c != 0) return c;
        }
        return 0;
    }

    /**
     * The reference's {@code ",".join(...)} text of a list (its CSV cells and Markdown show lists so); the
     * tables hold the list itself. Null stays null.
     */
    public static String joined(List<?> values) {
        return values == null ? null : String.join(",", values.stream().map(String::valueOf).toList());
    }

    /** pandas {@code nunique}: distinct non-null values of a column. */
    public static long nunique(Table t, String column) {
        return t.column(column).values().stream().filter(Objects::nonNull).distinct().count();
    }

    /**
     * A value as {@code json.loads(df.to_json())} gives it back: pandas' encoder writes doubles with at most
     * 10 decimals (its own truncate-and-round rule, including the odd half-way case), exponent form below
     * 1e-15 or above 1e16 - 1; NaN becomes null (the reference masks NaN to None first).
     */
    public static Double toJsonRounded(Double value) {
        if (value == null || Double.isNaN(value)) return null;
        if (Double.isInfinite(value)) throw new IllegalArgumentException("pandas cannot encode " + value);
        double v = Math.abs(value);
        boolean neg = value < 0;
        if (v > 1e16 - 1 || (v != 0.0 && v < 1e-15)) { // printf("%.10g")
            double r = new BigDecimal(v).round(new MathContext(10, RoundingMode.HALF_EVEN)).doubleValue();
            return neg ? -r : r;
        }
        final double pow10 = 1e10;
        long whole = (long) v;
        double tmp = (v - whole) * pow10;
        long frac = (long) tmp;
        double diff = tmp - frac;
        if (diff > 0.5) frac++;
        else if (diff == 0.5 && (frac == 0 || (frac & 1) == 1)) frac++;
        if (frac >= pow10) {
            frac = 0;
            whole++;
        }
        double r = Double.parseDouble(whole + "." + String.format(java.util.Locale.ROOT, "%010d", frac));
        return neg ? -r : r;
    }
}
