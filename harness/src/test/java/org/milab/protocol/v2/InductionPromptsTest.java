package org.milab.protocol.v2;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.milab.planted.PlantedVocabulary;
import org.milab.tokenizer.TestTokenizers;
import org.milab.tokenizer.Tokenizer;
import org.milab.tokenizer.WordLevelTokenizerJson;
import org.milab.util.UserError;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/**
 * The prompt contract of protocol v2, checked independently of the generator's own check on every generated
 * pair of every family for several seeds, with GPT-2's BPE and the planted word-level tokenizer.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class InductionPromptsTest {
    Tokenizer gpt2, planted;

    @BeforeAll
    void tokenizers() throws Exception {
        gpt2 = Tokenizer.load(TestTokenizers.gpt2TokenizerJson());
        Path f = Files.createTempFile("planted-tokenizer", ".json");
        Files.writeString(f, WordLevelTokenizerJson.build(PlantedVocabulary.inIdOrder(), PlantedVocabulary.UNK, PlantedVocabulary.BOS));
        planted = Tokenizer.load(f);
        Files.delete(f);
    }

    @AfterAll
    void close() {
        gpt2.close();
        planted.close();
    }

    @Test
    void poolsKeepExactlyTheWordsThatAreOneKnownToken() {
        for (Tokenizer tok : List.of(gpt2, planted)) {
            V2Protocol p = V2Protocol.build("m", V2Protocol.Counts.full(), tok, 2, 2);
            for (TokenPool pool : p.pools().subList(1, p.pools().size())) {
                if (pool.name().equals(V2Protocol.VOCABULARY_POOL)) continue; // built from ids, not words: below
                for (int i = 0; i < pool.size(); i++) {
                    int id = pool.ids().get(i);
                    assertThat(id).isNotEqualTo(tok.bosId());
                    assertThat(tok.decode(new int[]{id}).strip()).isIn(pool.candidates());
                }
                for (String w : pool.candidates()) {
                    int[] enc = tok.encode(" " + w);
                    boolean known = enc.length == 1 && tok.tokenText(enc[0]).strip().equals(w);
                    assertThat(pool.ids().contains(enc.length == 1 ? enc[0] : -1)).as("%s in %s", w, pool.name()).isEqualTo(known);
                }
            }
            TokenPool all = p.pool(V2Protocol.ALL_POOL);
            assertThat(new HashSet<>(all.ids())).hasSize(all.size());
        }
        V2Protocol pl = V2Protocol.build("m", V2Protocol.Counts.full(), planted, 2, 2);
        assertThat(pl.pool("numbers").dropped()).anySatisfy(d -> assertThat(d).startsWith("fourteen: unknown"));
        assertThat(pl.pool("symbols").size()).isEqualTo(26);
        V2Protocol g = V2Protocol.build("m", V2Protocol.Counts.full(), gpt2, 2, 2);
        assertThat(g.pool("symbols").texts()).contains(" A", " Z");
    }

    @Test
    void everyPairKeepsTheContractForEveryFamilyAndSeed() {
        for (Tokenizer tok : List.of(gpt2, planted)) {
            V2Protocol p = V2Protocol.build("m", V2Protocol.Counts.full(), tok, 2, 2);
            int bos = tok.bosId(), checked = 0;
            for (int seed : List.of(1, 2, 3, 77))
                for (FamilySpec f : p.families())
                    for (PromptPair x : InductionPrompts.family(f, p.pool(f.pool()), bos, seed, 40)) {
                        verify(x, bos, p.pool(f.pool()).ids());
                        checked++;
                    }
            assertThat(checked).isEqualTo(4 * 5 * 40);
        }
    }

    /** The contract written out from scratch (not through the generator's own check). */
    private static void verify(PromptPair x, int bos, List<Integer> pool) {
        int n = x.n(), k = x.k();
        int[] c = x.clean(), y = x.corrupt(), d = x.donor();
        assertThat(c.length).isEqualTo(1 + n + k).isEqualTo(y.length).isEqualTo(d.length);
        assertThat(k).isBetween(1, n - 2);
        assertThat(c[0]).isEqualTo(bos);
        assertThat(y[0]).isEqualTo(bos);
        int[] r = Arrays.copyOfRange(c, 1, 1 + n), rp = Arrays.copyOfRange(y, 1, 1 + n);
        assertThat(Arrays.stream(r).distinct().count()).isEqualTo(n);
        assertThat(Arrays.stream(r).boxed().toList()).allMatch(pool::contains);
        assertThat(Arrays.copyOfRange(c, 1 + n, c.length)).isEqualTo(Arrays.copyOf(r, k));
        assertThat(Arrays.copyOfRange(y, 1 + n, y.length)).isEqualTo(Arrays.copyOf(r, k));
        // clean: the final token r[k-1] occurred once before, followed by the answer r[k]
        assertThat(x.answer()).isEqualTo(r[k]);
        assertThat(followers(c)).containsExactly(r[k]);
        // corrupt: a derangement of r, no bigram of r left, same counts, the repeat now licenses `wrong`
        int[] rs = r.clone(), rps = rp.clone();
        Arrays.sort(rs);
        Arrays.sort(rps);
        assertThat(rps).isEqualTo(rs);
        Set<List<Integer>> bigrams = new HashSet<>();
        for (int i = 0; i + 1 < n; i++) bigrams.add(List.of(r[i], r[i + 1]));
        for (int i = 0; i < n; i++) assertThat(rp[i]).isNotEqualTo(r[i]);
        for (int i = 0; i + 1 < n; i++) assertThat(bigrams).doesNotContain(List.of(rp[i], rp[i + 1]));
        assertThat(followers(y)).containsExactly(x.wrong());
        assertThat(x.wrong()).isNotEqualTo(x.answer());
        // control (the corrupt prompt, answer vs control_alt): neither is licensed, both as frequent as the
        // answer is in the clean prompt
        assertThat(followers(y)).doesNotContain(x.answer(), x.controlAlt());
        assertThat(count(y, x.answer())).isEqualTo(count(c, x.answer())).isEqualTo(1);
        assertThat(count(y, x.controlAlt())).isEqualTo(1);
        assertThat(x.controlAlt()).isNotIn(x.answer(), x.wrong());
        // donor: another sequence of the same structure
        assertThat(followers(d)).hasSize(1);
        assertThat(d).isNotEqualTo(c);
    }

    private static List<Integer> followers(int[] p) {
        List<Integer> out = new ArrayList<>();
        for (int i = 0; i < p.length - 1; i++) if (p[i] == p[p.length - 1]) out.add(p[i + 1]);
        return out;
    }

    private static int count(int[] p, int t) {
        return (int) Arrays.stream(p).filter(v -> v == t).count();
    }

    @Test
    void generationIsDeterministicAndSeedsDiffer() {
        V2Protocol p = V2Protocol.build("m", V2Protocol.Counts.full(), gpt2, 2, 2);
        FamilySpec f = p.families().get(0);
        List<PromptPair> a = InductionPrompts.family(f, p.pool(f.pool()), gpt2.bosId(), 5, 20);
        List<PromptPair> b = InductionPrompts.family(f, p.pool(f.pool()), gpt2.bosId(), 5, 20);
        List<PromptPair> c = InductionPrompts.family(f, p.pool(f.pool()), gpt2.bosId(), 6, 20);
        for (int i = 0; i < a.size(); i++) {
            assertThat(a.get(i).clean()).isEqualTo(b.get(i).clean());
            assertThat(a.get(i).corrupt()).isEqualTo(b.get(i).corrupt());
            assertThat(a.get(i).donor()).isEqualTo(b.get(i).donor());
        }
        long same = 0;
        for (int i = 0; i < a.size(); i++) if (Arrays.equals(a.get(i).clean(), c.get(i).clean())) same++;
        assertThat(same).isZero();
        assertThat(a.stream().map(PromptPair::n).distinct().toList()).containsExactlyInAnyOrderElementsOf(f.lengths());
    }

    @Test
    void theProbePoolIsTheWholeVocabularyMinusTheDeclaredSpecialTokens() {
        for (Tokenizer tok : List.of(gpt2, planted)) {
            V2Protocol p = V2Protocol.build("m", V2Protocol.Counts.full(), tok, 2, 2);
            assertThat(p.probePool()).isEqualTo(V2Protocol.VOCABULARY_POOL);
            TokenPool v = p.pool(p.probePool());
            List<Integer> expected = new java.util.ArrayList<>();
            for (int id = 0; id < tok.vocabSize(); id++) if (id != tok.bosId() && !tok.isUnknown(id)) expected.add(id);
            assertThat(v.ids()).isEqualTo(expected);
            assertThat(v.dropped()).anySatisfy(d -> assertThat(d).endsWith("is BOS"));
        }
        assertThat(V2Protocol.build("m", V2Protocol.Counts.full(), planted, 2, 2).pool(V2Protocol.VOCABULARY_POOL).dropped())
                .anySatisfy(d -> assertThat(d).endsWith("is the unknown token"));
    }

    @Test
    void probesRepeatExactlyAndTheirControlsNever() {
        V2Protocol p = V2Protocol.build("m", V2Protocol.Counts.full(), planted, 2, 2);
        List<AttentionProbe> probes = InductionPrompts.probes(p.pool(p.probePool()), planted.bosId(), p.probeLengths(), 3, 5);
        assertThat(probes).hasSize(5 * p.probeLengths().size());
        for (AttentionProbe a : probes) {
            int n = a.n();
            int[] rep = a.repeat(), ctl = a.control();
            assertThat(rep.length).isEqualTo(2 * n + 1).isEqualTo(ctl.length);
            assertThat(Arrays.copyOfRange(rep, 1, n + 1)).isEqualTo(Arrays.copyOfRange(rep, n + 1, 2 * n + 1));
            assertThat(Arrays.stream(rep, 1, n + 1).distinct().count()).isEqualTo(n);
            assertThat(Arrays.stream(ctl, 1, ctl.length).distinct().count()).isEqualTo(2 * n);
            assertThat(rep[0]).isEqualTo(planted.bosId()).isEqualTo(ctl[0]);
        }
    }

    @Test
    void aPoolTooSmallForItsFamilyIsAClearError() {
        TokenPool tiny = TokenPool.build("tiny", List.of("A", "B", "C"), planted);
        assertThatThrownBy(() -> InductionPrompts.family(new FamilySpec("x", "tiny", List.of(5)), tiny, planted.bosId(), 1, 2))
                .isInstanceOf(UserError.class).hasMessageContaining("has 3 single-token words").hasMessageContaining("needs 5");
    }
}
