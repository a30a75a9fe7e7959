package org.milab.api;

import java.util.List;

/**
 * A faithfulness sweep, as {@code make circuit} writes it per method: the exact faithfulness of the top-k circuit of one
 * ranking for every size of the declared grid, the area measures CPR (under faithfulness over the fraction of edges kept)
 * and CMD (under |1 - faithfulness|), both with bootstrap intervals (the whole curve recomputed per resample), and the
 * smallest top-k circuit whose faithfulness estimate keeps the threshold: the first grid size that does, then every size
 * between the grid size below and it is measured too (points with {@code onGrid} false, at most 64).
 *
 * @param method          the ranking
 * @param metric          logit_diff, log_prob or kl
 * @param edgesTotal      the edges of the model's graph
 * @param points          every measured size, ascending (grid and refined)
 * @param cpr             CPR with its interval
 * @param cmd             CMD with its interval
 * @param threshold       the faithfulness the smallest circuit keeps
 * @param smallest        the smallest size keeping it, or null when none does
 * @param smallestCircuit its top-k circuit (unpruned: {@link HookedModel#prune} prunes it as MIB does), or null
 * @param cleanMetric     per pair, the clean run's metric
 * @param corruptMetric   per pair, the corrupt run's metric
 */
public record FaithfulnessCurve(EdgeAttribution.Method method, String metric, int edgesTotal, List<Point> points, Estimate cpr,
                                Estimate cmd, double threshold, Point smallest, Circuit smallestCircuit, double[] cleanMetric,
                                double[] corruptMetric) {
    /**
     * One circuit size.
     *
     * @param size         edges in the circuit (the top {@code size} of the ranking)
     * @param fraction     size / edgesTotal
     * @param faithfulness the ratio of means with its interval
     * @param metric       per pair, the metric with the circuit patched
     * @param onGrid       whether the size is on the declared grid (false: a refinement below the smallest grid size)
     */
    public record Point(int size, double fraction, Estimate faithfulness, double[] metric, boolean onGrid) {}

    /** @return the points on the declared grid, ascending */
    public List<Point> grid() {
        return points.stream().filter(Point::onGrid).toList();
    }
}
