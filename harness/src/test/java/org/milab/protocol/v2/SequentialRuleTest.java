package org.milab.protocol.v2;

import org.junit.jupiter.api.Test;
import org.milab.stats.Bootstrap.Interval;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;

/** The futility rule of the sequential design on hand-made intervals, and its first block. */
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
    void firstBlockIsAQuarterOfEachGroupAndAtLeastTwentyPairs() {
        Sequential on = Sequential.declared(true);
        assertThat(on.firstBlock(16, 15)).isEqualTo(4);   // full counts: 3 seeds x 5 families, 60 of 240 pairs
        assertThat(on.firstBlock(4, 10)).isEqualTo(2);    // 2 seeds x 5 families x 4: the 20-pair minimum rules
        assertThat(on.firstBlock(4, 5)).isEqualTo(4);     // 1 seed: stage 1 holds every pair, nothing can stop
        assertThat(on.firstBlock(100, 15)).isEqualTo(25);
        assertThat(Sequential.declared(false).firstBlock(16, 15)).isEqualTo(16);
        assertThat(on.futilityConfidence()).isGreaterThan(V2Protocol.THRESHOLDS.confidence());
        assertThat(List.of(on.rule())).allMatch(r -> r.contains("p = 1") && r.contains("strictly inside"));
    }
}
