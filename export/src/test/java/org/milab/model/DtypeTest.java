package org.milab.model;

import org.junit.jupiter.api.Test;

import java.util.SplittableRandom;
import java.util.function.IntToDoubleFunction;

import static org.assertj.core.api.Assertions.assertThat;

/** The half/bfloat16 conversions against known bit patterns and an independent brute-force rounding. */
class DtypeTest {

    // ---- independent reference: decode by formula, encode by searching the nearest representable value

    /** binary16 bits -> value, from the IEEE 754 definition. */
    static double halfValue(int bits) {
        int sign = (bits >> 15) & 1, exp = (bits >> 10) & 0x1F, mant = bits & 0x3FF;
        double mag;
        if (exp == 0x1F) mag = mant == 0 ? Double.POSITIVE_INFINITY : Double.NaN;
        else if (exp == 0) mag = mant * Math.pow(2, -24);
        else mag = (1 + mant / 1024.0) * Math.pow(2, exp - 15);
        return sign == 1 ? -mag : mag;
    }

    /** bfloat16 bits -> value: 8 exponent bits with bias 127, 7 mantissa bits. */
    static double bf16Value(int bits) {
        int sign = (bits >> 15) & 1, exp = (bits >> 7) & 0xFF, mant = bits & 0x7F;
        double mag;
        if (exp == 0xFF) mag = mant == 0 ? Double.POSITIVE_INFINITY : Double.NaN;
        else if (exp == 0) mag = mant * Math.pow(2, -133);
        else mag = (1 + mant / 128.0) * Math.pow(2, exp - 127);
        return sign == 1 ? -mag : mag;
    }

    /**
     * Round-to-nearest-even by binary search over the (monotonic) non-negative bit patterns
     * 0..infBits, where the pattern infBits stands for the next power of two (so overflow rounds to it).
     */
    static int nearestEven(double x, IntToDoubleFunction value, int infBits, double infAsValue) {
        double a = Math.abs(x);
        IntToDoubleFunction v = b -> b == infBits ? infAsValue : value.applyAsDouble(b);
        if (a >= infAsValue) return signed(x, infBits);
        int lo = 0, hi = infBits; // v(lo) <= a < v(hi)
        while (hi - lo > 1) {
            int mid = (lo + hi) >>> 1;
            if (v.applyAsDouble(mid) <= a) lo = mid; else hi = mid;
        }
        double dLo = a - v.applyAsDouble(lo), dHi = v.applyAsDouble(hi) - a;
        int pick = dLo < dHi ? lo : dHi < dLo ? hi : (lo % 2 == 0 ? lo : hi);
        return signed(x, pick);
    }

    private static int signed(double x, int bits) {
        return (x < 0 || (x == 0 && 1 / x < 0)) ? bits | 0x8000 : bits;
    }

    static int refHalf(float f) {
        return nearestEven(f, DtypeTest::halfValue, 0x7C00, 65536.0);
    }

    static int refBf16(float f) {
        return nearestEven(f, DtypeTest::bf16Value, 0x7F80, Math.pow(2, 128));
    }

    // ---- known patterns

    @Test
    void halfKnownPatterns() {
        assertThat(Dtype.floatToHalf(1.0f)).isEqualTo((short) 0x3C00);
        assertThat(Dtype.floatToHalf(-2.5f)).isEqualTo((short) 0xC100);
        assertThat(Dtype.floatToHalf(65504f)).isEqualTo((short) 0x7BFF);
        assertThat(Dtype.floatToHalf(65519.99f)).isEqualTo((short) 0x7BFF);
        assertThat(Dtype.floatToHalf(65520f)).isEqualTo((short) 0x7C00); // tie rounds to even = infinity
        assertThat(Dtype.floatToHalf(Float.NEGATIVE_INFINITY)).isEqualTo((short) 0xFC00);
        assertThat(Dtype.floatToHalf(0x1p-24f)).isEqualTo((short) 0x0001); // smallest subnormal
        assertThat(Dtype.floatToHalf(0x1p-25f)).isEqualTo((short) 0x0000); // exact tie -> even (zero)
        assertThat(Dtype.floatToHalf(0x1.8p-24f)).isEqualTo((short) 0x0002); // 1.5 ulp tie -> even (2)
        assertThat(Dtype.floatToHalf(0x1.0p-14f)).isEqualTo((short) 0x0400); // smallest normal
        assertThat(Dtype.floatToHalf(0x1.ffcp-15f)).isEqualTo((short) 0x0400); // tie 0x3ff/0x400 -> even: normal
        assertThat(Dtype.floatToHalf(-0.0f)).isEqualTo((short) 0x8000);
        assertThat(Dtype.halfToFloat(Dtype.floatToHalf(Float.NaN))).isNaN();
        assertThat(Dtype.halfToFloat((short) 0x7E00)).isNaN();
        assertThat(Dtype.halfToFloat((short) 0x0001)).isEqualTo(0x1p-24f);
        assertThat(Dtype.halfToFloat((short) 0x7BFF)).isEqualTo(65504f);
        assertThat(Dtype.halfToFloat((short) 0xC100)).isEqualTo(-2.5f);
        assertThat(Float.floatToRawIntBits(Dtype.halfToFloat((short) 0x8000))).isEqualTo(0x80000000);
    }

    @Test
    void bf16KnownPatterns() {
        assertThat(Dtype.floatToBf16(1.0f)).isEqualTo((short) 0x3F80);
        assertThat(Dtype.floatToBf16(-2.5f)).isEqualTo((short) 0xC020);
        assertThat(Dtype.floatToBf16(1 + 0x1p-8f)).isEqualTo((short) 0x3F80); // tie -> even (down)
        assertThat(Dtype.floatToBf16(1 + 3 * 0x1p-8f)).isEqualTo((short) 0x3F82); // tie -> even (up)
        assertThat(Dtype.floatToBf16(1 + 0x1.2p-8f)).isEqualTo((short) 0x3F81); // above tie -> up
        assertThat(Dtype.floatToBf16(Float.MAX_VALUE)).isEqualTo((short) 0x7F80); // rounds to infinity
        assertThat(Dtype.floatToBf16(Float.MIN_VALUE)).isEqualTo((short) 0x0000);
        assertThat(Dtype.bf16ToFloat(Dtype.floatToBf16(Float.NaN))).isNaN();
        // a NaN whose payload sits only in the low 16 bits must not collapse to infinity
        assertThat(Dtype.bf16ToFloat(Dtype.floatToBf16(Float.intBitsToFloat(0x7F800001)))).isNaN();
        assertThat(Dtype.bf16ToFloat((short) 0xC020)).isEqualTo(-2.5f);
    }

    // ---- exhaustive / randomised comparison against the reference

    @Test
    void everyHalfDecodesLikeTheDefinition() {
        for (int b = 0; b < 0x10000; b++) {
            double want = halfValue(b);
            float got = Dtype.halfToFloat((short) b);
            if (Double.isNaN(want)) assertThat(got).as("bits %04x", b).isNaN();
            else assertThat((double) got).as("bits %04x", b).isEqualTo(want);
            if (!Double.isNaN(want)) // and encoding a half value gives its bits back
                assertThat(Dtype.floatToHalf(got) & 0xFFFF).as("bits %04x", b).isEqualTo(b);
        }
    }

    @Test
    void everyBf16DecodesLikeTheDefinition() {
        for (int b = 0; b < 0x10000; b++) {
            double want = bf16Value(b);
            float got = Dtype.bf16ToFloat((short) b);
            if (Double.isNaN(want)) assertThat(got).isNaN();
            else assertThat((double) got).as("bits %04x", b).isEqualTo(want);
        }
    }

    @Test
    void randomFloatsRoundLikeTheReference() {
        SplittableRandom rng = new SplittableRandom(7);
        for (int i = 0; i < 200_000; i++) {
            // spread over the half range (incl. subnormals and overflow) and over all float bit patterns
            float f = i % 2 == 0
                    ? (float) ((rng.nextDouble() * 2 - 1) * Math.pow(2, rng.nextInt(-28, 18)))
                    : Float.intBitsToFloat(rng.nextInt());
            if (Float.isNaN(f)) continue;
            assertThat(Dtype.floatToHalf(f) & 0xFFFF).as("half of %s", f).isEqualTo(refHalf(f));
            assertThat(Dtype.floatToBf16(f) & 0xFFFF).as("bf16 of %s", f).isEqualTo(refBf16(f));
        }
    }

    @Test
    void exactTiesRoundToEven() {
        // midpoints between consecutive halves, built from the reference values
        for (int b = 0; b < 0x7BFF; b += 37) {
            float mid = (float) ((halfValue(b) + halfValue(b + 1)) / 2); // exact in float
            int even = (b % 2 == 0) ? b : b + 1;
            assertThat(Dtype.floatToHalf(mid) & 0xFFFF).as("tie above %04x", b).isEqualTo(even);
        }
    }
}
