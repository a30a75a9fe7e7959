package org.milab.protocol.v2;

import org.milab.util.UserError;

import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Random;
import java.util.Set;

/**
 * Seeded, deterministic generators of v2's prompts, built from token ids (never from text, so positions are
 * token positions for any tokenizer). Every generated pair is checked against its contract before it is
 * returned (see {@link PromptPair}); a violation is a bug, not bad luck.
 */
public final class InductionPrompts {
    private static final int MAX_ATTEMPTS = 100_000;

    private InductionPrompts() {}

    /** The first {@code count} pairs of a family for a seed; pair i has n = lengths[i mod #lengths]. */
    public static List<PromptPair> family(FamilySpec f, TokenPool pool, int bos, int seed, int count) {
        requirePool(pool, f.maxLength(), "family " + f.name());
        List<PromptPair> out = new ArrayList<>(count);
        for (int i = 0; i < count; i++) out.add(pair(f, pool, bos, seed, i));
        return out;
    }

    public static PromptPair pair(FamilySpec f, TokenPool pool, int bos, int seed, int index) {
        int n = f.lengths().get(index % f.lengths().size());
        if (n < 4) throw new UserError("Family " + f.name() + " has sequence length " + n + " < 4.",
                "Use lengths of at least 4 (a corrupt twin needs room to break every bigram).");
        Random rnd = rng(seed, f.name(), index);
        int[] r = draw(pool, n, rnd);
        int k = 1 + rnd.nextInt(n - 2); // k in [1, n-2]: a token of r after the answer is left for the control
        int[] rp = corruptCopy(r, k, rnd, f.name() + " pair " + index);
        int at = indexOf(rp, r[k - 1]);
        int wrong = rp[at + 1];
        List<Integer> alts = new ArrayList<>();
        for (int j = k + 1; j < n; j++) if (r[j] != wrong) alts.add(r[j]);
        int alt = alts.get(rnd.nextInt(alts.size()));
        int[] donorSeq = draw(pool, n, rng(seed, f.name() + "/donor", index));
        PromptPair p = new PromptPair(f.name() + "_s" + seed + "_" + String.format("%04d", index), f.name(), seed, index,
                n, k, prompt(bos, r, r, k), prompt(bos, rp, r, k), prompt(bos, donorSeq, donorSeq, k), r[k], wrong, alt);
        check(p);
        return p;
    }

    /** {@code perLength} probes per length for a seed, lengths in order. */
    public static List<AttentionProbe> probes(TokenPool pool, int bos, List<Integer> lengths, int seed, int perLength) {
        int max = lengths.stream().mapToInt(Integer::intValue).max().orElseThrow();
        requirePool(pool, 2 * max, "the attention probes' non-repeating control");
        List<AttentionProbe> out = new ArrayList<>();
        for (int n : lengths)
            for (int i = 0; i < perLength; i++) {
                int index = out.size();
                Random rnd = rng(seed, "attention_probe_n" + n, i);
                int[] r = draw(pool, n, rnd);
                int[] s = draw(pool, 2 * n, rnd);
                out.add(new AttentionProbe("probe_s" + seed + "_n" + n + "_" + String.format("%04d", i), seed, index, n,
                        prompt(bos, r, r, n), prompt(bos, s, new int[0], 0)));
            }
        return out;
    }

    /** BOS + first + second[0:k]. */
    static int[] prompt(int bos, int[] first, int[] second, int k) {
        int[] p = new int[1 + first.length + k];
        p[0] = bos;
        System.arraycopy(first, 0, p, 1, first.length);
        System.arraycopy(second, 0, p, 1 + first.length, k);
        return p;
    }

    /**
     * A permutation r' of r with no fixed point and no bigram of r, where r[k-1] is not last (so the token
     * after it is inside r') and a token of r[k+1..] other than that successor exists.
     */
    static int[] corruptCopy(int[] r, int k, Random rnd, String what) {
        Set<Long> bigrams = new HashSet<>();
        for (int i = 0; i + 1 < r.length; i++) bigrams.add(bigram(r[i], r[i + 1]));
        int[] p = r.clone();
        for (int attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
            shuffle(p, rnd);
            if (valid(r, p, k, bigrams)) return p;
        }
        throw new IllegalStateException("no corrupt twin found for " + what + " after " + MAX_ATTEMPTS + " shuffles");
    }

    private static boolean valid(int[] r, int[] p, int k, Set<Long> bigrams) {
        for (int i = 0; i < r.length; i++) if (p[i] == r[i]) return false;
        for (int i = 0; i + 1 < p.length; i++) if (bigrams.contains(bigram(p[i], p[i + 1]))) return false;
        int at = indexOf(p, r[k - 1]);
        if (at == p.length - 1) return false;
        for (int j = k + 1; j < r.length; j++) if (r[j] != p[at + 1]) return true;
        return false;
    }

    /** The contract of a pair (see {@link PromptPair}); thrown as a bug when violated. */
    static void check(PromptPair p) {
        int[] c = p.clean(), x = p.corrupt();
        List<String> bad = new ArrayList<>();
        if (c.length != x.length || c.length != p.donor().length) bad.add("lengths differ");
        if (c[0] != x[0]) bad.add("BOS differs");
        if (!PromptPair.licensed(c).equals(List.of(p.answer()))) bad.add("clean does not license exactly the answer");
        if (!PromptPair.licensed(x).equals(List.of(p.wrong()))) bad.add("corrupt does not license exactly the wrong token");
        if (p.wrong() == p.answer() || p.controlAlt() == p.answer() || p.controlAlt() == p.wrong())
            bad.add("scored tokens coincide");
        int[] sc = c.clone(), sx = x.clone();
        java.util.Arrays.sort(sc);
        java.util.Arrays.sort(sx);
        if (!java.util.Arrays.equals(sc, sx)) bad.add("token counts differ");
        if (PromptPair.count(x, p.answer()) != PromptPair.count(c, p.answer()))
            bad.add("answer is not as frequent in the control as in the clean prompt");
        if (PromptPair.count(x, p.controlAlt()) != PromptPair.count(x, p.answer()))
            bad.add("control alternative is not as frequent as the answer");
        if (!bad.isEmpty()) throw new IllegalStateException("prompt pair " + p.id() + " breaks its contract: " + bad);
    }

    /** n distinct tokens of the pool, in random order (partial Fisher-Yates). */
    private static int[] draw(TokenPool pool, int n, Random rnd) {
        int[] ids = pool.ids().stream().mapToInt(Integer::intValue).toArray();
        for (int i = 0; i < n; i++) {
            int j = i + rnd.nextInt(ids.length - i);
            int t = ids[i];
            ids[i] = ids[j];
            ids[j] = t;
        }
        return java.util.Arrays.copyOf(ids, n);
    }

    private static void shuffle(int[] a, Random rnd) {
        for (int i = a.length - 1; i > 0; i--) {
            int j = rnd.nextInt(i + 1);
            int t = a[i];
            a[i] = a[j];
            a[j] = t;
        }
    }

    private static void requirePool(TokenPool pool, int need, String what) {
        if (pool.size() < need)
            throw new UserError("Token pool '" + pool.name() + "' has " + pool.size() + " single-token words for this "
                    + "model, but " + what + " needs " + need + " distinct tokens.",
                    "Use shorter sequence lengths for this model, or a model whose tokenizer knows more of the pool's words.");
    }

    private static int indexOf(int[] a, int v) {
        for (int i = 0; i < a.length; i++) if (a[i] == v) return i;
        return -1;
    }

    private static long bigram(int a, int b) {
        return ((long) a << 32) | (b & 0xffffffffL);
    }

    /** A generator per (seed, stream, index): java.util.Random is specified bit for bit, so are the prompts. */
    static Random rng(int seed, String stream, int index) {
        long h = 1125899906842597L;
        for (char ch : stream.toCharArray()) h = 31 * h + ch;
        return new Random(h ^ (seed * 0x9E3779B97F4A7C15L) ^ (index * 0xC2B2AE3D27D4EB4FL));
    }
}
