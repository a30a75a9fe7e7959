package org.milab.stats;

import org.junit.jupiter.api.Test;
import org.milab.stats.Bootstrap.Interval;

import java.util.Set;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

/** Bootstrap intervals, t-test p-values and corrections against hand-computed (scipy/numpy) answers. */
class ProtocolStatsTest {
    private static final Bootstrap B = new Bootstrap(2000, 7, 0.95);

    @Test
    void quantilesInterpolateLikeNumpy() {
        double[] s = {1, 2, 3, 4};
        assertThat(Bootstrap.quantile(s, 0.25)).isEqualTo(1.75);   // numpy.quantile([1,2,3,4], 0.25)
        assertThat(Bootstrap.quantile(s, 0.975)).isCloseTo(3.925, within(1e-12));
        assertThat(Bootstrap.quantile(s, 0)).isEqualTo(1);
        assertThat(Bootstrap.quantile(s, 1)).isEqualTo(4);
    }

    @Test
    void aConstantSampleHasAZeroWidthInterval() {
        Interval i = B.mean(new double[]{2.5, 2.5, 2.5, 2.5});
        assertThat(i).isEqualTo(new Interval(2.5, 2.5, 2.5));
    }

    @Test
    void meanIntervalMatchesTheNormalApproximationOnALargeSample() {
        double[] x = new double[400];
        for (int i = 0; i < x.length; i++) x[i] = i % 20;   // mean 9.5, population sd 5.766
        Interval i = B.mean(x);
        double se = 5.766 / Math.sqrt(400);
        assertThat(i.estimate()).isEqualTo(9.5);
        assertThat(i.low()).isCloseTo(9.5 - 1.96 * se, within(0.15 * 1.96 * se));
        assertThat(i.high()).isCloseTo(9.5 + 1.96 * se, within(0.15 * 1.96 * se));
    }

    @Test
    void intervalsAreASeededFunctionOfTheData() {
        double[] x = {0.3, -1.2, 2.2, 0.9, 1.1, -0.4, 0.8};
        assertThat(B.mean(x)).isEqualTo(new Bootstrap(2000, 7, 0.95).mean(x.clone()));
        assertThat(B.mean(x)).isNotEqualTo(new Bootstrap(2000, 8, 0.95).mean(x));
    }

    @Test
    void ratioOfMeansResamplesPairsJointly() {
        double[] num = {1, 2, 3}, den = {2, 4, 6};   // every pair has ratio 1/2: so does every resample
        assertThat(B.ratioOfMeans(num, den)).isEqualTo(new Interval(0.5, 0.5, 0.5));
        Interval undefined = B.ratioOfMeans(new double[]{1, 1}, new double[]{0, 0});
        assertThat(undefined.defined()).isFalse();
        assertThat(B.mean(new double[0])).isEqualTo(Interval.EMPTY);
    }

    @Test
    void oneSidedTTestMatchesScipy() {
        // scipy.stats.ttest_1samp([1,2,3,4,5], 2, alternative='greater').pvalue = 0.11509982054024949
        assertThat(Hypothesis.tGreater(new double[]{1, 2, 3, 4, 5}, 2)).isCloseTo(0.1150998205, within(1e-9));
        // ... and with the opposite sign: 0.8849...
        assertThat(Hypothesis.tGreater(new double[]{1, 2, 3, 4, 5}, 4)).isCloseTo(1 - 0.1150998205, within(1e-9));
        assertThat(Hypothesis.tGreater(new double[]{3, 3, 3}, 2)).isZero();
        assertThat(Hypothesis.tGreater(new double[]{3, 3, 3}, 3)).isEqualTo(1);
        assertThat(Hypothesis.tGreater(new double[]{9}, 0)).isEqualTo(1);
    }

    @Test
    void holmAndBenjaminiHochbergMatchStatsmodels() {
        double[] p = {0.01, 0.04, 0.03, 0.005};
        // statsmodels.stats.multitest.multipletests(p, method='holm')[1] = [0.03, 0.06, 0.06, 0.02]
        assertThat(Hypothesis.holm(p)).containsExactly(new double[]{0.03, 0.06, 0.06, 0.02}, within(1e-12));
        // method='fdr_bh': [0.02, 0.04, 0.04, 0.02]
        assertThat(Hypothesis.benjaminiHochberg(p)).containsExactly(new double[]{0.02, 0.04, 0.04, 0.02}, within(1e-12));
        assertThat(Hypothesis.holm(new double[]{0.6, 0.9})).containsExactly(1.0, 1.0);
        assertThatThrownBy(() -> Hypothesis.holm(new double[]{Double.NaN})).isInstanceOf(IllegalArgumentException.class);
    }

    @Test
    void jaccardOfConfirmedSets() {
        assertThat(Stability.jaccard(Set.of("L1H2", "L0H1", "L1H3"), Set.of("L1H2", "L0H1", "L1H5"))).isEqualTo(0.5);
        assertThat(Stability.jaccard(Set.of(), Set.of())).isEqualTo(1);
        assertThat(Stability.jaccard(Set.of("a"), Set.of())).isZero();
    }
}
