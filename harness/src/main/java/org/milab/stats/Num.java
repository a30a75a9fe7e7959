package org.milab.stats;

import java.math.BigDecimal;
import java.math.MathContext;
import java.math.RoundingMode;

/** Numbers for people: 4 significant digits, no exponent for everyday magnitudes, "n/a" for missing values. */
public final class Num {
    public static final int DIGITS = 4;

    private Num() {}

    /**
     * Counts or values for a log line: {@code {a=2, b=1}} as "a 2, b 1", a number through {@link #sig}, null as
     * "none" (never Java's toString of a map, "null" or 17 digits).
     */
    public static String text(Object value) {
        if (value == null) return "none";
        if (value instanceof Double d) return sig(d);
        if (value instanceof Float f) return sig(f.doubleValue());
        if (value instanceof java.util.Map<?, ?> m) {
            if (m.isEmpty()) return "none";
            StringBuilder b = new StringBuilder();
            m.forEach((k, v) -> b.append(b.length() == 0 ? "" : ", ").append(k).append(' ').append(text(v)));
            return b.toString();
        }
        if (value instanceof java.util.Collection<?> c)
            return c.isEmpty() ? "none" : String.join(", ", c.stream().map(Num::text).toList());
        return String.valueOf(value);
    }

    /** Below this a p-value is printed as "< 1e-16": double arithmetic cannot resolve smaller tails. */
    public static final double P_FLOOR = 1e-16;

    /** A p-value for people: {@code 2.3e-322 -> "< 1e-16"}, {@code 0.0312 -> "0.0312"}, {@code NaN -> "n/a"}. */
    public static String p(Double p) {
        if (p != null && !p.isNaN() && p < P_FLOOR) return "< 1e-16";
        return sig(p);
    }

    /** {@code 0.97042 -> "0.9704"}, {@code 1.02381 -> "1.024"}, {@code 12345.6 -> "12350"}, {@code 3.2e-7 -> "3.2e-07"}. */
    public static String sig(Double v) {
        if (v == null || v.isNaN()) return "n/a";
        if (v.isInfinite()) return v > 0 ? "inf" : "-inf";
        if (v == 0.0) return "0";
        double a = Math.abs(v);
        if (a < 1e-4 || a >= 1e7) return String.format(java.util.Locale.ROOT, "%." + (DIGITS - 1) + "e", v)
                .replaceAll("\\.?0+e", "e");
        BigDecimal d = new BigDecimal(v).round(new MathContext(DIGITS, RoundingMode.HALF_EVEN));
        String s = d.toPlainString();
        if (s.contains(".")) s = s.replaceAll("0+$", "").replaceAll("\\.$", "");
        return s;
    }

    /** A fraction as "2/3". */
    public static String ratio(long num, long den) {
        return num + "/" + den;
    }

    /** A ratio rounded for people, or "n/a" when the denominator is 0. */
    public static String share(long num, long den) {
        return den == 0 ? "n/a" : sig((double) num / den);
    }
}
