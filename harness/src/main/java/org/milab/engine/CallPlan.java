package org.milab.engine;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;

/**
 * How rows of unequal suffix length are cut into ORT calls. Every row of a call is padded to the call's longest
 * row, and padded tokens cost the same MatMul work as real ones, so the cut matters: a greedy fill that lets
 * each call run over into the next length pads up to a tenth of the tokens when lengths are spread
 * (protocol v2's prompts of 11-49 tokens).
 */
final class CallPlan {
    private CallPlan() {}

    /**
     * Cuts rows (longest first, ties in index order) into calls of at most {@code maxRows} rows and
     * {@code maxTokens} padded tokens, minimising padded tokens plus {@code callCost} tokens per call (the
     * per-call overhead: session run, feeds, small kernels), exactly, by dynamic programming over the cut points.
     * O(rows x maxRows).
     */
    static List<List<Integer>> leastPadding(List<Integer> lengths, int maxRows, long maxTokens, long callCost) {
        List<Integer> order = new ArrayList<>();
        for (int i = 0; i < lengths.size(); i++) order.add(i);
        order.sort(Comparator.comparing((Integer i) -> -lengths.get(i)).thenComparing(i -> i));
        int n = order.size();
        long[] best = new long[n + 1];
        int[] cut = new int[n + 1];
        for (int j = 1; j <= n; j++) {
            best[j] = Long.MAX_VALUE;
            // a call of rows i..j-1 is as wide as its first (longest) row; one row always fits
            for (int i = j - 1; i >= 0 && j - i <= maxRows; i--) {
                long padded = (long) lengths.get(order.get(i)) * (j - i);
                if (padded > maxTokens && i < j - 1) break;
                long cost = best[i] + padded + callCost;
                if (cost < best[j]) {
                    best[j] = cost;
                    cut[j] = i;
                }
            }
        }
        List<List<Integer>> out = new ArrayList<>();
        for (int j = n; j > 0; j = cut[j]) out.add(0, new ArrayList<>(order.subList(cut[j], j)));
        return out;
    }

    /**
     * The greedy fill: rows longest first (ties in index order), a call ends at {@code maxRows} rows or when the
     * next row would take it past {@code maxTokens} padded tokens. The engine's cut on every path but
     * {@link RecomputePath#MINIMAL} with a call cost (the reference protocol's bytes were made with it).
     */
    static List<List<Integer>> greedy(List<Integer> lengths, int maxRows, long maxTokens) {
        List<Integer> order = new ArrayList<>();
        for (int i = 0; i < lengths.size(); i++) order.add(i);
        order.sort(Comparator.comparing((Integer i) -> -lengths.get(i)).thenComparing(i -> i));
        List<List<Integer>> out = new ArrayList<>();
        List<Integer> cur = new ArrayList<>();
        int width = 0;
        for (int i : order) {
            int wNew = Math.max(width, lengths.get(i));
            if (!cur.isEmpty() && (cur.size() >= maxRows || (long) wNew * (cur.size() + 1) > maxTokens)) {
                out.add(cur);
                cur = new ArrayList<>();
                wNew = lengths.get(i);
            }
            cur.add(i);
            width = wNew;
        }
        if (!cur.isEmpty()) out.add(cur);
        return out;
    }
}
