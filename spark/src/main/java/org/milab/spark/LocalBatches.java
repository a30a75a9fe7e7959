package org.milab.spark;

import org.milab.engine.PatchRow;
import org.milab.engine.SitePatch;

import java.nio.IntBuffer;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.function.IntUnaryOperator;
import java.util.stream.IntStream;

/**
 * The ONNX Runtime calls the local engine ({@code InterventionEngine.patch}) makes for a job, worked out
 * without running them. A row's float32 logits depend on the batch it runs in (the suffix path pads every
 * row of a call to the call's prefix and suffix lengths, which changes the order of the softmax sums), so
 * Spark partitions are runs of exactly these calls: an executor's engine given a partition's rows in plan
 * order makes the same calls, and the job's numbers equal a local run's bit for bit.
 *
 * <p>This mirrors the engine's planning: identical rows run once; whole-prompt rows are cut longest first;
 * suffix rows (kv given, patched after position 0) by suffix length, then prefix length; a call ends at
 * {@code maxRows} rows or {@code maxTokens} padded tokens. {@link SparkEngine} checks every job against it
 * through the executors' counters and says so in the manifest when an engine change made them differ.
 */
final class LocalBatches {
    /** One ORT call: rows (indices into {@link Plan#unique}) in the engine's order, and its padded width. */
    record Call(int[] rows, int width) {}

    /**
     * @param unique the distinct rows, in first-appearance order
     * @param source for each job row, its index in {@code unique}
     */
    record Plan(List<PatchRow> unique, int[] source, List<Call> calls) {
        long paddedTokens() {
            return calls.stream().mapToLong(c -> (long) c.rows().length * c.width()).sum();
        }
    }

    private LocalBatches() {}

    /** @param suffix whether the job takes the suffix path (hook_z rows with cached keys and values) */
    static Plan plan(List<PatchRow> rows, boolean suffix, int maxRows, int maxTokens) {
        Map<List<Object>, Integer> firstOf = new HashMap<>();
        List<PatchRow> unique = new ArrayList<>();
        int[] source = new int[rows.size()];
        for (int i = 0; i < rows.size(); i++) {
            PatchRow r = rows.get(i);
            Integer at = firstOf.putIfAbsent(identity(r), unique.size());
            if (at == null) unique.add(r);
            source[i] = at == null ? unique.size() - 1 : at;
        }
        int[] start = new int[unique.size()];
        List<Integer> whole = new ArrayList<>(), partial = new ArrayList<>();
        for (int i = 0; i < unique.size(); i++) {
            PatchRow r = unique.get(i);
            start[i] = r.overrides().stream().mapToInt(SitePatch::position).min().orElse(r.prompt().length() - 1);
            (suffix && start[i] > 0 ? partial : whole).add(i);
        }
        List<Call> calls = new ArrayList<>(cut(whole, i -> unique.get(i).prompt().length(), maxRows, maxTokens));
        IntUnaryOperator suffixLength = i -> unique.get(i).prompt().length() - start[i];
        partial.sort(Comparator.comparingInt(suffixLength::applyAsInt).thenComparingInt(i -> start[i]));
        calls.addAll(cut(partial, suffixLength, maxRows, maxTokens));
        return new Plan(unique, source, calls);
    }

    /** Value identity as the engine deduplicates: prompt, metric tokens, every override's site and exact float bits. */
    private static List<Object> identity(PatchRow r) {
        IntStream.Builder b = IntStream.builder();
        for (SitePatch o : r.overrides()) {
            b.add(o.layer()).add(o.position()).add(o.head()).add(o.value().length);
            for (float f : o.value()) b.add(Float.floatToIntBits(f));
        }
        return List.of(r.prompt(), IntBuffer.wrap(r.metricTokens()), IntBuffer.wrap(b.build().toArray()));
    }

    /** Greedy calls over {@code items} taken longest first (ties in list order), as the engine cuts them. */
    private static List<Call> cut(List<Integer> items, IntUnaryOperator length, int maxRows, int maxTokens) {
        List<Integer> order = new ArrayList<>(IntStream.range(0, items.size()).boxed().toList());
        order.sort(Comparator.comparingInt((Integer p) -> -length.applyAsInt(items.get(p))).thenComparingInt(p -> p));
        List<Call> out = new ArrayList<>();
        List<Integer> call = new ArrayList<>();
        int width = 0;
        for (int p : order) {
            int row = items.get(p), len = length.applyAsInt(row);
            if (!call.isEmpty() && (call.size() >= maxRows || (long) Math.max(width, len) * (call.size() + 1) > maxTokens)) {
                out.add(new Call(call.stream().mapToInt(Integer::intValue).toArray(), width));
                call = new ArrayList<>();
                width = 0;
            }
            call.add(row);
            width = Math.max(width, len);
        }
        if (!call.isEmpty()) out.add(new Call(call.stream().mapToInt(Integer::intValue).toArray(), width));
        return out;
    }
}
