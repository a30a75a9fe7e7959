package org.milab.model;

import java.util.Optional;

/**
 * The floating-point storage types a checkpoint may use for parameters. Values are always handed out as
 * float32; the narrow types are converted on access (reading) and rounded to nearest-even (writing).
 */
public enum Dtype {
    F32(4), F16(2), BF16(2);

    private final int bytes;

    Dtype(int bytes) {
        this.bytes = bytes;
    }

    /** Bytes per element. */
    public int bytes() {
        return bytes;
    }

    /** The dtype spelled as in a safetensors header ({@code "F32"}, {@code "F16"}, {@code "BF16"}), if supported. */
    public static Optional<Dtype> parse(String name) {
        for (Dtype d : values()) if (d.name().equals(name)) return Optional.of(d);
        return Optional.empty();
    }

    /** IEEE 754 binary16 bits to float32 (exact: every half value is a float). */
    public static float halfToFloat(short h) {
        int bits = h & 0xFFFF;
        int sign = (bits & 0x8000) << 16;
        int exp = (bits >>> 10) & 0x1F;
        int mant = bits & 0x3FF;
        if (exp == 0x1F) // inf / NaN: keep the payload in the top mantissa bits
            return Float.intBitsToFloat(sign | 0x7F800000 | (mant << 13));
        if (exp == 0) {
            if (mant == 0) return Float.intBitsToFloat(sign);
            // subnormal half: value = mant * 2^-24, exactly representable as a normal float
            float v = mant * 0x1p-24f;
            return sign == 0 ? v : -v;
        }
        return Float.intBitsToFloat(sign | ((exp + 112) << 23) | (mant << 13));
    }

    /** float32 to binary16, round to nearest even; overflow gives infinity, NaN stays NaN. */
    public static short floatToHalf(float f) {
        int bits = Float.floatToRawIntBits(f);
        int sign = (bits >>> 16) & 0x8000;
        int abs = bits & 0x7FFFFFFF;
        if (abs >= 0x7F800000) { // inf or NaN
            if (abs == 0x7F800000) return (short) (sign | 0x7C00);
            return (short) (sign | 0x7E00 | ((abs >>> 13) & 0x3FF)); // quiet NaN, keeps high payload bits
        }
        int exp = (abs >>> 23) - 127; // unbiased
        if (exp > 15) return (short) (sign | 0x7C00);
        if (exp >= -14) { // normal half (may round up into the next binade or to infinity: carry does that)
            int m = abs & 0x7FFFFF;
            int half = ((exp + 15) << 10) | (m >>> 13);
            int rest = m & 0x1FFF;
            if (rest > 0x1000 || (rest == 0x1000 && (half & 1) == 1)) half++;
            return (short) (sign | half);
        }
        if (exp < -25) return (short) sign; // below half the smallest subnormal: rounds to zero
        // subnormal half: shift the full significand (with implicit 1) right, rounding to nearest even
        int m = (abs & 0x7FFFFF) | 0x800000;
        int shift = -exp - 1; // value = significand * 2^(exp-23) = half * 2^-24, so drop 14..24 bits
        int half = m >>> shift;
        int rest = m & ((1 << shift) - 1);
        int halfway = 1 << (shift - 1);
        if (rest > halfway || (rest == halfway && (half & 1) == 1)) half++;
        return (short) (sign | half);
    }

    /** bfloat16 bits to float32 (exact). */
    public static float bf16ToFloat(short b) {
        return Float.intBitsToFloat((b & 0xFFFF) << 16);
    }

    /** float32 to bfloat16, round to nearest even; NaN stays (quiet) NaN. */
    public static short floatToBf16(float f) {
        int bits = Float.floatToRawIntBits(f);
        if ((bits & 0x7FFFFFFF) > 0x7F800000) return (short) ((bits >>> 16) | 0x0040);
        int rounded = bits + 0x7FFF + ((bits >>> 16) & 1); // carry may reach infinity, as it should
        return (short) (rounded >>> 16);
    }
}
