package org.milab.api;

import org.milab.atp.TaskMetric;

import java.util.List;

/**
 * How {@link HookedModel#faithfulness} and {@link HookedModel#faithfulnessSweep} measure: the metric, the bootstrap, the
 * threshold the smallest circuit must keep and the circuit sizes of a sweep. The defaults are {@code make circuit}'s.
 *
 * @param metric    what is measured at the last position
 * @param resamples bootstrap resamples (over pairs) of every interval
 * @param seed      the bootstrap's seed
 * @param threshold the faithfulness the smallest reported circuit keeps (MIB: 0.9)
 * @param sizes     a sweep's circuit sizes, ascending (null: 1, then sizes growing by sqrt 2, then every edge, as
 *                  {@code make circuit}); CPR and CMD are areas over these sizes, so a grid for them ends at every edge
 */
public record FaithfulnessOptions(Metric metric, int resamples, long seed, double threshold, List<Integer> sizes) {
    /** The task metric, at the last position, from the centred logits. */
    public enum Metric {
        /** {@code logit(answer) - logit(wrong)} */
        LOGIT_DIFF,
        /** the answer's log-probability */
        LOG_PROB,
        /** KL divergence from the clean run's next-token distribution (0 at the clean run) */
        KL;

        TaskMetric core() {
            return TaskMetric.valueOf(name());
        }

        /** @return the name make circuit's tables use: logit_diff, log_prob or kl */
        public String id() {
            return core().id();
        }
    }

    /**
     * Checks the values.
     *
     * @param metric    the metric
     * @param resamples bootstrap resamples, at least 100
     * @param seed      the bootstrap's seed
     * @param threshold in (0, 1]
     * @param sizes     ascending sizes of at least 1, or null
     */
    public FaithfulnessOptions {
        if (metric == null) throw new IllegalArgumentException("metric must not be null");
        if (resamples < 100) throw new IllegalArgumentException("resamples must be >= 100, got " + resamples);
        if (!(threshold > 0 && threshold <= 1)) throw new IllegalArgumentException("threshold must be in (0, 1], got " + threshold);
        if (sizes != null) {
            sizes = List.copyOf(sizes);
            for (int i = 0; i < sizes.size(); i++)
                if (sizes.get(i) < 1 || i > 0 && sizes.get(i) <= sizes.get(i - 1))
                    throw new IllegalArgumentException("sizes must be ascending and >= 1, got " + sizes);
            if (sizes.isEmpty()) throw new IllegalArgumentException("sizes must not be empty (null: the default grid)");
        }
    }

    /** @return logit difference, 1000 resamples, seed 0, threshold 0.9, the default size grid */
    public static FaithfulnessOptions defaults() {
        return new FaithfulnessOptions(Metric.LOGIT_DIFF, 1000, 0, 0.9, null);
    }

    /**
     * @param m the metric
     * @return these options with it
     */
    public FaithfulnessOptions withMetric(Metric m) {
        return new FaithfulnessOptions(m, resamples, seed, threshold, sizes);
    }

    /**
     * @param n   bootstrap resamples
     * @param s the bootstrap's seed
     * @return these options with them
     */
    public FaithfulnessOptions withBootstrap(int n, long s) {
        return new FaithfulnessOptions(metric, n, s, threshold, sizes);
    }

    /**
     * @param t the threshold
     * @return these options with it
     */
    public FaithfulnessOptions withThreshold(double t) {
        return new FaithfulnessOptions(metric, resamples, seed, t, sizes);
    }

    /**
     * @param s ascending circuit sizes
     * @return these options with them
     */
    public FaithfulnessOptions withSizes(List<Integer> s) {
        return new FaithfulnessOptions(metric, resamples, seed, threshold, s);
    }
}
