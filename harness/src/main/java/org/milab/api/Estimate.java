package org.milab.api;

import org.milab.stats.Bootstrap;

/**
 * A statistic over a task's pairs with its 95% percentile-bootstrap interval (resampling pairs).
 *
 * @param value the statistic on all pairs
 * @param low   the interval's low end (NaN when undefined)
 * @param high  the interval's high end (NaN when undefined)
 */
public record Estimate(double value, double low, double high) {
    static Estimate of(Bootstrap.Interval i) {
        return new Estimate(i.estimate(), i.low(), i.high());
    }
}
