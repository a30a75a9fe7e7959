package org.milab.engine;

import ai.onnxruntime.OrtException;
import org.milab.graph.GraphVariant;
import org.milab.graph.HookNames;
import org.milab.graph.PatchSite;
import org.milab.model.ModelConfig;
import org.milab.runtime.Feeds;
import org.milab.runtime.ModelSessions;
import org.milab.runtime.TokenBatch;
import org.milab.util.ProgressBar;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collection;
import java.util.Comparator;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;

/**
 * Runs clean captures and patched forward passes in batches. Many interventions share one ORT call: each
 * batch row is one prompt with its own overrides (any set of sites with donor values), rows of unequal
 * length are right padded, and patched calls return only the logits the metric needs.
 */
public final class InterventionEngine implements Engine {
    private final ModelSessions sessions;
    private final ModelConfig config;
    private final int maxRows;
    private final int maxTokens;
    private final MinimalCalls minimal;
    private long forwardCalls, forwardRows, forwardTokens;
    private double usefulCaptureFlops, usefulPatchFlops, executedFlops;
    private long captureNanos, patchNanos;

    /**
     * @param maxRows   rows per ORT call at most
     * @param maxTokens rows x padded width per call at most (bounds activation memory)
     */
    public InterventionEngine(ModelSessions sessions, ModelConfig config, int maxRows, int maxTokens) {
        this(sessions, config, maxRows, maxTokens, MinimalCalls.DEFAULT);
    }

    /**
     * How {@link RecomputePath#MINIMAL} rows are cut into calls and what their calls read (benchmarks compare
     * settings side by side: {@code make bench-rows}; docs/benchmarks.md has the measurements).
     *
     * @param callCost  padded tokens one call is worth on its own (its fixed overhead): rows are cut into calls
     *                  minimising padded tokens plus this per call ({@link CallPlan}); negative: the greedy fill
     *                  the other paths use
     * @param shortPast the cached keys and values are cut to the request's latest first recomputed position
     *                  (rows that all start early, as protocol v2's, attend over one cached position instead of
     *                  the longest prompt); false: the longest prompt, as {@link RecomputePath#RESUME}
     */
    public record MinimalCalls(int callCost, boolean shortPast) {
        /** The engine before these settings: greedy fill, full-width caches. */
        public static final MinimalCalls GREEDY_FULL_PAST = new MinimalCalls(-1, false);
        /** Calls cut to the fewest padded tokens, caches cut short: about 1.2x on protocol v2's rows (make bench-rows). */
        public static final MinimalCalls LEAST_PADDING = new MinimalCalls(64, true);
        /**
         * The least-padding plan. A row's floats depend on which other rows share its request (the calls it is cut
         * into, the cache width: the latest start position of the whole request), within the engine's tolerance
         * (RecomputePathsTest), so engines that split a request run whole calls of the request's own plan over
         * caches of its widths ({@link ResumePlan}, {@link #patchPlanned}): the Spark engine reads this setting
         * from the local engine and stays bit-identical to it (SparkHeldoutTest, SparkPlanTest).
         */
        public static final MinimalCalls DEFAULT = LEAST_PADDING;
    }

    public InterventionEngine(ModelSessions sessions, ModelConfig config, int maxRows, int maxTokens, MinimalCalls minimal) {
        this.sessions = sessions;
        this.config = config;
        this.maxRows = maxRows;
        this.maxTokens = maxTokens;
        this.minimal = minimal;
    }

    @Override
    public ModelConfig config() {
        return config;
    }

    /** How this engine cuts {@link RecomputePath#MINIMAL} rows into calls and what they read. */
    public MinimalCalls minimalCalls() {
        return minimal;
    }

    /** Rows per ORT call at most. */
    public int maxRows() {
        return maxRows;
    }

    /** Rows x padded width per ORT call at most. */
    public int maxTokens() {
        return maxTokens;
    }

    public ModelSessions sessions() {
        return sessions;
    }

    /**
     * Counters for run manifests and benchmarks: ORT calls, rows and padded tokens processed; FLOPs executed
     * and FLOPs a FLOP-minimal computation of the same captures and hook_z rows needs ({@link FlopCount}).
     */
    @Override
    public Map<String, Long> counters() {
        return Map.of("forward_calls", forwardCalls, "forward_rows", forwardRows, "forward_tokens", forwardTokens,
                "executed_flops", (long) executedFlops, "useful_flops", (long) (usefulCaptureFlops + usefulPatchFlops),
                "useful_patch_flops", (long) usefulPatchFlops, "capture_nanos", captureNanos, "patch_nanos", patchNanos);
    }

    /** Clean forward passes of each distinct prompt, once, keeping only {@code hooks}. */
    @Override
    public Map<TokenIds, Capture> capture(Collection<TokenIds> prompts, Set<String> hooks, String label) {
        synchronized (captureBuffers) { // one call at a time writes into the pinned output buffers
            return captureLocked(prompts, hooks, label);
        }
    }

    /** Pinned output buffers of capture calls, reused by every call (see {@link Feeds#runPinned}). */
    private final Feeds.OutputBuffers captureBuffers = new Feeds.OutputBuffers();

    private Map<TokenIds, Capture> captureLocked(Collection<TokenIds> prompts, Set<String> hooks, String label) {
        List<TokenIds> distinct = new ArrayList<>(new LinkedHashSet<>(prompts));
        Set<String> fetch = new LinkedHashSet<>(hooks);
        fetch.add(HookNames.LOGITS_FINAL);
        Map<TokenIds, Capture> out = new HashMap<>();
        long t0 = System.nanoTime();
        try (ProgressBar bar = new ProgressBar(label, distinct.size(), "prompts")) {
            for (List<Integer> chunk : chunks(distinct.stream().map(TokenIds::length).toList())) {
                List<TokenIds> rows = chunk.stream().map(distinct::get).toList();
                TokenBatch batch = TokenBatch.of(rows.stream().map(TokenIds::raw).toList());
                Map<String, Feeds.View> res;
                try (Feeds f = new Feeds(sessions.env()).batch(batch)) {
                    res = f.runPinned(sessions.session(GraphVariant.CAPTURE), fetch, captureBuffers, batch.rows(), batch.width());
                } catch (OrtException e) {
                    throw new IllegalStateException("capture forward pass failed: " + e.getMessage(), e);
                }
                count(batch.rows(), batch.width(), config.nLayer(), batch.width());
                executedFlops += batch.rows() * 2.0 * config.dModel() * config.vocabSize();
                for (TokenIds p : rows) usefulCaptureFlops += FlopCount.capture(config, p.length());
                for (int r = 0; r < rows.size(); r++) out.put(rows.get(r), slice(res, r, rows.get(r)));
                bar.step(rows.size());
            }
        }
        captureNanos += System.nanoTime() - t0;
        return out;
    }

    /**
     * Runs every row with its overrides at {@code site}; returns each row's metric logits, in row order. When
     * {@code kv} holds each row's prompt captured with {@code path.cacheHooks(...)}, hook_z rows recompute only
     * what their patches can change (see {@link RecomputePath}); rows patched at position 0 take the full path.
     */
    @Override
    public float[][] patch(PatchSite site, List<PatchRow> rows, String label, Map<TokenIds, Capture> kv,
                           RecomputePath path) {
        // identical rows (the reference's duplicated control families produce many) run once
        Map<RowKey, Integer> firstOf = new LinkedHashMap<>();
        int[] source = new int[rows.size()];
        List<PatchRow> unique = new ArrayList<>();
        for (int i = 0; i < rows.size(); i++) {
            int next = unique.size();
            Integer first = firstOf.putIfAbsent(new RowKey(rows.get(i)), next);
            if (first == null) unique.add(rows.get(i));
            source[i] = first == null ? next : first;
        }
        if (site == PatchSite.HOOK_Z) countUseful(unique);
        long t0 = System.nanoTime();
        float[][] computed = patchDistinct(site, unique, label, kv, path);
        patchNanos += System.nanoTime() - t0;
        float[][] out = new float[rows.size()][];
        for (int i = 0; i < rows.size(); i++) out[i] = computed[source[i]].clone();
        return out;
    }

    /** The FLOPs a FLOP-minimal computation of these hook_z rows needs. */
    private void countUseful(List<PatchRow> rows) {
        for (PatchRow r : rows)
            usefulPatchFlops += FlopCount.minimalRow(config, r.overrides(), r.prompt().length(), r.metricTokens().length);
    }

    /** Value identity of a patch row: prompt, metric tokens and every override's site and exact values. */
    private record RowKey(PatchRow row) {
        @Override
        public boolean equals(Object o) {
            if (!(o instanceof RowKey k)) return false;
            PatchRow a = row, b = k.row;
            if (!a.prompt().equals(b.prompt()) || !Arrays.equals(a.metricTokens(), b.metricTokens())
                    || a.overrides().size() != b.overrides().size()) return false;
            for (int i = 0; i < a.overrides().size(); i++) {
                SitePatch x = a.overrides().get(i), y = b.overrides().get(i);
                if (x.layer() != y.layer() || x.position() != y.position() || x.head() != y.head()
                        || !Arrays.equals(x.value(), y.value())) return false;
            }
            return true;
        }

        @Override
        public int hashCode() {
            int h = row.prompt().hashCode() * 31 + Arrays.hashCode(row.metricTokens());
            for (SitePatch x : row.overrides())
                h = h * 31 + ((x.layer() * 131 + x.position()) * 131 + x.head()) * 31 + Arrays.hashCode(x.value());
            return h;
        }
    }

    private float[][] patchDistinct(PatchSite site, List<PatchRow> rows, String label, Map<TokenIds, Capture> kv,
                                    RecomputePath path) {
        boolean suffix = kv != null && site == PatchSite.HOOK_Z && path.readsCaches();
        if (suffix && path.resumes() && holdsResumeHooks(kv)) return patchResume(rows, label, kv, path);
        GraphVariant variant = suffix ? GraphVariant.PATCH_Z_SUFFIX : Arrays.stream(GraphVariant.values())
                .filter(v -> v.patchSite().orElse(null) == site && !v.suffixOnly() && !v.perStartLayer())
                .findFirst().orElseThrow();
        float[][] out = new float[rows.size()][];
        int[] start = new int[rows.size()];
        List<Integer> full = new ArrayList<>(), partial = new ArrayList<>();
        for (int i = 0; i < rows.size(); i++) {
            PatchRow r = rows.get(i);
            start[i] = r.overrides().stream().mapToInt(SitePatch::position).min().orElse(r.prompt().length() - 1);
            (suffix && start[i] > 0 ? partial : full).add(i);
        }
        try (ProgressBar bar = new ProgressBar(label, rows.size(), "patched rows")) {
            for (List<Integer> chunk : chunks(full.stream().map(i -> rows.get(i).prompt().length()).toList())) {
                List<Integer> idx = chunk.stream().map(full::get).toList();
                GraphVariant v = suffix ? GraphVariant.PATCH_Z : variant;
                float[][] res = runPatchBatch(v, site, idx.stream().map(rows::get).toList());
                for (int i = 0; i < idx.size(); i++) out[idx.get(i)] = res[i];
                bar.step(idx.size());
            }
            // suffix rows: group by suffix length first (the compute), then prefix length (the padding)
            List<Integer> order = new ArrayList<>(partial);
            order.sort(Comparator.comparing((Integer i) -> rows.get(i).prompt().length() - start[i]).thenComparing(i -> start[i]));
            for (List<Integer> chunk : chunks(order.stream().map(i -> rows.get(i).prompt().length() - start[i]).toList())) {
                List<Integer> idx = chunk.stream().map(order::get).toList();
                float[][] res = runSuffixBatch(idx.stream().map(rows::get).toList(), idx.stream().mapToInt(i -> start[i]).toArray(), kv);
                for (int i = 0; i < idx.size(); i++) out[idx.get(i)] = res[i];
                bar.step(idx.size());
            }
        }
        return out;
    }

    /** Captures made for another path lack hook_resid_pre: they take the suffix path. */
    private boolean holdsResumeHooks(Map<TokenIds, Capture> kv) {
        return kv.values().stream().allMatch(c -> c.hooks().containsKey(HookNames.hookResidPre(config.nLayer() - 1)));
    }

    /**
     * The resuming paths ({@link RecomputePath#MINIMAL}; {@link RecomputePath#RESUME} runs blocks >= S whole at
     * positions >= p). A row's first patched block S and position p bound what its patches can change
     * ({@link ResumeRow}): blocks before S and positions before p keep the unpatched values. So the row runs
     * only its patched positions in block S (from the cached hook_z; the other positions leave block S as the
     * cached hook_resid_pre of S + 1), the blocks between at positions >= p over cached keys and values of
     * positions before p, and the last block's query at its final position only. Baselines run the last block
     * at their final position. Rows are grouped by S (one graph per start layer), then by suffix length (the
     * padding), then by prompt ({@link ResumePlan}).
     */
    private float[][] patchResume(List<PatchRow> rows, String label, Map<TokenIds, Capture> kv, RecomputePath path) {
        return runPlan(rows, planResume(rows, path), label, kv, path);
    }

    /** The calls and cache widths this engine uses for a resuming request's distinct rows. */
    public ResumePlan planResume(List<PatchRow> distinctRows, RecomputePath path) {
        return ResumePlan.of(distinctRows, path, config.nLayer(), maxRows, maxTokens, minimal);
    }

    /**
     * Runs distinct hook_z rows as exactly the calls of {@code plan}, over caches of its widths, on a resuming
     * path: for an engine that splits a request into runs of whole calls of {@link #planResume} (each run's rows
     * indexed anew) and runs them elsewhere, each row's floats are those a local run of the whole request gives.
     */
    public float[][] patchPlanned(List<PatchRow> rows, ResumePlan plan, String label, Map<TokenIds, Capture> kv,
                                  RecomputePath path) {
        countUseful(rows);
        long t0 = System.nanoTime();
        float[][] out = runPlan(rows, plan, label, kv, path);
        patchNanos += System.nanoTime() - t0;
        return out;
    }

    private float[][] runPlan(List<PatchRow> rows, ResumePlan plan, String label, Map<TokenIds, Capture> kv,
                              RecomputePath path) {
        ResumeRow[] at = new ResumeRow[rows.size()];
        for (ResumePlan.Call c : plan.calls())
            for (int i : c.rows()) {
                if (at[i] != null) throw new IllegalArgumentException("row " + i + " is in two calls of the plan");
                at[i] = path.resumeRow(rows.get(i), config.nLayer());
                if (at[i].startLayer() != c.startLayer())
                    throw new IllegalArgumentException("row " + i + " starts at block " + at[i].startLayer()
                            + ", but the plan runs it in a call from block " + c.startLayer());
            }
        for (int i = 0; i < at.length; i++)
            if (at[i] == null) throw new IllegalArgumentException("row " + i + " is in no call of the plan");
        float[][] out = new float[rows.size()][];
        List<TokenIds> distinct = new ArrayList<>(new LinkedHashSet<>(rows.stream().map(PatchRow::prompt).toList()));
        try (PromptCache cache = new PromptCache(sessions.env(), config, distinct, kv, plan.cacheWidth(), plan.pastWidth());
             ProgressBar bar = new ProgressBar(label, rows.size(), "patched rows")) {
            for (int i = 0; i < rows.size(); i++) cache.requireFrom(rows.get(i).prompt(), at[i].startLayer(), path);
            // start layers whose session is still open go first: only a few stay open (ModelSessions)
            List<ResumePlan.Call> calls = new ArrayList<>(plan.calls());
            calls.sort(Comparator.comparing(c -> !sessions.isOpen(path.resumeVariant(), c.startLayer())));
            for (ResumePlan.Call call : calls) {
                List<PatchRow> batch = Arrays.stream(call.rows()).mapToObj(rows::get).toList();
                float[][] res = path == RecomputePath.MINIMAL
                        ? runMinimalBatch(call.startLayer(), batch, Arrays.stream(call.rows()).mapToObj(i -> at[i]).toList(), cache)
                        : runResumeBatch(call.startLayer(), batch, Arrays.stream(call.rows()).map(i -> at[i].startPosition()).toArray(), cache);
                for (int i = 0; i < res.length; i++) out[call.rows()[i]] = res[i];
                bar.step(res.length);
            }
        }
        return out;
    }

    /** A {@link RecomputePath#RESUME} call: blocks >= startLayer, whole, at every row's suffix. */
    private float[][] runResumeBatch(int startLayer, List<PatchRow> rows, int[] start, PromptCache cache) {
        try (Feeds f = new Feeds(sessions.env())) {
            int s = feedRowInputs(f, rows, start, cache), k = metricWidth(rows);
            f.borrow(HookNames.cacheResidPre(startLayer), cache.residPre(startLayer));
            for (int l = startLayer; l < config.nLayer(); l++)
                f.borrow(HookNames.cacheKey(l), cache.key(l)).borrow(HookNames.cacheValue(l), cache.value(l));
            feedPatches(f, PatchSite.HOOK_Z, rows, s, start, startLayer, config.nLayer());
            Feeds.Output o = f.run(sessions.session(GraphVariant.PATCH_Z_RESUME, startLayer), Set.of(HookNames.METRIC_LOGITS))
                    .get(HookNames.METRIC_LOGITS);
            count(rows.size(), s, config.nLayer() - startLayer, cache.width() + s);
            return perRow(o, rows, k);
        } catch (OrtException e) {
            throw new IllegalStateException("resumed patched forward pass failed: " + e.getMessage(), e);
        }
    }

    /** A {@link RecomputePath#MINIMAL} call from block {@code startLayer} ({@code patch_z_minimal_from_S}). */
    private float[][] runMinimalBatch(int startLayer, List<PatchRow> rows, List<ResumeRow> plan, PromptCache cache) {
        int b = rows.size(), L = config.nLayer();
        int[] start = plan.stream().mapToInt(ResumeRow::startPosition).toArray();
        List<PatchRow> effective = new ArrayList<>(b);
        for (int r = 0; r < b; r++)
            effective.add(new PatchRow(rows.get(r).prompt(), plan.get(r).effective(), rows.get(r).metricTokens()));
        boolean cellStart = startLayer < L - 1;
        try (Feeds f = new Feeds(sessions.env())) {
            int s = feedRowInputs(f, rows, start, cache), k = metricWidth(rows), cells = 0;
            f.borrow(HookNames.cacheResidPre(startLayer), cache.residPre(startLayer));
            if (cellStart) {
                cells = feedStartCells(f, startLayer, effective, s, start);
                f.borrow(HookNames.cacheZ(startLayer), cache.z(startLayer))
                        .borrow(HookNames.cacheResidPre(startLayer + 1), cache.residPre(startLayer + 1));
            }
            for (int l = cellStart ? startLayer + 1 : startLayer; l < L; l++)
                f.borrow(HookNames.cacheKey(l), cache.key(l)).borrow(HookNames.cacheValue(l), cache.value(l));
            feedPatches(f, PatchSite.HOOK_Z, effective, s, start, startLayer + 1, L - 1);
            feedFinalPatches(f, effective);
            Feeds.Output o = f.run(sessions.session(GraphVariant.PATCH_Z_MINIMAL, startLayer), Set.of(HookNames.METRIC_LOGITS))
                    .get(HookNames.METRIC_LOGITS);
            forwardCalls++;
            forwardRows += b;
            forwardTokens += (long) b * s;
            executedFlops += FlopCount.executedResume(config, b, s, cells, startLayer, cache.pastWidth() + s);
            return perRow(o, rows, k);
        } catch (OrtException e) {
            throw new IllegalStateException("resumed patched forward pass failed: " + e.getMessage(), e);
        }
    }

    /**
     * The per-row inputs of a resume call (rows starting at suffix positions {@code start}): where each row's
     * suffix residuals and keys/values sit in the cache, its final index, metric tokens and cached-prefix mask.
     * Returns the suffix width.
     */
    private int feedRowInputs(Feeds f, List<PatchRow> rows, int[] start, PromptCache cache) throws OrtException {
        int b = rows.size(), T = cache.width(), P = cache.pastWidth(), s = 0;
        for (int r = 0; r < b; r++) s = Math.max(s, rows.get(r).prompt().length() - start[r]);
        long[] residIndex = new long[b * s], promptIndex = new long[b], fin = new long[b];
        float[] pastMask = new float[b * P];
        for (int r = 0; r < b; r++) {
            int len = rows.get(r).prompt().length(), prompt = cache.indexOf(rows.get(r).prompt());
            promptIndex[r] = prompt;
            for (int j = 0; j < s; j++) // padding repeats the last real position
                residIndex[r * s + j] = (long) prompt * T + Math.min(start[r] + j, len - 1);
            fin[r] = len - 1 - start[r];
            for (int j = 0; j < start[r]; j++) pastMask[r * P + j] = 1f;
        }
        int k = metricWidth(rows);
        f.longs(HookNames.RESID_INDEX, residIndex, b, s).longs(HookNames.PROMPT_INDEX, promptIndex, b)
                .longs(HookNames.FINAL_INDEX, fin, b).longs(HookNames.METRIC_TOKEN_IDS, metricTokens(rows, k), b, k)
                .floats(HookNames.PAST_MASK, pastMask, b, P);
        return s;
    }

    /**
     * The resume graph's block-{@code layer} cells: each (row, position) patched there once, as its flat suffix
     * index with a [cell, head] mask and [cell, head, d_head] values. Returns the cell count.
     */
    private int feedStartCells(Feeds f, int layer, List<PatchRow> rows, int width, int[] offset) throws OrtException {
        int H = config.nHead(), dh = config.dHead();
        Map<Long, Integer> cellOf = new LinkedHashMap<>();
        for (int r = 0; r < rows.size(); r++)
            for (SitePatch o : rows.get(r).overrides())
                if (o.layer() == layer) cellOf.putIfAbsent((long) r * width + o.position() - offset[r], cellOf.size());
        float[] mask = new float[cellOf.size() * H], value = new float[cellOf.size() * H * dh];
        for (int r = 0; r < rows.size(); r++)
            for (SitePatch o : rows.get(r).overrides()) {
                if (o.layer() != layer) continue;
                int cell = cellOf.get((long) r * width + o.position() - offset[r]) * H + o.head();
                mask[cell] = 1f;
                System.arraycopy(o.value(), 0, value, cell * dh, dh);
            }
        String hook = HookNames.hookZ(layer);
        f.longs(HookNames.START_CELL_INDEX, cellOf.keySet().stream().mapToLong(Long::longValue).toArray(), cellOf.size())
                .floats(HookNames.patchMask(hook), mask, cellOf.size(), H).floats(HookNames.patchValue(hook), value, cellOf.size(), H, dh);
        return cellOf.size();
    }

    /** The last block's hook_z patches, at each row's final position only: [row, head] and [row, head, d_head]. */
    private void feedFinalPatches(Feeds f, List<PatchRow> rows) throws OrtException {
        int b = rows.size(), H = config.nHead(), dh = config.dHead(), last = config.nLayer() - 1;
        String hook = HookNames.hookZ(last);
        if (rows.stream().allMatch(r -> r.overrides().stream().noneMatch(o -> o.layer() == last))) {
            f.floats(HookNames.patchMask(hook), new float[1], 1, 1).floats(HookNames.patchValue(hook), new float[1], 1, 1, 1);
            return;
        }
        float[] mask = new float[b * H], value = new float[b * H * dh];
        for (int r = 0; r < b; r++)
            for (SitePatch o : rows.get(r).overrides())
                if (o.layer() == last) { // ResumeRow kept only the final position's
                    mask[r * H + o.head()] = 1f;
                    System.arraycopy(o.value(), 0, value, (r * H + o.head()) * dh, dh);
                }
        f.floats(HookNames.patchMask(hook), mask, b, H).floats(HookNames.patchValue(hook), value, b, H, dh);
    }

    private float[][] runSuffixBatch(List<PatchRow> rows, int[] start, Map<TokenIds, Capture> kv) {
        int b = rows.size(), H = config.nHead(), dh = config.dHead();
        int s = 0, past = 0;
        for (int r = 0; r < b; r++) {
            s = Math.max(s, rows.get(r).prompt().length() - start[r]);
            past = Math.max(past, start[r]);
        }
        long[] ids = new long[b * s], pos = new long[b * s], fin = new long[b];
        float[] pastMask = new float[b * past];
        for (int r = 0; r < b; r++) {
            int[] p = rows.get(r).prompt().raw();
            int len = p.length - start[r];
            for (int j = 0; j < s; j++) {
                int at = start[r] + Math.min(j, len - 1); // padding repeats the last real token and position
                ids[r * s + j] = p[at];
                pos[r * s + j] = at;
            }
            fin[r] = len - 1;
            for (int j = 0; j < start[r]; j++) pastMask[r * past + j] = 1f;
        }
        int k = metricWidth(rows);
        try (Feeds f = new Feeds(sessions.env())) {
            f.longs(HookNames.INPUT_IDS, ids, b, s).longs(HookNames.POSITION_IDS, pos, b, s)
                    .longs(HookNames.FINAL_INDEX, fin, b).longs(HookNames.METRIC_TOKEN_IDS, metricTokens(rows, k), b, k)
                    .floats(HookNames.PAST_MASK, pastMask, b, past);
            for (int l = 0; l < config.nLayer(); l++) {
                float[] pk = new float[b * past * H * dh], pv = new float[b * past * H * dh];
                for (int r = 0; r < b; r++) {
                    Capture c = kv.get(rows.get(r).prompt());
                    if (c == null) throw new IllegalStateException("no cached keys/values for " + rows.get(r).prompt());
                    System.arraycopy(c.hook(HookNames.hookK(l)), 0, pk, r * past * H * dh, start[r] * H * dh);
                    System.arraycopy(c.hook(HookNames.hookV(l)), 0, pv, r * past * H * dh, start[r] * H * dh);
                }
                f.floats(HookNames.pastKey(l), pk, b, past, H, dh).floats(HookNames.pastValue(l), pv, b, past, H, dh);
            }
            feedPatches(f, PatchSite.HOOK_Z, rows, s, start, 0, config.nLayer());
            Feeds.Output o = f.run(sessions.session(GraphVariant.PATCH_Z_SUFFIX), Set.of(HookNames.METRIC_LOGITS))
                    .get(HookNames.METRIC_LOGITS);
            count(b, s, config.nLayer(), past + s);
            return perRow(o, rows, k);
        } catch (OrtException e) {
            throw new IllegalStateException("suffix patched forward pass failed: " + e.getMessage(), e);
        }
    }

    private float[][] runPatchBatch(GraphVariant variant, PatchSite site, List<PatchRow> rows) {
        TokenBatch batch = TokenBatch.of(rows.stream().map(r -> r.prompt().raw()).toList());
        int k = metricWidth(rows);
        try (Feeds f = new Feeds(sessions.env()).batch(batch)) {
            f.longs(HookNames.METRIC_TOKEN_IDS, metricTokens(rows, k), batch.rows(), k);
            feedPatches(f, site, rows, batch.width(), new int[rows.size()], 0, config.nLayer());
            Feeds.Output o = f.run(sessions.session(variant), Set.of(HookNames.METRIC_LOGITS)).get(HookNames.METRIC_LOGITS);
            count(batch.rows(), batch.width(), config.nLayer(), batch.width());
            return perRow(o, rows, k);
        } catch (OrtException e) {
            throw new IllegalStateException("patched forward pass failed: " + e.getMessage(), e);
        }
    }

    /**
     * Every layer's patch mask and value for {@code site}: row r's positions are shifted by {@code -offset[r]}
     * (suffix rows start at their first patched position); layers no row touches get a broadcast zero mask.
     * Only layers {@code fromLayer} .. {@code toLayer - 1} take this form.
     */
    private void feedPatches(Feeds f, PatchSite site, List<PatchRow> rows, int width, int[] offset, int fromLayer,
                             int toLayer) throws OrtException {
        boolean perHead = site.headSpecific();
        int b = rows.size(), heads = perHead ? config.nHead() : 1, dim = perHead ? config.dHead() : config.dModel();
        Set<Integer> layers = new TreeSet<>();
        rows.forEach(r -> r.overrides().forEach(o -> layers.add(o.layer())));
        for (int l = fromLayer; l < toLayer; l++) {
            String hook = site.hook(l);
            if (!layers.contains(l)) { // broadcast zeros: this layer is untouched in every row
                f.floats(HookNames.patchMask(hook), new float[1], perHead ? new long[]{1, 1, 1} : new long[]{1, 1});
                f.floats(HookNames.patchValue(hook), new float[1], perHead ? new long[]{1, 1, 1, 1} : new long[]{1, 1, 1});
                continue;
            }
            float[] mask = new float[b * width * heads];
            float[] value = new float[b * width * heads * dim];
            for (int r = 0; r < b; r++)
                for (SitePatch o : rows.get(r).overrides()) {
                    if (o.layer() != l) continue;
                    int cell = (r * width + o.position() - offset[r]) * heads + (perHead ? o.head() : 0);
                    mask[cell] = 1f;
                    System.arraycopy(o.value(), 0, value, cell * dim, dim);
                }
            if (perHead) {
                f.floats(HookNames.patchMask(hook), mask, b, width, heads);
                f.floats(HookNames.patchValue(hook), value, b, width, heads, dim);
            } else {
                f.floats(HookNames.patchMask(hook), mask, b, width);
                f.floats(HookNames.patchValue(hook), value, b, width, dim);
            }
        }
    }

    private static int metricWidth(List<PatchRow> rows) {
        return rows.stream().mapToInt(r -> r.metricTokens().length).max().orElse(1);
    }

    /** metric_token_ids [rows, k]: each row's tokens, padded by repeating its last one. */
    private static long[] metricTokens(List<PatchRow> rows, int k) {
        long[] tokens = new long[rows.size() * k];
        for (int r = 0; r < rows.size(); r++) {
            int[] t = rows.get(r).metricTokens();
            for (int j = 0; j < k; j++) tokens[r * k + j] = t[Math.min(j, t.length - 1)];
        }
        return tokens;
    }

    /** Each row's own metric logits out of the padded [rows, k] output. */
    private static float[][] perRow(Feeds.Output o, List<PatchRow> rows, int k) {
        float[][] res = new float[rows.size()][];
        for (int r = 0; r < rows.size(); r++)
            res[r] = Arrays.copyOfRange(o.data(), r * k, r * k + rows.get(r).metricTokens().length);
        return res;
    }

    /** Groups row indices into calls: longest first so rows of similar length share padding. */
    private List<List<Integer>> chunks(List<Integer> lengths) {
        return CallPlan.greedy(lengths, maxRows, maxTokens);
    }

    /** Row {@code row}'s part of each pinned output, copied to heap arrays the capture owns (the buffers are reused). */
    private Capture slice(Map<String, Feeds.View> res, int row, TokenIds prompt) {
        int T = prompt.length();
        Map<String, float[]> hooks = new LinkedHashMap<>();
        Map<String, long[]> shapes = new LinkedHashMap<>();
        float[] logits = null;
        for (Map.Entry<String, Feeds.View> e : res.entrySet()) {
            long[] s = e.getValue().shape();
            java.nio.FloatBuffer data = e.getValue().data();
            if (e.getKey().equals(HookNames.LOGITS_FINAL)) {
                logits = copy(data, (int) (row * s[1]), (int) s[1]);
            } else if (e.getKey().endsWith("hook_pattern")) { // [b, head, q, k] -> [head, T, T]
                int H = (int) s[1], W = (int) s[2];
                float[] p = new float[H * T * T];
                for (int h = 0; h < H; h++)
                    for (int q = 0; q < T; q++)
                        data.get(((row * H + h) * W + q) * W, p, (h * T + q) * T, T);
                hooks.put(e.getKey(), p);
                shapes.put(e.getKey(), new long[]{H, T, T});
            } else if (s.length >= 2 && s.length <= 4 && !e.getKey().equals(HookNames.RESID_FINAL)
                    && !e.getKey().equals(HookNames.LN_FINAL)) { // [b, pos, ...] -> [T, ...]
                long inner = 1;
                for (int i = 2; i < s.length; i++) inner *= s[i];
                hooks.put(e.getKey(), copy(data, (int) (row * s[1] * inner), (int) (T * inner)));
                long[] shape = Arrays.copyOfRange(s, 1, s.length);
                shape[0] = T;
                shapes.put(e.getKey(), shape);
            } else { // [b, d]
                hooks.put(e.getKey(), copy(data, (int) (row * s[1]), (int) s[1]));
                shapes.put(e.getKey(), new long[]{s[1]});
            }
        }
        return new Capture(prompt, logits, hooks, shapes);
    }

    private static float[] copy(java.nio.FloatBuffer data, int from, int length) {
        float[] out = new float[length];
        data.get(from, out, 0, length);
        return out;
    }

    private void count(int rows, int width, int layers, int keys) {
        forwardCalls++;
        forwardRows += rows;
        forwardTokens += (long) rows * width;
        executedFlops += FlopCount.executed(config, rows, width, layers, keys);
    }
}
