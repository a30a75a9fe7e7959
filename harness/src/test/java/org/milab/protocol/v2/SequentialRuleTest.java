package org.milab.protocol.v2;

import org.junit.jupiter.api.Test;
import org.milab.graph.Head;
import org.milab.stats.Bootstrap.Interval;
import org.milab.tables.Table;
import org.milab.tables.TableBuilder;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.TreeMap;

import static org.assertj.core.api.Assertions.assertThat;

/** The futility rule of the sequential design on hand-made intervals and rows, its looks, and how looks merge. */
class SequentialRuleTest {
    static final double F = 0.05;

    static Map<String, Interval> all(Interval i) {
        Map<String, Interval> m = new LinkedHashMap<>();
        for (String t : Sequential.TESTS) m.put(t, i);
        return m;
    }

    @Test
    void stopsOnlyWhenEveryTestLiesStrictlyInsideTheBand() {
        assertThat(Sequential.futile(all(new Interval(0.0, -0.01, 0.01)), F)).isTrue();
        assertThat(Sequential.futile(all(new Interval(0.0, -0.049, 0.049)), F)).isTrue();
        // a head at the boundary continues: a CI that touches +-f is not decisively inside
        assertThat(Sequential.futile(all(new Interval(0.0, -0.01, 0.05)), F)).isFalse();
        assertThat(Sequential.futile(all(new Interval(0.0, -0.05, 0.01)), F)).isFalse();
        // straddling, outside, undefined
        assertThat(Sequential.futile(all(new Interval(0.04, 0.02, 0.07)), F)).isFalse();
        assertThat(Sequential.futile(all(new Interval(0.2, 0.1, 0.3)), F)).isFalse();
        assertThat(Sequential.futile(all(Interval.EMPTY), F)).isFalse();
    }

    @Test
    void oneUndecidedOrMissingTestKeepsTheHead() {
        for (String test : Sequential.TESTS) {
            Map<String, Interval> m = all(new Interval(0.0, -0.01, 0.01));
            m.put(test, new Interval(0.0, -0.01, 0.06));
            assertThat(Sequential.futile(m, F)).as(test).isFalse();
            m.remove(test);
            assertThat(Sequential.futile(m, F)).as(test + " missing").isFalse();
        }
        assertThat(Sequential.TESTS).containsExactlyInAnyOrder(CausalStage.MEAN, CausalStage.RESAMPLE, CausalStage.DENOISE,
                CausalStage.CONTROL);
    }

    @Test
    void looksDoubleFromAnEighthWithTheFirstAtLeastTwentyPairs() {
        Sequential on = Sequential.declared(true);
        // full counts: 3 seeds x 5 families x 16: 30, 60, 120, 240 pairs in all
        assertThat(on.looks(16, 15)).containsExactly(2, 4, 8, 16);
        // 2 seeds x 5 families x 4: the 20-pair minimum rules the first look, the eighth and quarter merge
        assertThat(on.looks(4, 10)).containsExactly(2, 4);
        assertThat(on.looks(8, 10)).containsExactly(2, 4, 8);
        assertThat(on.looks(4, 5)).containsExactly(4);       // 1 seed: one look holds every pair, nothing can stop
        assertThat(on.looks(100, 15)).containsExactly(13, 25, 50, 100);
        assertThat(on.looks(7, 1)).containsExactly(7);       // 20 pairs needed of a group of 7: all of it
        assertThat(Sequential.declared(false).looks(16, 15)).containsExactly(16);
        assertThat(on.futilityConfidence()).isGreaterThan(V2Protocol.THRESHOLDS.confidence());
        assertThat(List.of(on.rule())).allMatch(r -> r.contains("p = 1") && r.contains("strictly inside")
                && r.contains("each registered look"));
        // a protocol.json registered with the two-stage design (no look_fractions) reads back as it ran
        Sequential old = new Sequential(true, 0.25, 20, 0.99, "old", null, null);
        assertThat(old.looks(16, 15)).containsExactly(4, 16);
        assertThat(old.looks(4, 10)).containsExactly(2, 4);
    }

    static final V2Protocol.Thresholds T = V2Protocol.THRESHOLDS;

    static void row(TableBuilder b, String prompt, Head h, String test, double delta) {
        b.row().set("seed", 1).set("family", "repeat").set("prompt_id", prompt).set("layer", h.layer()).set("head", h.head())
                .set("intervention", test).set("delta", delta).add();
    }

    static Roles.HeadRole role(Head h, String role) {
        return new Roles.HeadRole(h, role, role, null, null, null, null, null, 0.0, false, null, false);
    }

    /**
     * Look 1 on hand-made rows (40 pairs' baselines, 20 pairs patched): a head whose every test is ~0 stops there,
     * a head with mean-ablation effect 1/2 of the gap continues; look 2 decides only the heads still running.
     */
    @Test
    void aNullOtherHeadStopsAtTheFirstLookAndIsNotDecidedAgain() {
        Head quiet = new Head(0, 0), active = new Head(0, 1);
        Map<Head, Roles.HeadRole> roles = new TreeMap<>();
        for (Head h : List.of(quiet, active)) roles.put(h, role(h, Roles.OTHER));
        Random rnd = new Random(7);
        TableBuilder base = Table.builder(CausalStage.BASELINES).keys("prompt_id").int64("seed").string("family", "prompt_id")
                .float64("gap");
        for (int p = 0; p < 40; p++) base.addRow(1, "repeat", "q" + p, 2.0 + 0.1 * rnd.nextGaussian());
        TableBuilder abl = Causal.perPromptTable(CausalStage.ABLATIONS, "x", "intervention"),
                pat = Causal.perPromptTable(CausalStage.PATCHES, "x", "intervention");
        for (Head h : List.of(quiet, active))
            for (int p = 0; p < 20; p++) {
                for (String test : List.of(CausalStage.MEAN, CausalStage.RESAMPLE, CausalStage.CONTROL))
                    row(abl, "q" + p, h, test, (h.equals(active) && test.equals(CausalStage.MEAN) ? 1.0 : 0.0)
                            + 0.002 * rnd.nextGaussian());
                row(pat, "q" + p, h, CausalStage.DENOISE, 0.002 * rnd.nextGaussian());
            }
        Table b = base.build(), a = abl.build(), d = pat.build();
        Sequential on = Sequential.declared(true);
        Map<Head, Sequential.Decision> look1 = on.decide(T, roles, List.of(roles), b, a, d, r -> true, true, 1, h -> true);
        assertThat(look1.get(quiet).stopped()).as(look1.get(quiet).reason()).isTrue();
        assertThat(look1.get(quiet).look()).isEqualTo(1);
        assertThat(look1.get(quiet).pairs()).isEqualTo(20);
        assertThat(look1.get(quiet).reason()).contains("at look 1 after 20 pairs");
        assertThat(look1.get(active).stopped()).isFalse();
        assertThat(look1.get(active).reason()).contains("continues after look 1");
        // look 2 decides the running heads only
        assertThat(on.decide(T, roles, List.of(roles), b, a, d, r -> true, true, 2, h -> !h.equals(quiet))).containsOnlyKeys(active);
        // no later look, the design off, or a role other than 'other' in one seed: nothing stops
        assertThat(on.decide(T, roles, List.of(roles), b, a, d, r -> true, false, 2, h -> true).get(quiet).stopped()).isFalse();
        assertThat(Sequential.declared(false).decide(T, roles, List.of(roles), b, a, d, r -> true, true, 1, h -> true)
                .get(quiet).stopped()).isFalse();
        Map<Head, Roles.HeadRole> seed = new TreeMap<>(roles);
        seed.put(quiet, role(quiet, Roles.INDUCTION));
        assertThat(on.decide(T, roles, List.of(roles, seed), b, a, d, r -> true, true, 1, h -> true).get(quiet).stopped()).isFalse();
    }

    /** Rows of several looks merge into the order one pass writes them: head, then the group's pair order. */
    @Test
    void looksMergeIntoTheOrderOfOnePass() {
        List<PromptPair> pairs = new ArrayList<>();
        for (int p = 0; p < 4; p++)
            pairs.add(new PromptPair("q" + p, "repeat", 1, p, 3, 2, new int[]{1}, new int[]{2}, new int[]{3}, 0, 1, 2));
        Head h0 = new Head(0, 0), h1 = new Head(1, 0);
        TableBuilder look1 = Causal.perPromptTable(CausalStage.ABLATIONS, "x", "intervention"),
                look2 = Causal.perPromptTable(CausalStage.ABLATIONS, "x", "intervention"),
                look3 = Causal.perPromptTable(CausalStage.ABLATIONS, "x", "intervention"),
                one = Causal.perPromptTable(CausalStage.ABLATIONS, "x", "intervention");
        // ids sort differently from the pairs' order (q3 first), so only the pairs' order can give one pass's order
        List<Integer> order = List.of(3, 0, 2, 1);
        for (Head h : List.of(h0, h1))
            for (int at = 0; at < 4; at++) {
                int p = order.get(at);
                row(one, "q" + p, h, CausalStage.MEAN, 10 * h.layer() + p);
                row(at < 1 ? look1 : at < 2 ? look2 : look3, "q" + p, h, CausalStage.MEAN, 10 * h.layer() + p);
            }
        List<PromptPair> ordered = order.stream().map(pairs::get).toList();
        TableBuilder merged = Causal.perPromptTable(CausalStage.ABLATIONS, "x", "intervention");
        // looks in reverse too: the order comes from the pairs, not from which look ran first
        CausalStage.mergeInOrder(ordered, List.of(look3.build(), look1.build(), look2.build()), merged);
        assertThat(merged.build().rows().stream().map(r -> r.getString("head_id") + r.getString("prompt_id")).toList())
                .isEqualTo(one.build().rows().stream().map(r -> r.getString("head_id") + r.getString("prompt_id")).toList())
                .startsWith("L0H0q3", "L0H0q0", "L0H0q2", "L0H0q1", "L1H0q3");
    }
}
