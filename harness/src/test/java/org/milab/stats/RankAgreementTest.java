package org.milab.stats;

import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

class RankAgreementTest {
    @Test
    void spearmanIsPearsonOfAverageRanks() {
        // ranks of a: 1, 2.5, 2.5, 4; of b: 4, 3, 2, 1 (hand-computed rho = -0.9487)
        double rho = RankAgreement.spearman(new double[]{1, 5, 5, 9}, new double[]{40, 30, 20, 10});
        assertThat(rho).isCloseTo(-3 * Math.sqrt(0.1), within(1e-12));
        assertThat(RankAgreement.spearman(new double[]{3, 1, 2}, new double[]{30, 10, 25})).isCloseTo(1, within(1e-12));
        assertThat(RankAgreement.spearman(new double[]{1, 1, 1}, new double[]{1, 2, 3})).isNaN();
    }

    @Test
    void topKRecallComparesTheLargestMagnitudes() {
        double[] truth = {0.1, -5, 3, 0.2}, estimate = {4, -6, 0.1, 0.3};
        assertThat(RankAgreement.topKRecall(estimate, truth, 1)).isEqualTo(1.0);   // index 1 both
        assertThat(RankAgreement.topKRecall(estimate, truth, 2)).isEqualTo(0.5);   // {1,2} vs {1,0}
        assertThat(RankAgreement.top(truth, 3)).containsExactly(1, 2, 3);
    }
}
