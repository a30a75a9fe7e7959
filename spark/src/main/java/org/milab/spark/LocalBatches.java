package org.milab.spark;

import org.milab.engine.InterventionEngine;
import org.milab.engine.RecomputePath;
import org.milab.engine.PatchRow;
import org.milab.engine.ResumePlan;
import org.milab.engine.SitePatch;
import org.milab.engine.TokenIds;

import java.nio.IntBuffer;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.IntUnaryOperator;
import java.util.stream.IntStream;

/**
 * The ONNX Runtime calls the local engine ({@code InterventionEngine.patch}) makes for a job, worked out
 * without running them. A row's float32 logits depend on the call it runs in: the cached paths pad every row
 * of a call to the call's suffix length and attend over the call's (suffix path) or the job's (resuming
 * paths: {@link ResumePlan#pastWidth()}) cached positions, and padding changes the order of the attention
 * softmax's sums. So Spark partitions are runs of exactly these calls, and a job's numbers equal a local run's
 * bit for bit.
 *
 * <p>The resuming paths (minimal, resume) take the engine's own plan ({@link ResumePlan#of}, with the local
 * engine's {@link InterventionEngine.MinimalCalls}), which executors run as given. The other paths mirror the
 * engine's greedy fill, which an executor's engine makes again from a partition's rows: identical rows run
 * once; whole-prompt rows longest first; suffix-path rows by suffix then prefix length; a call ends at
 * {@code maxRows} rows or {@code maxTokens} padded tokens. {@link SparkEngine} checks each job against it
 * through the executors' counters and says so in the manifest if an engine change made them differ.
 */
final class LocalBatches {
    /**
     * One ORT call: rows (indices into {@link Plan#unique}) in the engine's order, its padded width, and for
     * the minimal path its start layer (else -1).
     */
    record Call(int[] rows, int width, int layer) {}

    /**
     * @param unique    the distinct rows, in first-appearance order
     * @param source    for each job row, its index in {@code unique}
     * @param path      the path the engine takes for this job
     * @param promptIndex each distinct prompt's index in the job's prompts (first appearance)
     * @param resume     the engine's plan on the resuming paths (its calls are {@code calls}); null on the others
     */
    record Plan(List<PatchRow> unique, int[] source, RecomputePath path, List<Call> calls,
                Map<TokenIds, Integer> promptIndex, ResumePlan resume) {
        long paddedTokens() {
            return calls.stream().mapToLong(c -> (long) c.rows().length * c.width()).sum();
        }
    }

    private LocalBatches() {}

    /** The plan of the local engine {@code engine}: its model's blocks, its batch limits, its minimal-path calls. */
    static Plan plan(List<PatchRow> rows, RecomputePath path, InterventionEngine engine) {
        return plan(rows, path, engine.config().nLayer(), engine.maxRows(), engine.maxTokens(), engine.minimalCalls());
    }

    /**
     * @param path     the engine's path for the job: WHOLE for whole prompts (also every site but hook_z, and
     *                 hook_z without cached captures), SUFFIX, or MINIMAL/RESUME (captures holding hook_resid_pre)
     * @param nLayer   the model's blocks
     * @param minimal  how the engine cuts minimal-path rows into calls and how wide their caches are
     */
    static Plan plan(List<PatchRow> rows, RecomputePath path, int nLayer, int maxRows, int maxTokens,
                     InterventionEngine.MinimalCalls minimal) {
        Map<List<Object>, Integer> firstOf = new HashMap<>();
        List<PatchRow> unique = new ArrayList<>();
        int[] source = new int[rows.size()];
        for (int i = 0; i < rows.size(); i++) {
            PatchRow r = rows.get(i);
            Integer at = firstOf.putIfAbsent(identity(r), unique.size());
            if (at == null) unique.add(r);
            source[i] = at == null ? unique.size() - 1 : at;
        }
        Map<TokenIds, Integer> prompts = new LinkedHashMap<>();
        unique.forEach(r -> prompts.putIfAbsent(r.prompt(), prompts.size()));
        int[] pos = new int[unique.size()];
        for (int i = 0; i < unique.size(); i++) {
            PatchRow r = unique.get(i);
            pos[i] = path.resumes() ? path.resumeRow(r, nLayer).startPosition()
                    : r.overrides().stream().mapToInt(SitePatch::position).min().orElse(r.prompt().length() - 1);
        }
        IntUnaryOperator suffixLength = i -> unique.get(i).prompt().length() - pos[i];
        List<Call> calls = new ArrayList<>();
        if (path.resumes()) {
            ResumePlan resume = ResumePlan.of(unique, path, nLayer, maxRows, maxTokens, minimal);
            for (ResumePlan.Call c : resume.calls())
                calls.add(new Call(c.rows(), IntStream.of(c.rows()).map(suffixLength).max().orElse(1), c.startLayer()));
            return new Plan(unique, source, path, calls, prompts, resume);
        }
        List<Integer> whole = new ArrayList<>(), partial = new ArrayList<>();
        for (int i = 0; i < unique.size(); i++) (path == RecomputePath.SUFFIX && pos[i] > 0 ? partial : whole).add(i);
        calls.addAll(cut(whole, i -> unique.get(i).prompt().length(), -1, maxRows, maxTokens));
        partial.sort(Comparator.comparingInt(suffixLength::applyAsInt).thenComparingInt(i -> pos[i]));
        calls.addAll(cut(partial, suffixLength, -1, maxRows, maxTokens));
        return new Plan(unique, source, path, calls, prompts, null);
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
    private static List<Call> cut(List<Integer> items, IntUnaryOperator length, int layer, int maxRows, int maxTokens) {
        List<Integer> order = new ArrayList<>(IntStream.range(0, items.size()).boxed().toList());
        order.sort(Comparator.comparingInt((Integer p) -> -length.applyAsInt(items.get(p))).thenComparingInt(p -> p));
        List<Call> out = new ArrayList<>();
        List<Integer> call = new ArrayList<>();
        int width = 0;
        for (int p : order) {
            int row = items.get(p), len = length.applyAsInt(row);
            if (!call.isEmpty() && (call.size() >= maxRows || (long) Math.max(width, len) * (call.size() + 1) > maxTokens)) {
                out.add(new Call(call.stream().mapToInt(Integer::intValue).toArray(), width, layer));
                call = new ArrayList<>();
                width = 0;
            }
            call.add(row);
            width = Math.max(width, len);
        }
        if (!call.isEmpty()) out.add(new Call(call.stream().mapToInt(Integer::intValue).toArray(), width, layer));
        return out;
    }
}
