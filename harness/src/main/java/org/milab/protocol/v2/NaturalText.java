package org.milab.protocol.v2;

import org.milab.tokenizer.Tokenizer;
import org.milab.util.Hashing;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Random;
import java.util.function.Predicate;

/**
 * The natural repeated-text family, as registered in {@code v2/protocol.json}: Olsson et al. read induction on real
 * text repeated (a span, then the same span again) besides repeated random tokens. Spans of the family's lengths are
 * cut from a committed public-domain corpus ({@code natural_text.txt}, licence in the README beside it) tokenized by
 * THIS model's tokenizer; a span may hold no unknown token and no BOS. A model whose vocabulary cannot encode enough
 * spans (the word-level planted and zoo models know a few hundred words) gets the family {@code skipped} with the
 * counts that decided it, never silently.
 *
 * <p>Reported only: its prompts are scored like every family's (per-prompt rows with family {@value #NAME}), and its
 * per-head verdicts are reported beside the random-token families', but the pooled and per-seed verdicts never read
 * them (see {@link #feedsVerdicts}): natural text carries n-gram and semantic cues a head can use without induction, so
 * a head is confirmed on the controlled random-token families and the natural-text effect is a check of agreement
 * ({@link NaturalTextAgreement}).
 *
 * @param name             the family's name in the prompt tables ({@value #NAME})
 * @param corpus           the corpus resource
 * @param corpusSha256     sha256 of the corpus file's bytes
 * @param lengths          span lengths n (tokens of this model)
 * @param corpusTokens     tokens of the whitespace-normalized corpus under this model's tokenizer
 * @param unknownTokens    how many of them are the unknown token (or BOS)
 * @param eligibleSpans    per length, the start offsets whose span of n tokens is known and can form a pair
 * @param minEligibleSpans the family is scored only when every length has at least this many eligible spans
 * @param status           {@value #REGISTERED}, or {@value #SKIPPED} with {@code reason}
 * @param reason           why it is skipped (empty when registered)
 * @param use              what its evidence feeds ({@value #REPORTED_ONLY})
 */
public record NaturalText(String name, String corpus, String corpusSha256, List<Integer> lengths, int corpusTokens,
                          int unknownTokens, List<Integer> eligibleSpans, int minEligibleSpans, String status, String reason,
                          String use) {
    public static final String NAME = "natural_text";
    public static final String CORPUS = "natural_text.txt";
    public static final String REGISTERED = "registered", SKIPPED = "skipped";
    public static final String REPORTED_ONLY = "reported_only: never read by the pooled or per-seed verdicts; per-head "
            + "evidence reported beside the random-token families and checked for agreement with the confirmed heads";
    public static final List<Integer> LENGTHS = List.of(12, 24);
    public static final int MIN_ELIGIBLE_SPANS = 8;

    public NaturalText {
        lengths = List.copyOf(lengths);
        eligibleSpans = List.copyOf(eligibleSpans);
    }

    public boolean scored() {
        return REGISTERED.equals(status);
    }

    /** Rows of every prompt-level table that the verdicts may read: every family but this one. */
    public static Predicate<org.milab.tables.Table.Row> feedsVerdicts() {
        return r -> !NAME.equals(r.getString("family"));
    }

    /** The committed corpus, whitespace collapsed to single spaces. */
    public static String corpusText() {
        return new String(corpusBytes(), StandardCharsets.UTF_8).strip().replaceAll("\\s+", " ");
    }

    private static byte[] corpusBytes() {
        try (InputStream in = NaturalText.class.getResourceAsStream(CORPUS)) {
            if (in == null) throw new IllegalStateException("the natural-text corpus " + CORPUS + " is missing from the build");
            return in.readAllBytes();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** The family for this model's tokenizer: registered, or skipped with the counts that decided it. */
    public static NaturalText plan(Tokenizer tok) {
        int[] ids = tok.encode(corpusText());
        int unknown = 0;
        for (int id : ids) if (!known(tok, id)) unknown++;
        List<Integer> eligible = new ArrayList<>();
        List<String> short_ = new ArrayList<>();
        for (int n : LENGTHS) {
            int e = eligibleStarts(tok, ids, n).size();
            eligible.add(e);
            if (e < MIN_ELIGIBLE_SPANS) short_.add(String.format(Locale.ROOT, "%d spans of %d known tokens", e, n));
        }
        String sha = Hashing.sha256(corpusBytes());
        String reason = short_.isEmpty() ? "" : String.format(Locale.ROOT, "this model's tokenizer encodes %d of the corpus's "
                + "%d tokens as unknown, leaving %s (at least %d per length are needed): its vocabulary cannot encode the "
                + "natural-text corpus", unknown, ids.length, String.join(" and ", short_), MIN_ELIGIBLE_SPANS);
        return new NaturalText(NAME, CORPUS, sha, LENGTHS, ids.length, unknown, eligible, MIN_ELIGIBLE_SPANS,
                short_.isEmpty() ? REGISTERED : SKIPPED, reason, REPORTED_ONLY);
    }

    /** One line for summaries: what the family is on this model. */
    public String describe() {
        return scored() ? String.format(Locale.ROOT, "natural_text family registered (%d corpus tokens, eligible spans %s for "
                + "lengths %s; reported only, never read by the verdicts)", corpusTokens, eligibleSpans, lengths)
                : "natural_text family SKIPPED: " + reason;
    }

    /** The first {@code count} pairs for a seed; pair i has n = lengths[i mod #lengths]. Only for a registered family. */
    public List<PromptPair> pairs(Tokenizer tok, int seed, int count) {
        if (!scored()) throw new IllegalStateException("the natural_text family is skipped on this model: " + reason);
        int[] ids = tok.encode(corpusText());
        List<PromptPair> out = new ArrayList<>(count);
        for (int i = 0; i < count; i++) {
            int n = lengths.get(i % lengths.size());
            out.add(pair(ids, eligibleStarts(tok, ids, n), tok.bosId(), n, seed, i));
        }
        return out;
    }

    private static final int MAX_DRAWS = 1000;

    /**
     * A span s (n corpus tokens from a random eligible start), a random k whose final token s[k-1] is unique in s, and
     * the corrupt twin by the random families' rule ({@link InductionPrompts#corruptCopy}): no token left in place, no
     * bigram of s surviving. The control alternative is a later token of s as frequent in the prompt as the answer.
     */
    static PromptPair pair(int[] ids, List<Integer> starts, int bos, int n, int seed, int index) {
        Random rnd = InductionPrompts.rng(seed, NAME, index);
        for (int draw = 0; draw < MAX_DRAWS; draw++) {
            int start = starts.get(rnd.nextInt(starts.size()));
            int[] s = java.util.Arrays.copyOfRange(ids, start, start + n);
            List<Integer> ks = validKs(s);
            int k = ks.get(rnd.nextInt(ks.size()));
            int[] rp;
            try {
                rp = InductionPrompts.corruptCopy(s, k, rnd, NAME + " pair " + index);
            } catch (IllegalStateException noTwin) { // e.g. a token filling half the span: the next draw
                continue;
            }
            int[] clean = InductionPrompts.prompt(bos, s, s, k), corrupt = InductionPrompts.prompt(bos, rp, s, k);
            int wrong = rp[indexOf(rp, s[k - 1]) + 1];
            List<Integer> alts = new ArrayList<>();
            for (int j = k + 1; j < n; j++)
                if (s[j] != wrong && s[j] != s[k] && !alts.contains(s[j])
                        && PromptPair.count(corrupt, s[j]) == PromptPair.count(corrupt, s[k])) alts.add(s[j]);
            if (alts.isEmpty()) continue;
            int alt = alts.get(rnd.nextInt(alts.size()));
            Random donorRnd = InductionPrompts.rng(seed, NAME + "/donor", index);
            int ds = start;
            while (ds == start && starts.size() > 1) ds = starts.get(donorRnd.nextInt(starts.size()));
            int[] d = java.util.Arrays.copyOfRange(ids, ds, ds + n);
            PromptPair p = new PromptPair(NAME + "_s" + seed + "_" + String.format("%04d", index), NAME, seed, index, n, k,
                    clean, corrupt, InductionPrompts.prompt(bos, d, d, k), s[k], wrong, alt);
            InductionPrompts.check(p);
            return p;
        }
        throw new IllegalStateException("no natural-text pair " + index + " of seed " + seed + " after " + MAX_DRAWS + " draws");
    }

    /** Start offsets of spans of n known tokens that allow at least one k. */
    static List<Integer> eligibleStarts(Tokenizer tok, int[] ids, int n) {
        List<Integer> out = new ArrayList<>();
        int run = 0; // known tokens ending at i
        for (int i = 0; i < ids.length; i++) {
            run = known(tok, ids[i]) ? run + 1 : 0;
            if (run >= n) {
                int start = i - n + 1;
                if (!validKs(java.util.Arrays.copyOfRange(ids, start, start + n)).isEmpty()) out.add(start);
            }
        }
        return out;
    }

    /** k in [1, n-2] with s[k-1] once in s (one earlier occurrence licenses exactly the answer s[k]) and a later token. */
    static List<Integer> validKs(int[] s) {
        List<Integer> out = new ArrayList<>();
        for (int k = 1; k <= s.length - 2; k++) {
            if (PromptPair.count(s, s[k - 1]) != 1) continue;
            boolean later = false;
            for (int j = k + 1; j < s.length; j++) later |= s[j] != s[k];
            if (later) out.add(k);
        }
        return out;
    }

    private static boolean known(Tokenizer tok, int id) {
        return id != tok.bosId() && !tok.isUnknown(id);
    }

    private static int indexOf(int[] a, int v) {
        for (int i = 0; i < a.length; i++) if (a[i] == v) return i;
        return -1;
    }
}
