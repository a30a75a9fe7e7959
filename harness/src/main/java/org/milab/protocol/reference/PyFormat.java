package org.milab.protocol.reference;

import java.math.BigDecimal;
import java.math.MathContext;
import java.math.RoundingMode;
import java.util.Locale;

/**
 * Python's float formatting, for files whose bytes are compared with the reference's (CSV cells, report
 * numbers): {@code repr(x)} and {@code f"{x:.Nf}"}. Both work on the exact binary value, so ties round
 * half-even exactly as CPython does (Java's {@code %.4f} rounds half-up on a decimal string instead).
 */
public final class PyFormat {
    private PyFormat() {}

    /**
     * {@code repr(x)}: the shortest decimal that reads back as the same double, fixed notation for decimal
     * exponents -4 <= e < 16, else {@code d.ddde-XX}; {@code nan}, {@code inf}, {@code -0.0} as Python writes them.
     */
    public static String repr(double d) {
        if (Double.isNaN(d)) return "nan";
        if (Double.isInfinite(d)) return d > 0 ? "inf" : "-inf";
        if (d == 0) return negative(d) ? "-0.0" : "0.0";
        BigDecimal exact = new BigDecimal(d), shortest = exact;
        for (int p = 1; p <= 17; p++) {
            BigDecimal c = exact.round(new MathContext(p, RoundingMode.HALF_EVEN));
            if (c.doubleValue() == d) {
                shortest = c;
                break;
            }
        }
        shortest = shortest.stripTrailingZeros();
        String digits = shortest.unscaledValue().abs().toString();
        int decpt = digits.length() - shortest.scale(); // value = 0.digits x 10^decpt
        String sign = d < 0 ? "-" : "";
        if (decpt > -4 && decpt <= 16) {
            if (decpt <= 0) return sign + "0." + "0".repeat(-decpt) + digits;
            if (decpt >= digits.length()) return sign + digits + "0".repeat(decpt - digits.length()) + ".0";
            return sign + digits.substring(0, decpt) + "." + digits.substring(decpt);
        }
        int exp = decpt - 1;
        String mantissa = digits.length() == 1 ? digits : digits.charAt(0) + "." + digits.substring(1);
        return sign + mantissa + "e" + (exp < 0 ? "-" : "+") + String.format(Locale.ROOT, "%02d", Math.abs(exp));
    }

    /** {@code f"{x:.Nf}"}; null (a missing value) and NaN give "nan", as pandas' NaN would. */
    public static String fixed(Double d, int decimals) {
        if (d == null || d.isNaN()) return "nan";
        if (d.isInfinite()) return d > 0 ? "inf" : "-inf";
        String s = new BigDecimal(d).setScale(decimals, RoundingMode.HALF_EVEN).abs().toPlainString();
        return (negative(d) ? "-" : "") + s;
    }

    private static boolean negative(double d) {
        return Double.doubleToRawLongBits(d) < 0;
    }
}
