package org.milab.circuit;

import org.junit.jupiter.api.Test;
import org.milab.model.ModelConfig;

import java.util.HashSet;
import java.util.List;
import java.util.Set;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

/** The small pieces against hand-made answers: size grid, CPR/CMD areas, AUROC, metrics, MIB naming, pruning. */
class CircuitMathTest {
    private static final ModelConfig TWO_BY_TWO = new ModelConfig(2, 2, 8, 10, 16, 1e-5, ModelConfig.GELU_TANH, false);

    @Test
    void sizeGridIsDeclared() {
        assertThat(CircuitDiscovery.sizeGrid(310)).containsExactly(1, 2, 3, 4, 6, 8, 11, 16, 23, 32, 45, 64, 91, 128, 181, 256, 310);
        assertThat(CircuitDiscovery.sizeGrid(1)).containsExactly(1);
    }

    @Test
    void areasOfALinearCurve() {
        // one example, clean 1, corrupt 0, faithfulness k/4 at k = 1..4: CPR = 1/2 (a triangle), CMD = 1/2
        double[][] curve = {{0.25}, {0.5}, {0.75}, {1.0}};
        List<Integer> sizes = List.of(1, 2, 3, 4);
        int[] idx = {0};
        assertThat(CircuitDiscovery.area(curve, sizes, 4, new double[]{1}, new double[]{0}, idx, false)).isCloseTo(0.5, within(1e-12));
        assertThat(CircuitDiscovery.area(curve, sizes, 4, new double[]{1}, new double[]{0}, idx, true)).isCloseTo(0.5, within(1e-12));
        // a perfect one-edge circuit: CPR = 1 - 1/8 (the first trapezoid), CMD = 1/8
        double[][] perfect = {{1}, {1}, {1}, {1}};
        assertThat(CircuitDiscovery.area(perfect, sizes, 4, new double[]{1}, new double[]{0}, idx, false)).isCloseTo(0.875, within(1e-12));
        assertThat(CircuitDiscovery.area(perfect, sizes, 4, new double[]{1}, new double[]{0}, idx, true)).isCloseTo(0.125, within(1e-12));
    }

    @Test
    void agreementByHand() {
        // exact CIs: e0 and e1 matter (CI excludes 0), e2 and e3 do not, so attribution's picks are its top 2
        org.milab.stats.Bootstrap.Interval[] ci = {
                new org.milab.stats.Bootstrap.Interval(2.0, 1.0, 3.0),    // matters, attribution ranks it 1st, same sign
                new org.milab.stats.Bootstrap.Interval(1.0, 0.5, 1.5),    // matters, attribution ranks it 4th: missed
                new org.milab.stats.Bootstrap.Interval(0.1, -0.2, 0.4),   // indistinguishable from 0, ranked 2nd: overrated
                new org.milab.stats.Bootstrap.Interval(0.0, 2e-6, 0.3)};  // low end within the 1e-5 tolerance of 0: does not matter
        int[] rankIg = {1, 4, 2, 3};
        double[] ig = {5.0, 0.1, 3.0, 1.0};
        assertThat(CircuitStage.agreement(ci, rankIg, ig))
                .containsExactly("agree", "missed_by_attribution", "overrated_by_attribution", "agree");
        // a significant edge whose EAP-IG has the other sign
        ig[0] = -5.0;
        assertThat(CircuitStage.agreement(ci, rankIg, ig)[0]).isEqualTo("sign_differs");
    }

    @Test
    void mibNamesAndCounts() {
        CircuitEdges e = new CircuitEdges(TWO_BY_TWO);
        // layer 0: 3*2*1 + (1+2), layer 1: 3*2*4 + (4+2), logits: 7
        assertThat(e.size()).isEqualTo(6 + 3 + 24 + 6 + 7);
        assertThat(e.upstreamNames()).containsExactly("input", "a0.h0", "a0.h1", "m0", "a1.h0", "a1.h1", "m1");
        assertThat(e.edges().get(0).name()).isEqualTo("input->a0.h0<q>");
        assertThat(e.indexOf("a0.h1->a1.h0<k>")).isPositive();
        assertThat(e.indexOf("a1.h0->a0.h0<q>")).isEqualTo(-1); // no edge runs backwards
        assertThat(e.edges().get(e.size() - 1).name()).isEqualTo("m1->logits");
    }

    @Test
    void aurocByHand() {
        CircuitEdges e = new CircuitEdges(TWO_BY_TWO);
        double[] score = new double[e.size()];
        Set<String> truth = Set.of(e.edges().get(0).name(), e.edges().get(2).name());
        score[0] = 3;
        score[1] = -2; // |score| ranks
        score[2] = 1;
        // e0 beats every other edge; e2 beats all but e1 (the other e.size() - 3 edges tie at 0 below it)
        int others = e.size() - 2;
        assertThat(Auroc.of(score, e, truth)).isCloseTo((others + (others - 1.0)) / (2.0 * others), within(1e-12));
    }

    @Test
    void metrics() {
        TokenPair p = new TokenPair(0, new int[]{1, 2}, new int[]{1, 3}, 0, 1);
        float[] logits = {2f, 0f, 0f};
        assertThat(CircuitMetric.LOGIT_DIFF.of(logits, logits, p)).isEqualTo(2.0);
        assertThat(CircuitMetric.LOG_PROB.of(logits, logits, p)).isCloseTo(2 - Math.log(Math.exp(2) + 2), within(1e-6));
        assertThat(CircuitMetric.KL.of(logits, logits, p)).isCloseTo(0, within(1e-9));
        float[] uniform = {0f, 0f, 0f};
        double pa = Math.exp(2) / (Math.exp(2) + 2), pb = 1 / (Math.exp(2) + 2);
        double kl = pa * Math.log(pa * 3) + 2 * pb * Math.log(pb * 3);
        assertThat(CircuitMetric.KL.of(uniform, logits, p)).isCloseTo(kl, within(1e-6));
    }

    @Test
    void pruningDropsDeadEnds() {
        CircuitEdges e = new CircuitEdges(TWO_BY_TWO);
        Set<Integer> c = new HashSet<>();
        for (String n : List.of("input->a0.h1<v>", "a0.h1->a1.h0<k>", "a1.h0->logits", // a path to the logits
                "input->a1.h1<q>",                                                     // a1.h1 feeds nothing
                "a0.h0->m1"))                                                          // a0.h0 reads nothing, m1 feeds nothing
            c.add(e.indexOf(n));
        Set<String> kept = new HashSet<>();
        for (int i : CircuitStage.prune(c, e)) kept.add(e.edges().get(i).name());
        assertThat(kept).containsExactlyInAnyOrder("input->a0.h1<v>", "a0.h1->a1.h0<k>", "a1.h0->logits");
    }
}
