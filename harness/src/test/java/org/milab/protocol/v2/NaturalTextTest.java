package org.milab.protocol.v2;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.milab.planted.PlantedVocabulary;
import org.milab.stats.Bootstrap.Interval;
import org.milab.tokenizer.TestTokenizers;
import org.milab.tokenizer.Tokenizer;
import org.milab.tokenizer.WordLevelTokenizerJson;
import org.milab.util.Hashing;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashSet;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * The natural repeated-text family: spans of the committed corpus under a model's own tokenizer, repeated, with
 * corrupt twins by the random families' contract; registered for GPT-2's BPE and for a word-level vocabulary that
 * knows the corpus's words, skipped (with the counts that decided it) for the planted model's vocabulary.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class NaturalTextTest {
    Tokenizer gpt2, planted, corpusWords;
    Path dir;

    @BeforeAll
    void tokenizers() throws Exception {
        gpt2 = Tokenizer.load(TestTokenizers.gpt2TokenizerJson());
        dir = Files.createTempDirectory("natural-text-test");
        planted = wordLevel("planted.json", PlantedVocabulary.inIdOrder());
        // a small word-level vocabulary that knows every word of the corpus, as a zoo-like model could
        Set<String> words = new LinkedHashSet<>(Arrays.asList(NaturalText.corpusText().split(" ")));
        List<String> vocab = new ArrayList<>(words);
        vocab.add(PlantedVocabulary.UNK);
        vocab.add(PlantedVocabulary.BOS);
        corpusWords = wordLevel("corpus.json", vocab);
    }

    private Tokenizer wordLevel(String name, List<String> vocab) throws Exception {
        Path f = dir.resolve(name);
        Files.writeString(f, WordLevelTokenizerJson.build(vocab, PlantedVocabulary.UNK, PlantedVocabulary.BOS));
        return Tokenizer.load(f);
    }

    @AfterAll
    void close() {
        gpt2.close();
        planted.close();
        corpusWords.close();
    }

    @Test
    void corpusIsCommittedWithItsLicenceAndHashed() throws Exception {
        Path res = Path.of(System.getProperty("milab.root", ".")).resolve("harness/src/main/resources/org/milab/protocol/v2");
        byte[] bytes = Files.readAllBytes(res.resolve(NaturalText.CORPUS));
        assertThat(bytes.length).isBetween(2_000, 20_000);
        assertThat(Files.readString(res.resolve("README.md"))).contains("public domain", "CC0");
        NaturalText f = NaturalText.plan(gpt2);
        assertThat(f.corpusSha256()).isEqualTo(Hashing.sha256(bytes));
        assertThat(f.use()).startsWith("reported_only");
    }

    @Test
    void gpt2RegistersTheFamilyAndEveryPairKeepsTheContract() {
        NaturalText f = NaturalText.plan(gpt2);
        System.out.println("NaturalTextTest gpt2: " + f.describe());
        assertThat(f.status()).isEqualTo(NaturalText.REGISTERED);
        assertThat(f.reason()).isEmpty();
        assertThat(f.unknownTokens()).isZero();
        int[] corpus = gpt2.encode(NaturalText.corpusText());
        assertThat(f.corpusTokens()).isEqualTo(corpus.length).isGreaterThan(500);
        for (int i = 0; i < f.lengths().size(); i++)
            assertThat(f.eligibleSpans().get(i)).isEqualTo(bruteForceEligible(gpt2, corpus, f.lengths().get(i)))
                    .isGreaterThanOrEqualTo(NaturalText.MIN_ELIGIBLE_SPANS);
        List<PromptPair> pairs = f.pairs(gpt2, 1, 12);
        assertThat(pairs).hasSize(12);
        for (PromptPair p : pairs) checkPair(p, corpus, gpt2.bosId());
        assertThat(pairs.stream().map(PromptPair::n).toList().subList(0, 4)).containsExactly(12, 24, 12, 24);
        // seeded: the same seed gives the same pairs, another seed other spans
        List<PromptPair> again = f.pairs(gpt2, 1, 12), other = f.pairs(gpt2, 2, 12);
        for (int i = 0; i < pairs.size(); i++) {
            assertThat(again.get(i).clean()).isEqualTo(pairs.get(i).clean());
            assertThat(again.get(i).corrupt()).isEqualTo(pairs.get(i).corrupt());
        }
        assertThat(other.stream().filter(p -> !Arrays.equals(p.clean(), pairs.get(p.index()).clean())).count()).isGreaterThan(6);
    }

    @Test
    void aWordLevelVocabularyThatKnowsTheWordsRegistersIt() {
        NaturalText f = NaturalText.plan(corpusWords);
        assertThat(f.scored()).isTrue();
        int[] corpus = corpusWords.encode(NaturalText.corpusText());
        for (PromptPair p : f.pairs(corpusWords, 3, 8)) checkPair(p, corpus, corpusWords.bosId());
    }

    @Test
    void thePlantedVocabularySkipsItAndSaysWhy() {
        NaturalText f = NaturalText.plan(planted);
        System.out.println("NaturalTextTest planted vocabulary: " + f.describe());
        int[] corpus = planted.encode(NaturalText.corpusText());
        assertThat(f.status()).isEqualTo(NaturalText.SKIPPED);
        assertThat(f.unknownTokens()).isGreaterThan(corpus.length / 2);
        for (int i = 0; i < f.lengths().size(); i++)
            assertThat(f.eligibleSpans().get(i)).isEqualTo(bruteForceEligible(planted, corpus, f.lengths().get(i)));
        assertThat(f.eligibleSpans()).anyMatch(e -> e < NaturalText.MIN_ELIGIBLE_SPANS);
        assertThat(f.reason()).contains(f.unknownTokens() + " of the corpus's " + corpus.length + " tokens as unknown",
                "cannot encode");
        assertThat(f.describe()).startsWith("natural_text family SKIPPED: ");
        assertThatThrownBy(() -> f.pairs(planted, 1, 4)).isInstanceOf(IllegalStateException.class).hasMessageContaining("skipped");
    }

    @Test
    void agreementFlagsReadTheNaturalCiInTheRolesDirection() {
        double f = V2Protocol.THRESHOLDS.minEffectFraction();
        assertThat(NaturalTextAgreement.flag(new Interval(0.4, 0.2, 0.6), 1, f)).isEqualTo(NaturalTextAgreement.AGREES);
        assertThat(NaturalTextAgreement.flag(new Interval(0.1, 0.01, 0.2), 1, f)).isEqualTo(NaturalTextAgreement.WEAK);
        assertThat(NaturalTextAgreement.flag(new Interval(0.01, -0.02, 0.04), 1, f)).isEqualTo(NaturalTextAgreement.UNSUPPORTED);
        // a significantly negative natural effect of a positive head is unsupported too
        assertThat(NaturalTextAgreement.flag(new Interval(-0.3, -0.4, -0.2), 1, f)).isEqualTo(NaturalTextAgreement.UNSUPPORTED);
        // a negative head: its ablation raises the answer, so its effect is expected below -f
        assertThat(NaturalTextAgreement.flag(new Interval(-0.3, -0.4, -0.2), -1, f)).isEqualTo(NaturalTextAgreement.AGREES);
        assertThat(NaturalTextAgreement.flag(new Interval(0.3, 0.2, 0.4), -1, f)).isEqualTo(NaturalTextAgreement.UNSUPPORTED);
        assertThat(NaturalTextAgreement.flag(Interval.EMPTY, 1, f)).isEqualTo(NaturalTextAgreement.UNDEFINED);
    }

    /** The contract of {@link PromptPair}, read from the arrays, with the span found in the corpus. */
    private static void checkPair(PromptPair p, int[] corpus, int bos) {
        int n = p.n(), k = p.k();
        int[] c = p.clean(), x = p.corrupt();
        assertThat(p.family()).isEqualTo(NaturalText.NAME);
        assertThat(c).hasSize(1 + n + k);
        assertThat(x).hasSize(c.length);
        assertThat(p.donor()).hasSize(c.length);
        assertThat(c[0]).isEqualTo(bos);
        int[] s = Arrays.copyOfRange(c, 1, 1 + n);
        assertThat(Arrays.copyOfRange(c, 1 + n, c.length)).isEqualTo(Arrays.copyOf(s, k));
        assertThat(indexOf(corpus, s)).as("span is a contiguous piece of the corpus").isGreaterThanOrEqualTo(0);
        assertThat(indexOf(corpus, Arrays.copyOfRange(p.donor(), 1, 1 + n))).isGreaterThanOrEqualTo(0);
        assertThat(p.answer()).isEqualTo(s[k]);
        // the corrupt twin: same tail, the first copy a rearrangement of s with no bigram of s and nothing in place
        int[] r = Arrays.copyOfRange(x, 1, 1 + n);
        assertThat(Arrays.copyOfRange(x, 1 + n, x.length)).isEqualTo(Arrays.copyOf(s, k));
        int[] a = s.clone(), b = r.clone();
        Arrays.sort(a);
        Arrays.sort(b);
        assertThat(b).isEqualTo(a);
        Set<List<Integer>> bigrams = new HashSet<>();
        for (int i = 0; i + 1 < n; i++) bigrams.add(List.of(s[i], s[i + 1]));
        for (int i = 0; i < n; i++) assertThat(r[i]).isNotEqualTo(s[i]);
        for (int i = 0; i + 1 < n; i++) assertThat(bigrams).doesNotContain(List.of(r[i], r[i + 1]));
        assertThat(PromptPair.licensed(c)).containsExactly(p.answer());
        assertThat(PromptPair.licensed(x)).containsExactly(p.wrong());
        assertThat(PromptPair.count(x, p.controlAlt())).isEqualTo(PromptPair.count(x, p.answer()));
        assertThat(Set.of(p.answer(), p.wrong(), p.controlAlt())).hasSize(3);
    }

    /** Spans of n known tokens with some k in [1, n-2] whose s[k-1] occurs once and a later token differs from s[k]. */
    private static int bruteForceEligible(Tokenizer tok, int[] ids, int n) {
        int count = 0;
        for (int start = 0; start + n <= ids.length; start++) {
            boolean known = true;
            for (int i = start; i < start + n; i++) known &= ids[i] != tok.bosId() && !tok.isUnknown(ids[i]);
            if (!known) continue;
            boolean anyK = false;
            for (int k = 1; k <= n - 2 && !anyK; k++) {
                int seen = 0;
                for (int i = start; i < start + n; i++) if (ids[i] == ids[start + k - 1]) seen++;
                boolean later = false;
                for (int j = start + k + 1; j < start + n; j++) later |= ids[j] != ids[start + k];
                anyK = seen == 1 && later;
            }
            if (anyK) count++;
        }
        return count;
    }

    private static int indexOf(int[] hay, int[] needle) {
        for (int i = 0; i + needle.length <= hay.length; i++)
            if (Arrays.equals(Arrays.copyOfRange(hay, i, i + needle.length), needle)) return i;
        return -1;
    }
}
