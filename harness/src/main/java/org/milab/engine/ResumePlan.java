package org.milab.engine;

import java.io.Serializable;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * The ONNX Runtime calls the engine makes for a resuming request ({@link RecomputePath#RESUME},
 * {@link RecomputePath#MINIMAL}) and the width of the cache they read. A row's float32 logits depend on both:
 * every row of a call is padded to the call's suffix length, and every call attends over {@code pastWidth}
 * cached key/value positions (those past a row's own start masked), and padding and masked positions change the
 * order of the attention softmax's sums. So an engine that runs parts of a request elsewhere (the Spark engine's
 * partitions) gets the local engine's floats bit for bit by running whole calls of this plan over a cache of
 * these widths ({@link InterventionEngine#patchPlanned}), never by planning its part again: the least-padding cut
 * of a part need not be the part of the request's cut, and the short cache's width is the whole request's.
 *
 * @param calls      the calls in plan order (start layers ascending)
 * @param cacheWidth positions of the cached hook_resid_pre and hook_z: the request's longest prompt
 * @param pastWidth  cached key/value positions every call attends over
 */
public record ResumePlan(List<Call> calls, int cacheWidth, int pastWidth) implements Serializable {
    /** One call: its start layer and its rows (indices into the request's distinct rows) in the order it feeds them. */
    public record Call(int startLayer, int[] rows) implements Serializable {}

    public ResumePlan {
        calls = List.copyOf(calls);
        if (pastWidth < 1 || pastWidth > cacheWidth)
            throw new IllegalArgumentException("past width " + pastWidth + " outside 1.." + cacheWidth);
    }

    /**
     * The engine's plan for a request's distinct rows: grouped by start layer; in a group, rows by suffix length,
     * then by prompt (first appearance in {@code rows}), then row order, cut into calls by {@code minimal} on
     * the minimal path and by the greedy fill on {@link RecomputePath#RESUME} (the reference protocol's bytes
     * were made with it). The minimal path with {@link InterventionEngine.MinimalCalls#shortPast()} reads keys and
     * values only before the request's latest first recomputed position; otherwise the longest prompt's.
     */
    public static ResumePlan of(List<PatchRow> rows, RecomputePath path, int nLayer, int maxRows, int maxTokens,
                                InterventionEngine.MinimalCalls minimal) {
        if (!path.resumes()) throw new IllegalArgumentException(path + " runs no per-start-layer calls");
        Map<TokenIds, Integer> promptIndex = new HashMap<>();
        int[] start = new int[rows.size()];
        Map<Integer, List<Integer>> byLayer = new TreeMap<>();
        int width = 1, latestStart = 1;
        for (int i = 0; i < rows.size(); i++) {
            PatchRow r = rows.get(i);
            ResumeRow at = path.resumeRow(r, nLayer);
            start[i] = at.startPosition();
            byLayer.computeIfAbsent(at.startLayer(), k -> new ArrayList<>()).add(i);
            promptIndex.putIfAbsent(r.prompt(), promptIndex.size());
            width = Math.max(width, r.prompt().length());
            latestStart = i == 0 ? start[i] : Math.max(latestStart, start[i]);
        }
        boolean leastPadding = path == RecomputePath.MINIMAL && minimal.callCost() >= 0;
        List<Call> calls = new ArrayList<>();
        for (Map.Entry<Integer, List<Integer>> group : byLayer.entrySet()) {
            List<Integer> order = new ArrayList<>(group.getValue());
            order.sort(Comparator.comparing((Integer i) -> rows.get(i).prompt().length() - start[i])
                    .thenComparing(i -> promptIndex.get(rows.get(i).prompt())));
            List<Integer> widths = order.stream().map(i -> rows.get(i).prompt().length() - start[i]).toList();
            List<List<Integer>> cut = leastPadding ? CallPlan.leastPadding(widths, maxRows, maxTokens, minimal.callCost())
                    : CallPlan.greedy(widths, maxRows, maxTokens);
            for (List<Integer> call : cut)
                calls.add(new Call(group.getKey(), call.stream().mapToInt(order::get).toArray()));
        }
        int past = path == RecomputePath.MINIMAL && minimal.shortPast() ? latestStart : width;
        return new ResumePlan(calls, width, Math.max(1, Math.min(width, past)));
    }
}
