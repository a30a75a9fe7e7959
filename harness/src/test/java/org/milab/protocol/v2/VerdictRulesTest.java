package org.milab.protocol.v2;

import org.junit.jupiter.api.Test;
import org.milab.graph.Head;
import org.milab.tables.Table;
import org.milab.tables.TableBuilder;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.function.DoubleUnaryOperator;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The pre-registered decision rules on hand-made per-prompt tables, one head per rule: what each head's
 * rows say is chosen here, so every verdict below is known before the rules run.
 */
class VerdictRulesTest {
    /** copy_top_k = 1 here: these rules are about effects; {@link CopyScoreTest} tests k. */
    static final V2Protocol.Thresholds T = new V2Protocol.Thresholds(0.1, 0.1, 0.05, 0.05, "holm", 1e-4, 1000, 7, 0.95, 0.5, 1);
    static final int PROMPTS = 40, PROBES = 24, POOL = 20;
    static final Head PREV = new Head(0, 0), LONELY_PREV = new Head(0, 1), IND = new Head(1, 0), LOOKS = new Head(1, 1),
            STRADDLE = new Head(1, 2), NONSPECIFIC = new Head(1, 3), NO_COPY = new Head(1, 4), SILENT = new Head(0, 2);

    /** How one head behaves: attention excess per role, OV (1 copies, -1 anti-copies, 0 neither), and per-prompt effects as fractions of the gap. */
    record Spec(double ind, double dup, double prev, int ov, double mean, double resample, double denoise,
                double control, double noise) {}

    static final Map<Head, Spec> SPECS = new LinkedHashMap<>();

    static {
        SPECS.put(PREV, new Spec(0, 0, 0.8, 0, 0.5, 0.5, 0.4, 0, 0.02));
        SPECS.put(LONELY_PREV, new Spec(0, 0, 0.7, 0, 0.3, 0.3, 0.2, 0, 0.02));  // necessary, composes into nothing
        SPECS.put(IND, new Spec(0.9, 0, 0, 1, 0.5, 0.5, 1.0, 0, 0.02));
        SPECS.put(LOOKS, new Spec(0.9, 0, 0, 1, 0, 0, 0, 0, 0.005));               // attention that only looks right
        SPECS.put(STRADDLE, new Spec(0, 0, 0, 0, 0.05, 0.05, 0.05, 0, 0.3));        // CI straddles the minimum
        SPECS.put(NONSPECIFIC, new Spec(0.8, 0, 0, 1, 0.4, 0.4, 0.6, 0.4, 0.02));   // moves the unlicensed answer too
        SPECS.put(NO_COPY, new Spec(0.8, 0, 0, 0, 0.4, 0.4, 0.6, 0, 0.02));        // effect, but OV does not copy
        SPECS.put(SILENT, new Spec(0, 0.9, 0, 0, 0, 0, 0, 0, 0.001));              // duplicate-token decoy
    }

    static VerdictInputs inputs(long seed) {
        return inputs(seed, SPECS, List.of(new Path(PREV, IND, 0.45), new Path(LONELY_PREV, LOOKS, 0.3)));
    }

    /** A sender's path into a receiver's keys and its effect as a fraction of the gap (noise 0.02). */
    record Path(Head sender, Head receiver, double effect) {}

    /** Hand-made rows of {@code specs}; a spec whose control is NaN gets no control rows (undefined control). */
    static VerdictInputs inputs(long seed, Map<Head, Spec> specs, List<Path> paths) {
        Random rnd = new Random(seed);
        TableBuilder att = Table.builder(AttentionProbeStage.TABLE).keys("probe_id", "layer", "head").int64("seed")
                .string("probe_id").int64("layer", "head").float64("induction_excess", "duplicate_excess", "previous_excess", "bos_repeat");
        TableBuilder cop = Table.builder(CopyingStage.TABLE).keys("layer", "head", "token_id").int64("layer", "head", "token_id")
                .int64("own_rank", "pool_size");
        TableBuilder base = Table.builder(CausalStage.BASELINES).keys("prompt_id").int64("seed").string("family", "prompt_id").float64("gap");
        TableBuilder abl = Causal.perPromptTable(CausalStage.ABLATIONS, "x", "intervention");
        TableBuilder pat = Causal.perPromptTable(CausalStage.PATCHES, "x", "intervention");
        TableBuilder grp = Table.builder(GroupAblationStage.TABLE).keys("prompt_id", "group", "left_out").int64("seed")
                .string("family", "prompt_id", "group").stringList("heads").string("left_out").float64("delta");
        TableBuilder comp = Table.builder(CompositionStage.TABLE).keys("prompt_id", "sender_id", "receiver_id").int64("seed")
                .string("family", "prompt_id", "sender_id", "receiver_id").float64("delta");
        for (Map.Entry<Head, Spec> e : specs.entrySet()) {
            Head h = e.getKey();
            Spec s = e.getValue();
            for (int i = 0; i < PROBES; i++)
                att.addRow(i % 2, "p" + i, h.layer(), h.head(), s.ind + 0.02 * rnd.nextGaussian(),
                        s.dup + 0.02 * rnd.nextGaussian(), s.prev + 0.02 * rnd.nextGaussian(), 0.1);
            for (int t = 0; t < POOL; t++) cop.addRow(h.layer(), h.head(), t, ownRank(s.ov, t), POOL);
        }
        for (int i = 0; i < PROMPTS; i++) {
            String id = "q" + i, fam = i % 2 == 0 ? "a" : "b";
            double gap = 10 + rnd.nextGaussian();
            base.addRow(i % 2, fam, id, gap);
            for (Map.Entry<Head, Spec> e : specs.entrySet()) {
                Head h = e.getKey();
                Spec s = e.getValue();
                DoubleUnaryOperator eff = frac -> (frac + s.noise * rnd.nextGaussian()) * gap;
                abl.row().set("seed", i % 2).set("family", fam).set("prompt_id", id).set("layer", h.layer()).set("head", h.head())
                        .set("intervention", CausalStage.MEAN).set("delta", eff.applyAsDouble(s.mean)).add();
                abl.row().set("seed", i % 2).set("family", fam).set("prompt_id", id).set("layer", h.layer()).set("head", h.head())
                        .set("intervention", CausalStage.RESAMPLE).set("delta", eff.applyAsDouble(s.resample)).add();
                if (!Double.isNaN(s.control))
                    abl.row().set("seed", i % 2).set("family", fam).set("prompt_id", id).set("layer", h.layer()).set("head", h.head())
                            .set("intervention", CausalStage.CONTROL).set("delta", eff.applyAsDouble(s.control)).add();
                pat.row().set("seed", i % 2).set("family", fam).set("prompt_id", id).set("layer", h.layer()).set("head", h.head())
                        .set("intervention", CausalStage.DENOISE).set("delta", eff.applyAsDouble(s.denoise)).add();
            }
            for (Path c : paths)
                comp.addRow(i % 2, fam, id, c.sender().label(), c.receiver().label(), (c.effect() + 0.02 * rnd.nextGaussian()) * gap);
        }
        return new VerdictInputs(att.build(), cop.build(), base.build(), abl.build(), pat.build(), grp.build(), comp.build());
    }

    /**
     * Own rank of pool token t in its OV row: a copying head (ov 1) ranks every token first but token 3 (middle), an
     * anti-copying one (-1) last but token 3, and a neutral one (0) spreads the ranks as a permutation of 1..POOL.
     */
    static long ownRank(int ov, int t) {
        if (ov != 0 && t == 3) return POOL / 2;
        return ov > 0 ? 1 : ov < 0 ? POOL : 1 + (7L * t + 2) % POOL;
    }

    static Verdicts.Result decide(VerdictInputs in) {
        return Verdicts.decide(in, T, Roles.assign(in.attention(), in.copying(), T, r -> true), r -> true, "test");
    }

    @Test
    void eachHeadGetsTheVerdictItsRowsCallFor() {
        Verdicts.Result r = decide(inputs(1));
        assertThat(r.gapOk()).isTrue();
        assertThat(verdict(r, IND)).isEqualTo(Verdicts.CONFIRMED);
        assertThat(verdict(r, PREV)).isEqualTo(Verdicts.CONFIRMED);
        assertThat(r.head(PREV).reason()).contains("composes into " + IND);
        assertThat(verdict(r, LONELY_PREV)).isEqualTo(Verdicts.INCONCLUSIVE); // its only receiver is not confirmed
        assertThat(r.head(LONELY_PREV).reason()).contains("no significant composition into a confirmed induction or negative head");
        assertThat(verdict(r, LOOKS)).isEqualTo(Verdicts.REJECTED);
        assertThat(r.head(LOOKS).reason()).startsWith("Induction attention excess");
        assertThat(verdict(r, STRADDLE)).isEqualTo(Verdicts.INCONCLUSIVE);
        assertThat(verdict(r, NONSPECIFIC)).isEqualTo(Verdicts.INCONCLUSIVE);
        assertThat(r.head(NONSPECIFIC).reason()).contains("control's unlicensed answer");
        assertThat(verdict(r, NO_COPY)).isEqualTo(Verdicts.INCONCLUSIVE);
        assertThat(r.head(NO_COPY).reason()).contains("does not copy above chance");
        assertThat(verdict(r, SILENT)).isEqualTo(Verdicts.REJECTED);
        assertThat(r.head(SILENT).role().role()).isEqualTo(Roles.DUPLICATE);
        assertThat(r.confirmed()).containsExactlyInAnyOrder(IND, PREV);
    }

    @Test
    void rolesComeFromAttentionExcessAndCopyingFromTheOvScores() {
        VerdictInputs in = inputs(2);
        Map<Head, Roles.HeadRole> roles = Roles.assign(in.attention(), in.copying(), T, r -> true);
        assertThat(roles.get(IND).role()).isEqualTo(Roles.INDUCTION);
        assertThat(roles.get(PREV).role()).isEqualTo(Roles.PREVIOUS);
        assertThat(roles.get(STRADDLE).role()).isEqualTo(Roles.OTHER);
        assertThat(roles.get(IND).copying()).isTrue();
        assertThat(roles.get(IND).copy().estimate()).isEqualTo(19.0 / 20);
        assertThat(roles.get(NO_COPY).copying()).isFalse();
        assertThat(roles.get(NO_COPY).copyChance()).isEqualTo(1.0 / POOL);
        assertThat(Roles.compositionPairs(roles)).extracting(p -> p[0] + "->" + p[1])
                .contains("L0H0->L1H0", "L0H1->L1H1", "L0H0->L1H3").doesNotContain("L1H0->L0H0");
    }

    @Test
    void holmAdjustedPValuesAreNeverBelowTheRawOnes() {
        Verdicts.Result r = decide(inputs(3));
        for (Verdicts.HeadVerdict v : r.heads())
            v.adjusted().forEach((test, p) -> assertThat(p).isGreaterThanOrEqualTo(v.effects().get(test).p()));
        assertThat(r.head(IND).pAdjusted()).isLessThan(1e-6);
        assertThat(r.head(LOOKS).pAdjusted()).isEqualTo(1.0);
    }

    @Test
    void verdictsDoNotDependOnRowOrder() {
        VerdictInputs in = inputs(4);
        Table shuffled = in.ablations().filter(x -> true);
        List<Integer> order = new java.util.ArrayList<>();
        for (int i = 0; i < shuffled.rowCount(); i++) order.add(i);
        java.util.Collections.reverse(order);
        TableBuilder b = Causal.perPromptTable(CausalStage.ABLATIONS, "x", "intervention");
        for (int i : order) b.addRow(shuffled.row(i).toMap());
        VerdictInputs rev = new VerdictInputs(in.attention(), in.copying(), in.baselines(), b.build(), in.patches(),
                in.groups(), in.composition());
        Verdicts.Result a = decide(in), c = decide(rev);
        for (Verdicts.HeadVerdict v : a.heads()) {
            assertThat(c.head(v.head()).verdict()).isEqualTo(v.verdict());
            assertThat(c.head(v.head()).effects().get(Verdicts.MEAN).raw().estimate())
                    .isCloseTo(v.effects().get(Verdicts.MEAN).raw().estimate(), org.assertj.core.api.Assertions.within(1e-9));
        }
    }

    @Test
    void aConfirmationMostSeedsDoNotRepeatBecomesInconclusiveAndTakesItsPreviousTokenHeadAlong() {
        Verdicts.Result pooled = decide(inputs(5));
        VerdictInputs in = inputs(5);
        Map<Head, Roles.HeadRole> roles = Roles.assign(in.attention(), in.copying(), T, r -> true);
        // three "seeds": IND confirmed in one only (the others are the hand-made result without IND's support)
        Verdicts.Result none = Verdicts.decide(withoutHead(in, IND), T, roles, r -> true, "none");
        Map<Integer, Verdicts.Result> seeds = new LinkedHashMap<>();
        seeds.put(1, pooled);
        seeds.put(2, none);
        seeds.put(3, none);
        Map<Head, VerdictStage.Final> f = VerdictStage.stabilize(pooled, seeds, T);
        assertThat(f.get(IND).verdict()).isEqualTo(Verdicts.INCONCLUSIVE);
        assertThat(f.get(IND).reason()).startsWith("Confirmed on pooled prompts but in only 1 of 3 seeds");
        assertThat(f.get(PREV).verdict()).isEqualTo(Verdicts.INCONCLUSIVE);
        Map<Head, VerdictStage.Final> stable = VerdictStage.stabilize(pooled, Map.of(1, pooled, 2, pooled, 3, none), T);
        assertThat(stable.get(IND).verdict()).isEqualTo(Verdicts.CONFIRMED);
        assertThat(stable.get(IND).seedsConfirmed()).isEqualTo(2);
    }

    @Test
    void noGapMeansNothingIsJudged() {
        VerdictInputs in = inputs(6);
        TableBuilder b = Table.builder(CausalStage.BASELINES).keys("prompt_id").int64("seed").string("family", "prompt_id").float64("gap");
        for (Table.Row r : in.baselines().rows()) b.addRow(r.getLong("seed"), r.getString("family"), r.getString("prompt_id"),
                (r.getString("prompt_id").hashCode() % 2 == 0 ? 1 : -1) * 0.5);
        Verdicts.Result r = decide(new VerdictInputs(in.attention(), in.copying(), b.build(), in.ablations(), in.patches(),
                in.groups(), in.composition()));
        assertThat(r.gapOk()).isFalse();
        assertThat(r.heads()).allSatisfy(v -> assertThat(v.verdict()).isEqualTo(Verdicts.INCONCLUSIVE));
    }

    private static String verdict(Verdicts.Result r, Head h) {
        return r.head(h).verdict();
    }

    /** The inputs with one head's causal rows set to no effect. */
    static VerdictInputs withoutHead(VerdictInputs in, Head h) {
        TableBuilder a = Causal.perPromptTable(CausalStage.ABLATIONS, "x", "intervention");
        for (Table.Row r : in.ablations().rows()) {
            Map<String, Object> m = r.toMap();
            if (Roles.head(r).equals(h)) m.put("delta", 0.0);
            a.addRow(m);
        }
        TableBuilder p = Causal.perPromptTable(CausalStage.PATCHES, "x", "intervention");
        for (Table.Row r : in.patches().rows()) {
            Map<String, Object> m = r.toMap();
            if (Roles.head(r).equals(h)) m.put("delta", 0.0);
            p.addRow(m);
        }
        return new VerdictInputs(in.attention(), in.copying(), in.baselines(), a.build(), p.build(), in.groups(), in.composition());
    }
}
