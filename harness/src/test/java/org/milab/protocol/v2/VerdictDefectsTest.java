package org.milab.protocol.v2;

import org.junit.jupiter.api.Test;
import org.milab.graph.Head;
import org.milab.stats.Hypothesis;
import org.milab.tables.Table;
import org.milab.util.UserError;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.milab.protocol.v2.VerdictRulesTest.Path;
import static org.milab.protocol.v2.VerdictRulesTest.Spec;
import static org.milab.protocol.v2.VerdictRulesTest.T;

/**
 * The five defects of the first v2 rules (issue 17), each on hand-made rows whose right verdict is known
 * before the rules run. Each test failed on the rules before the fix.
 */
class VerdictDefectsTest {
    static final Head PREV = new Head(0, 0), REPAIRED_PREV = new Head(0, 1), IND = new Head(1, 0), RAISES = new Head(1, 1),
            NOTHING = new Head(1, 2), NO_CONTROL = new Head(1, 3), UNSHOWN = new Head(1, 4), DUP_STRADDLE = new Head(0, 2);

    static Map<Head, Spec> specs() {
        Map<Head, Spec> s = new LinkedHashMap<>();
        s.put(PREV, new Spec(0, 0, 0.8, 0, 0.5, 0.5, 0.4, 0, 0.02));
        s.put(REPAIRED_PREV, new Spec(0, 0, 0.8, 0, 0, 0, 0, 0, 0.005));    // total effect repaired downstream
        s.put(IND, new Spec(0.9, 0, 0, 1, 0.5, 0.5, 1.0, 0, 0.02));
        s.put(RAISES, new Spec(0, 0, 0, 0, -0.3, -0.3, -0.3, 0, 0.02));     // ablating it RAISES the logit difference
        s.put(NOTHING, new Spec(0, 0, 0, 0, 0, 0, 0, 0, 0.005));
        s.put(NO_CONTROL, new Spec(0.9, 0, 0, 1, 0.5, 0.5, 1.0, Double.NaN, 0.02));
        s.put(UNSHOWN, new Spec(0.9, 0, 0, 1, 0.65, 0.65, 0.65, 0.3, 1.0)); // control CI low < 0.05 < high
        s.put(DUP_STRADDLE, new Spec(0, 0.9, 0, 0, 0.05, 0.05, 0.05, 0, 0.3));
        return s;
    }

    static VerdictInputs inputs() {
        return VerdictRulesTest.inputs(11, specs(), List.of(new Path(PREV, IND, 0.45), new Path(REPAIRED_PREV, IND, 0.4)));
    }

    static Verdicts.Result decide(VerdictInputs in, V2Protocol.Thresholds t) {
        return Verdicts.decide(in, t, Roles.assign(in.attention(), in.copying(), t, r -> true), r -> true, "test");
    }

    @Test
    void defect1_aSignificantlyNegativeEffectIsAFindingNotNegligible() {
        Verdicts.Result r = decide(inputs(), T);
        Verdicts.HeadVerdict raises = r.head(RAISES);
        assertThat(raises.effects().get(Verdicts.MEAN).normalized().high()).isLessThan(-0.2); // the rows say so
        assertThat(raises.verdict()).isNotEqualTo(Verdicts.REJECTED);
        assertThat(raises.reason()).contains("negative");
        assertThat(r.head(NOTHING).verdict()).isEqualTo(Verdicts.REJECTED);           // |effect| small: negligible
        assertThat(r.head(NOTHING).reason()).contains("inside");
    }

    @Test
    void defect2_specificityMustBeShown() {
        Verdicts.Result r = decide(inputs(), T);
        assertThat(r.head(IND).verdict()).isEqualTo(Verdicts.CONFIRMED);
        assertThat(r.head(NO_CONTROL).verdict()).isEqualTo(Verdicts.INCONCLUSIVE);
        assertThat(r.head(NO_CONTROL).reason()).contains("control effect is undefined");
        Verdicts.HeadVerdict u = r.head(UNSHOWN);
        // the old rule's "specific" (control CI low below the minimum) holds, and the main effect is significant
        assertThat(u.control().normalized().low()).isLessThan(T.minEffectFraction());
        assertThat(u.control().normalized().high()).isGreaterThan(T.minEffectFraction());
        assertThat(u.adjusted().get(Verdicts.MEAN)).isLessThan(T.alpha());
        assertThat(u.verdict()).isEqualTo(Verdicts.INCONCLUSIVE);
        assertThat(u.reason()).contains("specificity is not shown");
    }

    @Test
    void defect3_theRegisteredCorrectionIsTheOneApplied() {
        VerdictInputs in = inputs();
        Verdicts.Result holm = decide(in, T);
        for (String c : List.of("benjamini_hochberg", "bonferroni", "holm")) {
            Verdicts.Result r = decide(in, with(c));
            double[] all = r.rawP();
            double[] expected = switch (c) {
                case "holm" -> Hypothesis.holm(all);
                case "benjamini_hochberg" -> Hypothesis.benjaminiHochberg(all);
                default -> java.util.Arrays.stream(all).map(p -> Math.min(1, p * all.length)).toArray();
            };
            assertThat(r.adjustedP()).as(c).containsExactly(expected, org.assertj.core.api.Assertions.within(1e-15));
        }
        assertThat(decide(in, with("benjamini_hochberg")).adjustedP()).isNotEqualTo(holm.adjustedP());
        assertThatThrownBy(() -> decide(in, with("sidak")))
                .isInstanceOf(UserError.class).hasMessageContaining("sidak");
    }

    @Test
    void defect3_theRegisteredRejectionRuleIsTheOneExecuted() {
        Verdicts.Result r = decide(inputs(), T);
        // a duplicate-token head whose effect straddles the minimum: not negligible, not significant
        assertThat(r.head(DUP_STRADDLE).role().role()).isEqualTo(Roles.DUPLICATE);
        assertThat(r.head(DUP_STRADDLE).verdict()).isEqualTo(Verdicts.INCONCLUSIVE);
        String rejected = V2Protocol.RULES.stream().filter(x -> x.startsWith("rejected:")).findFirst().orElseThrow();
        assertThat(rejected).doesNotContain("without any significant effect").contains("negligible");
        String negligible = V2Protocol.RULES.stream().filter(x -> x.startsWith("negligible:")).findFirst().orElseThrow();
        assertThat(negligible).contains("inside").contains("path");
        assertThat(V2Protocol.RULES).anyMatch(x -> x.contains("correction") && x.contains("thresholds.correction"));
    }

    @Test
    void defect4_aPathEffectCountsAsAnEffect() {
        Verdicts.Result r = decide(inputs(), T);
        Verdicts.HeadVerdict v = r.head(REPAIRED_PREV);
        assertThat(v.effects().get(Verdicts.MEAN).normalized().high()).isLessThan(T.minEffectFraction());
        assertThat(v.verdict()).isNotEqualTo(Verdicts.REJECTED);
        assertThat(v.verdict()).isEqualTo(Verdicts.CONFIRMED);
        assertThat(v.reason()).contains("path");
    }

    @Test
    void defect5_verdictColumnsNameAdjustedAndRawPSignFractionAndN() {
        Verdicts.Result r = decide(inputs(), T);
        Map<Head, VerdictStage.Final> fin = VerdictStage.stabilize(r, Map.of(1, r), T);
        Table t = VerdictStage.verdictTable(r, fin, Map.of(1, r), Map.of(), Optional.empty(), "sha").build();
        for (String test : Verdicts.TESTS)
            for (String c : List.of("p_adjusted_" + test, "p_raw_" + test, "expected_sign_fraction_" + test, "n_" + test)) {
                assertThat(t.hasColumn(c)).as(c).isTrue();
                assertThat(t.description(c)).as(c).isNotBlank();
            }
        assertThat(t.columnNames()).doesNotContain("p_" + Verdicts.MEAN);
        Table.Row ind = t.rows().stream().filter(x -> x.getString("head_id").equals(IND.label())).findFirst().orElseThrow();
        Verdicts.Effect mean = r.head(IND).effects().get(Verdicts.MEAN);
        assertThat(ind.getDouble("p_raw_" + Verdicts.MEAN)).isEqualTo(mean.p());
        assertThat(ind.getLong("n_" + Verdicts.MEAN)).isEqualTo(40L);
        assertThat(ind.getDouble("expected_sign_fraction_" + Verdicts.MEAN)).isEqualTo(1.0);
        Table.Row raises = t.rows().stream().filter(x -> x.getString("head_id").equals(RAISES.label())).findFirst().orElseThrow();
        assertThat(raises.getDouble("expected_sign_fraction_" + Verdicts.MEAN)).isEqualTo(0.0); // expected sign: positive
        for (String c : t.columnNames()) assertThat(t.description(c)).as(c).isNotBlank();
    }

    static V2Protocol.Thresholds with(String correction) {
        return new V2Protocol.Thresholds(T.attentionMargin(), T.copyMargin(), T.minEffectFraction(), T.alpha(), correction,
                T.floatTolerance(), T.bootstrapResamples(), T.bootstrapSeed(), T.confidence(), T.stableSeedFraction(), T.copyTopK());
    }
}
