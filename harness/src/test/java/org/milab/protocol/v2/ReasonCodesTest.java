package org.milab.protocol.v2;

import org.junit.jupiter.api.Test;
import org.milab.graph.Head;

import java.util.LinkedHashMap;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;
import static org.milab.protocol.v2.VerdictRulesTest.T;

/**
 * Every inconclusive verdict states why, as codes ({@link Verdicts#REASON_CODES}) beside the reason text, on the
 * hand-made rows of {@link VerdictRulesTest} and {@link VerdictDefectsTest}: each head's rows are built to fail one
 * rule, so its code is known before the rules run. Confirmed and rejected heads carry no code.
 */
class ReasonCodesTest {
    @Test
    void eachInconclusiveHeadCarriesTheCodeOfTheRuleItsRowsFail() {
        Verdicts.Result r = VerdictRulesTest.decide(VerdictRulesTest.inputs(1));
        assertThat(r.head(VerdictRulesTest.NO_COPY).inconclusiveReasons()).containsExactly("no_copying");
        assertThat(r.head(VerdictRulesTest.NONSPECIFIC).inconclusiveReasons()).containsExactly("unspecific");
        assertThat(r.head(VerdictRulesTest.LONELY_PREV).inconclusiveReasons()).containsExactly("no_composition");
        assertThat(r.head(VerdictRulesTest.STRADDLE).inconclusiveReasons()).containsExactly("straddles");
        for (Head h : new Head[]{VerdictRulesTest.IND, VerdictRulesTest.PREV, VerdictRulesTest.LOOKS, VerdictRulesTest.SILENT})
            assertThat(r.head(h).inconclusiveReasons()).as(h.label() + " " + r.head(h).verdict()).isEmpty();
        Verdicts.Result d = VerdictDefectsTest.decide(VerdictDefectsTest.inputs(), T);
        assertThat(d.head(VerdictDefectsTest.RAISES).inconclusiveReasons()).containsExactly("negative_unexplained");
        assertThat(d.head(VerdictDefectsTest.NO_CONTROL).inconclusiveReasons()).containsExactly("unspecific");
        for (Verdicts.Result x : new Verdicts.Result[]{r, d})
            for (Verdicts.HeadVerdict v : x.heads()) {
                if (!v.verdict().equals(Verdicts.INCONCLUSIVE)) continue;
                assertThat(v.inconclusiveReasons()).as(v.head().label()).isNotEmpty();
                for (String code : v.inconclusiveReasons()) assertThat(Verdicts.REASON_CODES).containsKey(code);
            }
    }

    @Test
    void theStabilityRuleStatesItsOwnCodes() {
        VerdictInputs in = VerdictRulesTest.inputs(5);
        Verdicts.Result pooled = VerdictRulesTest.decide(in);
        Map<Head, Roles.HeadRole> roles = Roles.assign(in.attention(), in.copying(), T, x -> true);
        Verdicts.Result none = Verdicts.decide(VerdictRulesTest.withoutHead(in, VerdictRulesTest.IND), T, roles, x -> true, "none");
        Map<Integer, Verdicts.Result> seeds = new LinkedHashMap<>();
        seeds.put(1, pooled);
        seeds.put(2, none);
        seeds.put(3, none);
        Map<Head, VerdictStage.Final> f = VerdictStage.stabilize(pooled, seeds, T);
        assertThat(f.get(VerdictRulesTest.IND).reasonCodes()).containsExactly("unstable");
        // PREV is confirmed only where IND is, so it is unstable on its own count before its receivers are looked at
        assertThat(f.get(VerdictRulesTest.PREV).reasonCodes()).containsExactly("unstable");
        assertThat(f.get(VerdictRulesTest.LOOKS).reasonCodes()).isEmpty(); // rejected
    }

    @Test
    void theVerdictsTableWritesTheCodesAndItsDescriptionNamesEveryCode() {
        Verdicts.Result pooled = VerdictRulesTest.decide(VerdictRulesTest.inputs(1));
        Map<Integer, Verdicts.Result> seeds = Map.of(1, pooled);
        org.milab.tables.Table t = VerdictStage.verdictTable(pooled, VerdictStage.stabilize(pooled, seeds, T), seeds,
                Map.of(), java.util.Optional.empty(), "sha").build();
        String text = t.description("inconclusive_reason");
        for (String code : Verdicts.REASON_CODES.keySet()) assertThat(text).contains(code + " = ");
        for (org.milab.tables.Table.Row row : t.rows())
            assertThat(row.getStrings("inconclusive_reason")).as(row.getString("head_id"))
                    .isEqualTo(pooled.heads().stream().filter(v -> v.head().label().equals(row.getString("head_id")))
                            .findFirst().orElseThrow().inconclusiveReasons());
        assertThat(t.rows()).anySatisfy(row -> assertThat(row.getStrings("inconclusive_reason")).containsExactly("no_copying"));
    }
}
