package org.milab.prompts;

import java.math.BigInteger;
import java.nio.ByteBuffer;
import java.nio.CharBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

/**
 * Bit-exact port of CPython 3.11's {@code random.Random}: the MT19937 core of {@code _randommodule.c}
 * ({@code init_genrand}, {@code init_by_array}, {@code genrand_uint32}, {@code getrandbits},
 * {@code random}) and the pure-Python methods of {@code random.py} built on it ({@code _randbelow},
 * {@code shuffle}, {@code randrange}, {@code choice}, {@code sample}).
 *
 * <p>The reference lab draws every prompt pool, example selection and random comparison head from
 * {@code random.Random(seed)}, so reproducing its prompts needs this exact stream, not any MT19937.
 * Not thread-safe, like the original.
 */
public final class PyRandom {
    private static final int N = 624;
    private static final int M = 397;
    private static final int MATRIX_A = 0x9908b0df;
    private static final int UPPER_MASK = 0x80000000;
    private static final int LOWER_MASK = 0x7fffffff;

    private final int[] mt = new int[N];
    private int mti = N + 1;

    /** {@code random.Random(seed)} for an int seed (negative seeds use |seed|, as CPython does). */
    public PyRandom(long seed) {
        seed(seed);
    }

    /** {@code random.Random(seed)} for an arbitrary-size int seed. */
    public PyRandom(BigInteger seed) {
        seed(seed);
    }

    /** {@code random.Random(seed)} for a str seed (version 2: all bits of UTF-8 + SHA-512 are used). */
    public PyRandom(String seed) {
        seed(seed);
    }

    public void seed(long seed) {
        seed(BigInteger.valueOf(seed));
    }

    /** CPython {@code random_seed} for an int: the key is the 32-bit words of |n|, least significant first. */
    public void seed(BigInteger seed) {
        BigInteger n = seed.abs();
        int bits = n.bitLength();
        int words = bits == 0 ? 1 : (bits - 1) / 32 + 1;
        int[] key = new int[words];
        for (int i = 0; i < words; i++) {
            key[i] = n.shiftRight(32 * i).intValue(); // low 32 bits of the shifted value
        }
        initByArray(key);
    }

    /**
     * {@code random.seed(str)} with version 2: {@code n = int.from_bytes(b + sha512(b).digest(), 'big')}
     * where b is the strict UTF-8 encoding of s (a lone surrogate fails, as {@code str.encode()} does).
     */
    public void seed(String seed) {
        byte[] utf8 = strictUtf8(seed);
        byte[] digest = sha512(utf8);
        byte[] all = Arrays.copyOf(utf8, utf8.length + digest.length);
        System.arraycopy(digest, 0, all, utf8.length, digest.length);
        seed(new BigInteger(1, all));
    }

    /** Next raw 32-bit output of the generator, as an unsigned value. */
    public long nextUint32() {
        return genrandUint32() & 0xffffffffL;
    }

    /** {@code getrandbits(k)}: k random bits; words are drawn least significant first, the last one truncated. */
    public BigInteger getrandbits(int k) {
        if (k < 0) {
            throw new IllegalArgumentException("number of bits must be non-negative, got " + k);
        }
        if (k == 0) {
            return BigInteger.ZERO; // CPython returns 0 without drawing
        }
        if (k <= 32) {
            return BigInteger.valueOf((genrandUint32() & 0xffffffffL) >>> (32 - k));
        }
        int words = (k - 1) / 32 + 1;
        byte[] bigEndian = new byte[words * 4];
        int remaining = k;
        for (int i = 0; i < words; i++, remaining -= 32) {
            long r = genrandUint32() & 0xffffffffL;
            if (remaining < 32) {
                r >>>= (32 - remaining);
            }
            int at = (words - 1 - i) * 4; // word i is the i-th least significant
            bigEndian[at] = (byte) (r >>> 24);
            bigEndian[at + 1] = (byte) (r >>> 16);
            bigEndian[at + 2] = (byte) (r >>> 8);
            bigEndian[at + 3] = (byte) r;
        }
        return new BigInteger(1, bigEndian);
    }

    /** {@code random()}: a 53-bit float in [0, 1) built from two outputs (27 + 26 bits). */
    public double random() {
        long a = (genrandUint32() & 0xffffffffL) >>> 5;
        long b = (genrandUint32() & 0xffffffffL) >>> 6;
        return (a * 67108864.0 + b) * (1.0 / 9007199254740992.0);
    }

    /** {@code _randbelow_with_getrandbits(n)}: rejection sampling with k = n.bit_length() bits. */
    public int randbelow(int n) {
        if (n <= 0) {
            throw new IllegalArgumentException("randbelow needs n > 0, got " + n);
        }
        int k = 32 - Integer.numberOfLeadingZeros(n);
        long r = (genrandUint32() & 0xffffffffL) >>> (32 - k);
        while (r >= n) {
            r = (genrandUint32() & 0xffffffffL) >>> (32 - k);
        }
        return (int) r;
    }

    /** {@code _randbelow_with_getrandbits(n)} for arbitrary-size n. */
    public BigInteger randbelow(BigInteger n) {
        if (n.signum() <= 0) {
            throw new IllegalArgumentException("randbelow needs n > 0, got " + n);
        }
        int k = n.bitLength();
        BigInteger r = getrandbits(k);
        while (r.compareTo(n) >= 0) {
            r = getrandbits(k);
        }
        return r;
    }

    /** {@code shuffle(x)}: for i = len-1 down to 1, swap x[i] with x[randbelow(i + 1)]. In place. */
    public <T> void shuffle(List<T> x) {
        for (int i = x.size() - 1; i >= 1; i--) {
            int j = randbelow(i + 1);
            T tmp = x.get(i);
            x.set(i, x.get(j));
            x.set(j, tmp);
        }
    }

    /** {@code randrange(stop)}. */
    public int randrange(int stop) {
        if (stop > 0) {
            return randbelow(stop);
        }
        throw new IllegalArgumentException("empty range for randrange()");
    }

    /** {@code randrange(start, stop)}. */
    public int randrange(int start, int stop) {
        return randrange(start, stop, 1);
    }

    /** {@code randrange(start, stop, step)}, including negative steps, with Python's floor division. */
    public int randrange(int start, int stop, int step) {
        long width = (long) stop - start;
        if (step == 1) {
            if (width > 0) {
                return (int) (start + randbelowLong(width));
            }
            throw new IllegalArgumentException("empty range for randrange() (" + start + ", " + stop + ", " + width + ")");
        }
        long n;
        if (step > 0) {
            n = Math.floorDiv(width + step - 1, (long) step);
        } else if (step < 0) {
            n = Math.floorDiv(width + step + 1, (long) step);
        } else {
            throw new IllegalArgumentException("zero step for randrange()");
        }
        if (n <= 0) {
            throw new IllegalArgumentException("empty range for randrange()");
        }
        return (int) (start + (long) step * randbelowLong(n));
    }

    /** {@code choice(seq)}. */
    public <T> T choice(List<T> seq) {
        if (seq.isEmpty()) {
            throw new IndexOutOfBoundsException("Cannot choose from an empty sequence");
        }
        return seq.get(randbelow(seq.size()));
    }

    /**
     * {@code sample(population, k)} (no counts): the pool method when the population is small relative to
     * k, else the set method, with CPython's threshold {@code 21 + 4**ceil(log(3k, 4))} for k > 5.
     */
    public <T> List<T> sample(List<T> population, int k) {
        int n = population.size();
        if (k < 0 || k > n) {
            throw new IllegalArgumentException("Sample larger than population or is negative");
        }
        long setsize = 21;
        if (k > 5) {
            setsize += powerOfFourCeil(3L * k);
        }
        List<T> result = new ArrayList<>(k);
        if (n <= setsize) {
            List<T> pool = new ArrayList<>(population);
            for (int i = 0; i < k; i++) {
                int j = randbelow(n - i);
                result.add(pool.get(j));
                pool.set(j, pool.get(n - i - 1));
            }
        } else {
            Set<Integer> selected = new HashSet<>();
            for (int i = 0; i < k; i++) {
                int j = randbelow(n);
                while (selected.contains(j)) {
                    j = randbelow(n);
                }
                selected.add(j);
                result.add(population.get(j));
            }
        }
        return result;
    }

    /** Copy of the 624-word state plus the index, in the layout of {@code getstate()[1]}. */
    int[] state() {
        int[] copy = Arrays.copyOf(mt, N + 1);
        copy[N] = mti;
        return copy;
    }

    // 4 ** ceil(log(x, 4)) computed exactly: x = 3k is never a power of 4, so the float log in CPython
    // cannot sit on an integer and the smallest power of four >= x is the same number.
    private static long powerOfFourCeil(long x) {
        long p = 1;
        while (p < x) {
            p *= 4;
        }
        return p;
    }

    private long randbelowLong(long n) {
        if (n <= Integer.MAX_VALUE) {
            return randbelow((int) n);
        }
        return randbelow(BigInteger.valueOf(n)).longValueExact();
    }

    private void initGenrand(int s) {
        mt[0] = s;
        for (mti = 1; mti < N; mti++) {
            mt[mti] = 1812433253 * (mt[mti - 1] ^ (mt[mti - 1] >>> 30)) + mti;
        }
    }

    private void initByArray(int[] key) {
        initGenrand(19650218);
        int i = 1;
        int j = 0;
        for (int k = Math.max(N, key.length); k > 0; k--) {
            mt[i] = (mt[i] ^ ((mt[i - 1] ^ (mt[i - 1] >>> 30)) * 1664525)) + key[j] + j;
            i++;
            j++;
            if (i >= N) {
                mt[0] = mt[N - 1];
                i = 1;
            }
            if (j >= key.length) {
                j = 0;
            }
        }
        for (int k = N - 1; k > 0; k--) {
            mt[i] = (mt[i] ^ ((mt[i - 1] ^ (mt[i - 1] >>> 30)) * 1566083941)) - i;
            i++;
            if (i >= N) {
                mt[0] = mt[N - 1];
                i = 1;
            }
        }
        mt[0] = 0x80000000; // MSB is 1, assuring a non-zero initial array
        mti = N;
    }

    private int genrandUint32() {
        int y;
        if (mti >= N) {
            int kk;
            for (kk = 0; kk < N - M; kk++) {
                y = (mt[kk] & UPPER_MASK) | (mt[kk + 1] & LOWER_MASK);
                mt[kk] = mt[kk + M] ^ (y >>> 1) ^ ((y & 1) == 0 ? 0 : MATRIX_A);
            }
            for (; kk < N - 1; kk++) {
                y = (mt[kk] & UPPER_MASK) | (mt[kk + 1] & LOWER_MASK);
                mt[kk] = mt[kk + (M - N)] ^ (y >>> 1) ^ ((y & 1) == 0 ? 0 : MATRIX_A);
            }
            y = (mt[N - 1] & UPPER_MASK) | (mt[0] & LOWER_MASK);
            mt[N - 1] = mt[M - 1] ^ (y >>> 1) ^ ((y & 1) == 0 ? 0 : MATRIX_A);
            mti = 0;
        }
        y = mt[mti++];
        y ^= (y >>> 11);
        y ^= (y << 7) & 0x9d2c5680;
        y ^= (y << 15) & 0xefc60000;
        y ^= (y >>> 18);
        return y;
    }

    private static byte[] strictUtf8(String s) {
        try {
            ByteBuffer buf = StandardCharsets.UTF_8.newEncoder()
                    .onMalformedInput(CodingErrorAction.REPORT)
                    .onUnmappableCharacter(CodingErrorAction.REPORT)
                    .encode(CharBuffer.wrap(s));
            byte[] out = new byte[buf.remaining()];
            buf.get(out);
            return out;
        } catch (CharacterCodingException e) {
            throw new IllegalArgumentException("seed string is not encodable as UTF-8 (lone surrogate?): " + e, e);
        }
    }

    private static byte[] sha512(byte[] bytes) {
        try {
            return MessageDigest.getInstance("SHA-512").digest(bytes);
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("JDK without SHA-512", e);
        }
    }
}
