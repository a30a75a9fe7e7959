package org.milab.protocol.v2;

import org.junit.jupiter.api.Test;
import org.milab.graph.Head;
import org.milab.tables.Table;
import org.milab.tables.TableBuilder;

import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

/**
 * Circuit-level summaries on hand-made per-prompt rows whose answers are computed here by hand: a circuit of a
 * positive head A (carries 0.8 of the gap) and a negative head N (-0.2), a model whose other heads add 0.1.
 * Also the ranking AUROC against a truth, computed by hand.
 */
class CircuitEvidenceTest {
    static final Head A = new Head(1, 0), N = new Head(1, 1);

    /** LD = corrupt + gap x (what the kept heads carry); clean keeps everything: 0.8 - 0.2 + 0.1 + base 0.3 = 1. */
    static double ld(double corrupt, double gap, boolean a, boolean n, boolean others) {
        return corrupt + gap * (0.3 + (a ? 0.8 : 0) + (n ? -0.2 : 0) + (others ? 0.1 : 0));
    }

    static Table rows() {
        TableBuilder b = Table.builder(CircuitEvidence.TABLE).keys("prompt_id", "intervention").int64("seed")
                .string("family", "prompt_id", "intervention").float64("ld_clean", "ld_corrupt", "gap", "ld_patched");
        for (int i = 0; i < 30; i++) {
            double gap = 8 + (i % 5), corrupt = -2 - (i % 3), clean = corrupt + gap;
            String id = "q" + i;
            Map<String, Double> kinds = new java.util.LinkedHashMap<>();
            kinds.put(CircuitEvidence.CIRCUIT_ONLY, ld(corrupt, gap, true, true, false));
            kinds.put(CircuitEvidence.MODEL_WITHOUT_CIRCUIT, ld(corrupt, gap, false, false, true));
            kinds.put(CircuitEvidence.NOTHING_KEPT, ld(corrupt, gap, false, false, false));
            kinds.put(CircuitEvidence.MODEL_WITHOUT + A.label(), ld(corrupt, gap, false, true, true));
            kinds.put(CircuitEvidence.MODEL_WITHOUT + N.label(), ld(corrupt, gap, true, false, true));
            kinds.put(CircuitEvidence.CIRCUIT_WITHOUT + A.label(), ld(corrupt, gap, false, true, false));
            kinds.put(CircuitEvidence.CIRCUIT_WITHOUT + N.label(), ld(corrupt, gap, true, false, false));
            for (Map.Entry<String, Double> k : kinds.entrySet())
                b.addRow(1, "f", id, k.getKey(), clean, corrupt, gap, k.getValue());
        }
        return b.build();
    }

    @SuppressWarnings("unchecked")
    static Map<String, Object> map(Object o) {
        return (Map<String, Object>) o;
    }

    @SuppressWarnings("unchecked")
    static List<Map<String, Object>> list(Object o) {
        return (List<Map<String, Object>>) o;
    }

    static double est(Object interval) {
        return (Double) map(interval).get("estimate");
    }

    @Test
    void faithfulnessCompletenessAndMinimalityAreWhatTheRowsSay() {
        Map<String, Object> m = CircuitEvidence.summarize(rows(), List.of(A, N), VerdictRulesTest.T);
        Map<String, Object> f = map(m.get("faithfulness"));
        // kept as a fraction of the gap: 0.3 + 0.8 - 0.2 = 0.9 (the others' 0.1 is lost)
        assertThat(est(f.get("fraction_of_gap"))).isCloseTo(0.9, within(1e-12));
        assertThat((Double) map(f.get("fraction_of_gap")).get("ci_low")).isCloseTo(0.9, within(1e-9));
        // as a fraction of the clean LD: mean(corrupt + 0.9 gap) / mean(corrupt + gap), by hand
        double num = 0, den = 0;
        for (int i = 0; i < 30; i++) {
            double gap = 8 + (i % 5), corrupt = -2 - (i % 3);
            num += corrupt + 0.9 * gap;
            den += corrupt + gap;
        }
        assertThat(est(f.get("fraction_of_clean_ld"))).isCloseTo(num / den, within(1e-12));
        // completeness: circuit \ K minus model \ K is minus the others' 0.1 for every K (whole circuit: 0.3 vs 0.4)
        for (Map<String, Object> k : list(map(m.get("completeness")).get("by_removed_set")))
            assertThat(est(k.get("circuit_minus_model_fraction_of_gap"))).as(k.get("removed_set_k").toString())
                    .isCloseTo(-0.1, within(1e-12));
        assertThat((Double) map(m.get("completeness")).get("largest_abs_difference")).isCloseTo(0.1, within(1e-12));
        // minimality: A's marginal 0.8, N's -0.2 (a negative head's marginal is negative, still needed)
        List<Map<String, Object>> mini = list(map(m.get("minimality")).get("by_member"));
        assertThat(est(mini.get(0).get("marginal_fraction_of_gap"))).isCloseTo(0.8, within(1e-12));
        assertThat(est(mini.get(1).get("marginal_fraction_of_gap"))).isCloseTo(-0.2, within(1e-12));
        assertThat(map(m.get("minimality")).get("every_member_needed")).isEqualTo(true);
    }

    @Test
    void noCircuitMeansNothingToMeasure() {
        Map<String, Object> m = CircuitEvidence.summarize(rows(), List.of(), VerdictRulesTest.T);
        assertThat(m).containsKey("note").doesNotContainKey("faithfulness");
        assertThat(VerdictStage.circuitLevel(m)).contains("no confirmed circuit");
    }

    @Test
    void aurocCountsPairsAndTies() {
        assertThat(Ranking.auroc(List.of(3.0, 2.0), List.of(1.0, 0.0))).isEqualTo(1.0);
        assertThat(Ranking.auroc(List.of(1.0), List.of(1.0, 2.0))).isEqualTo(0.25);
        assertThat(Ranking.auroc(List.of(), List.of(1.0))).isNull();
    }

    @Test
    void rankingOnHandMadeVerdictsRanksTheTrueHeadsFirst() {
        VerdictInputs in = VerdictRulesTest.inputs(1);
        Verdicts.Result r = VerdictRulesTest.decide(in);
        Map<Head, String> roles = new java.util.TreeMap<>();
        Map<Head, Boolean> inCircuit = new java.util.TreeMap<>();
        for (Verdicts.HeadVerdict v : r.heads()) {
            roles.put(v.head(), "x");
            inCircuit.put(v.head(), v.head().equals(VerdictRulesTest.IND) || v.head().equals(VerdictRulesTest.PREV));
        }
        Map<String, Object> rank = Ranking.against(r, new PlantedTruth(roles, inCircuit));
        // IND (denoising 1.0) outranks all 6 others; PREV (0.5) outranks 4 and loses to NONSPECIFIC and NO_COPY (0.6)
        assertThat((Double) rank.get("max_abs_effect_or_path")).isCloseTo((6 + 4) / 12.0, within(1e-12));
    }
}
