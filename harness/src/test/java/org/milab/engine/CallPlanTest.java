package org.milab.engine;

import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;
import java.util.Random;

import static org.assertj.core.api.Assertions.assertThat;

class CallPlanTest {
    /** Padded tokens plus the per-call cost of a plan. */
    private static long cost(List<List<Integer>> plan, List<Integer> lengths, long callCost) {
        long c = 0;
        for (List<Integer> call : plan) c += call.stream().mapToLong(lengths::get).max().orElseThrow() * call.size() + callCost;
        return c;
    }

    /** Every cut of the longest-first order, by brute force (each gap between rows cut or not). */
    private static long bruteForce(List<Integer> lengths, int maxRows, long maxTokens, long callCost) {
        List<Integer> sorted = new ArrayList<>(lengths);
        sorted.sort((a, b) -> b - a);
        int n = sorted.size();
        long best = Long.MAX_VALUE;
        for (int mask = 0; mask < 1 << (n - 1); mask++) {
            long c = 0;
            int from = 0;
            boolean ok = true;
            for (int i = 1; i <= n && ok; i++)
                if (i == n || (mask >> (i - 1) & 1) == 1) {
                    long padded = (long) sorted.get(from) * (i - from);
                    ok = i - from <= maxRows && (padded <= maxTokens || i - from == 1);
                    c += padded + callCost;
                    from = i;
                }
            if (ok) best = Math.min(best, c);
        }
        return best;
    }

    @Test
    void cutsAreOptimalFeasibleAndCoverEveryRowOnce() {
        Random rnd = new Random(3);
        for (int trial = 0; trial < 300; trial++) {
            int n = 1 + rnd.nextInt(11), maxRows = 1 + rnd.nextInt(6);
            long maxTokens = 8 + rnd.nextInt(60), callCost = rnd.nextInt(3) * 16;
            List<Integer> lengths = new ArrayList<>();
            for (int i = 0; i < n; i++) lengths.add(1 + rnd.nextInt(20));
            List<List<Integer>> plan = CallPlan.leastPadding(lengths, maxRows, maxTokens, callCost);
            assertThat(plan.stream().flatMap(List::stream).sorted().toList())
                    .isEqualTo(java.util.stream.IntStream.range(0, n).boxed().toList());
            for (List<Integer> call : plan) {
                assertThat(call.size()).isBetween(1, maxRows);
                long w = call.stream().mapToLong(lengths::get).max().orElseThrow();
                if (call.size() > 1) assertThat(w * call.size()).isLessThanOrEqualTo(maxTokens);
            }
            assertThat(cost(plan, lengths, callCost)).as("trial %d", trial).isEqualTo(bruteForce(lengths, maxRows, maxTokens, callCost));
        }
    }

    @Test
    void spreadLengthsGetNoPaddingWhereTheGreedyFillPadsATenth() {
        // protocol v2's shape: 24 rows of each of 16 suffix lengths 10..48, 128 rows and 2048 tokens per call
        List<Integer> lengths = new ArrayList<>();
        for (int i = 0; i < 16; i++) for (int r = 0; r < 24; r++) lengths.add(10 + i * 38 / 15);
        long real = lengths.stream().mapToLong(Integer::longValue).sum();
        List<List<Integer>> plan = CallPlan.leastPadding(lengths, 128, 2048, 32);
        assertThat(cost(plan, lengths, 0)).isEqualTo(real);
        assertThat(plan).hasSize(16);
    }
}
