package org.milab.api;

import ai.onnxruntime.OrtException;
import org.milab.graph.GraphVariant;
import org.milab.graph.HookNames;
import org.milab.lab.LabModel;
import org.milab.runtime.Feeds;
import org.milab.util.UserError;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Runs batches of {@link PatchedRun}s through the hooked graph: rows right padded, every patch turned into
 * per-row override masks and values, function patches evaluated in graph order (a function sees its hook after
 * every earlier patch, so each function-patched hook costs one extra call), results sliced per run.
 */
final class HookedCalls {
    /** One concrete override: run {@code run} of the chunk, its (position, head) row of {@code hook}. */
    private record Write(int run, HookLayout layout, int position, int head, float[] value) {}

    private final LabModel model;
    private final Map<String, HookLayout> layouts;
    private final int maxRows, maxTokens;
    private final ProgressListener progress;

    HookedCalls(LabModel model, Map<String, HookLayout> layouts, int maxRows, int maxTokens, ProgressListener progress) {
        this.model = model;
        this.layouts = layouts;
        this.maxRows = maxRows;
        this.maxTokens = maxTokens;
        this.progress = progress;
    }

    PatchResults execute(String task, List<PatchedRun> runs, Set<String> cacheNames) {
        List<Tensor> logits = new ArrayList<>(runs.size());
        Map<String, List<Tensor>> cache = new LinkedHashMap<>();
        for (String h : layouts.keySet()) if (cacheNames.contains(h)) cache.put(h, new ArrayList<>(runs.size()));
        Set<String> fetch = new LinkedHashSet<>(cache.keySet());
        fetch.add(HookNames.LOGITS);
        int start = 0;
        while (start < runs.size()) {
            int end = chunkEnd(runs, start);
            List<PatchedRun> chunk = runs.subList(start, end);
            int P = width(chunk);
            Map<String, Feeds.Output> out = call(chunk, writes(chunk, start, P), fetch);
            for (int r = 0; r < chunk.size(); r++) {
                int T = chunk.get(r).tokens().length, V = model.config().vocabSize();
                float[] l = new float[T * V];
                System.arraycopy(out.get(HookNames.LOGITS).data(), r * P * V, l, 0, l.length);
                logits.add(new Tensor(new int[]{T, V}, l));
                for (Map.Entry<String, List<Tensor>> e : cache.entrySet()) {
                    HookLayout lay = layouts.get(e.getKey());
                    e.getValue().add(new Tensor(lay.shape(T), lay.slice(out.get(e.getKey()).data(), r, P, T)));
                }
            }
            start = end;
            progress.progress(task, start, runs.size());
        }
        ActivationCache c = cache.isEmpty() ? null : new ActivationCache(runs.stream().map(PatchedRun::tokens).toList(),
                cache, ActivationCache.axesOf(cache.keySet().stream().map(layouts::get).toList()), model.provenance());
        return new PatchResults(logits, c);
    }

    /** The end of the chunk from {@code start}: at most maxRows runs and maxTokens padded tokens. */
    private int chunkEnd(List<PatchedRun> runs, int start) {
        int end = start + 1, width = runs.get(start).tokens().length;
        while (end < runs.size() && end - start < maxRows) {
            int w = Math.max(width, runs.get(end).tokens().length);
            if ((long) w * (end - start + 1) > maxTokens) break;
            width = w;
            end++;
        }
        return end;
    }

    private static int width(List<PatchedRun> chunk) {
        return chunk.stream().mapToInt(r -> r.tokens().length).max().orElseThrow();
    }

    /** Every patch of the chunk as concrete writes; function patches evaluated hook by hook in graph order. */
    private List<Write> writes(List<PatchedRun> chunk, int firstRun, int P) {
        List<Write> writes = new ArrayList<>();
        Map<String, List<int[]>> functionSites = new LinkedHashMap<>(); // hook -> {run, patch index}
        for (int r = 0; r < chunk.size(); r++) {
            List<Patch> patches = chunk.get(r).patches();
            for (int i = 0; i < patches.size(); i++) {
                Patch p = patches.get(i);
                HookLayout lay = layout(p.hook());
                if (p.value() instanceof PatchValue.Function) {
                    functionSites.computeIfAbsent(p.hook(), k -> new ArrayList<>()).add(new int[]{r, i});
                    continue;
                }
                int T = chunk.get(r).tokens().length;
                for (int[] site : sites(p, lay, T, firstRun + r))
                    writes.add(write(r, lay, site, resolve(p.value(), lay, T, site, firstRun + r)));
            }
        }
        for (String hook : layouts.keySet()) {
            List<int[]> sites = functionSites.get(hook);
            if (sites == null) continue;
            HookLayout lay = layouts.get(hook);
            float[] current = call(chunk, writes, Set.of(hook)).get(hook).data();
            for (int[] ri : sites) {
                int r = ri[0], T = chunk.get(r).tokens().length;
                Patch p = chunk.get(r).patches().get(ri[1]);
                PatchValue.HookFunction fn = ((PatchValue.Function) p.value()).function();
                for (int[] site : sites(p, lay, T, firstRun + r)) {
                    int from = (r * lay.rows(P) + lay.row(P, site[0], site[1])) * lay.last(P);
                    float[] a = java.util.Arrays.copyOfRange(current, from, from + lay.last(T));
                    writes.add(write(r, lay, site, fn.apply(firstRun + r, site[0], site[1], a)));
                }
            }
        }
        return writes;
    }

    private Write write(int run, HookLayout lay, int[] site, float[] value) {
        for (float v : value)
            if (!Float.isFinite(v) && !(v == Float.NEGATIVE_INFINITY && lay.allowsNegativeInfinity()))
                throw new UserError("A patch of " + lay.hook() + " at position " + site[0] + " writes a non-finite value (" + v + ").",
                        lay.allowsNegativeInfinity() ? "Patch attention scores with finite values or -inf (a masked key)."
                                : "Patch with finite values (the graph mixes h (1 - mask) + mask value, and 0 * NaN is NaN).");
        return new Write(run, lay, site[0], site[1], value);
    }

    HookLayout layout(String hook) {
        HookLayout lay = layouts.get(hook);
        if (lay == null)
            throw new UserError("'" + hook + "' is not a hook of model '" + model.id() + "'.", "Use a TransformerLens name "
                    + "the model has (HookedModel.hookNames()), e.g. blocks.0.attn.hook_z, blocks.0.hook_resid_pre, hook_embed.");
        return lay;
    }

    /** (position, head) pairs a patch covers in a run of T tokens; head -1 for hooks without heads. */
    private List<int[]> sites(Patch p, HookLayout lay, int T, int run) {
        int[] positions = p.positions();
        if (positions == null) positions = java.util.stream.IntStream.range(0, T).toArray();
        for (int pos : positions)
            if (pos < 0 || pos >= T)
                throw new UserError("A patch of " + p.hook() + " names position " + pos + ", but run " + run + " has " + T + " tokens.",
                        "Use positions 0.." + (T - 1) + " (or null for all).");
        if (!lay.headed() && p.head() >= 0)
            throw new UserError(p.hook() + " has no head axis, but the patch names head " + p.head() + ".", "Use head -1.");
        if (lay.headed() && p.head() >= lay.heads())
            throw new UserError("The patch names head " + p.head() + " of " + p.hook() + ", but the model has " + lay.heads()
                    + " heads.", "Use heads 0.." + (lay.heads() - 1) + " (or -1 for all).");
        List<int[]> out = new ArrayList<>();
        for (int pos : positions)
            if (!lay.headed()) out.add(new int[]{pos, -1});
            else if (p.head() >= 0) out.add(new int[]{pos, p.head()});
            else for (int h = 0; h < lay.heads(); h++) out.add(new int[]{pos, h});
        return out;
    }

    private static float[] resolve(PatchValue v, HookLayout lay, int T, int[] site, int run) {
        int pos = site[0], head = site[1];
        if (v instanceof PatchValue.Zero) return new float[lay.last(T)];
        if (v instanceof PatchValue.Constant c) {
            if (c.values().length != lay.last(T))
                throw new UserError("A constant patch of " + lay.hook() + " has " + c.values().length + " values; the hook's last axis has "
                        + lay.last(T) + ".", "Give " + lay.last(T) + " values.");
            return c.values().clone();
        }
        if (v instanceof PatchValue.FromCache f) {
            int donor = f.cache().tokens(f.row()).length;
            if (pos >= donor)
                throw new UserError("Run " + run + " patches " + lay.hook() + " at position " + pos + " from cache prompt " + f.row()
                        + ", which has only " + donor + " tokens.", "Patch positions the donor prompt has, or use prompts of equal length.");
            return java.util.Arrays.copyOf(rowOf(f.cache().all(lay.hook()).get(f.row()), lay, pos, head), lay.last(T));
        }
        if (v instanceof PatchValue.MeanOf m) {
            double[] acc = new double[lay.last(T)];
            int n = 0;
            for (int r = 0; r < m.cache().size(); r++) {
                if (m.cache().tokens(r).length <= pos) continue;
                float[] row = rowOf(m.cache().all(lay.hook()).get(r), lay, pos, head);
                for (int i = 0; i < Math.min(row.length, acc.length); i++) acc[i] += row[i];
                n++;
            }
            if (n == 0)
                throw new UserError("Mean patch of " + lay.hook() + " at position " + pos + ": no prompt of the cache is that long.",
                        "Cache prompts at least " + (pos + 1) + " tokens long.");
            float[] out = new float[acc.length];
            for (int i = 0; i < acc.length; i++) out[i] = (float) (acc[i] / n);
            return out;
        }
        throw new IllegalStateException("unresolved patch value " + v);
    }

    private static float[] rowOf(Tensor t, HookLayout lay, int pos, int head) {
        return switch (lay.kind()) {
            case HEADS -> t.row(pos, head);
            case PATTERN -> t.row(head, pos);
            default -> t.row(pos);
        };
    }

    /** One ORT call of the hooked graph: every hook gets its override inputs (a broadcast zero where unpatched). */
    private Map<String, Feeds.Output> call(List<PatchedRun> chunk, List<Write> writes, Set<String> fetch) {
        int b = chunk.size(), P = width(chunk);
        long[] ids = new long[b * P];
        for (int r = 0; r < b; r++) {
            int[] t = chunk.get(r).tokens();
            for (int i = 0; i < P; i++) ids[r * P + i] = t[Math.min(i, t.length - 1)];
        }
        Map<String, float[][]> fed = new HashMap<>(); // hook -> {mask, value}
        for (Write w : writes) {
            HookLayout lay = w.layout();
            float[][] mv = fed.computeIfAbsent(lay.hook(), k -> new float[][]{new float[b * lay.rows(P)],
                    new float[b * lay.rows(P) * lay.last(P)]});
            int row = w.run() * lay.rows(P) + lay.row(P, w.position(), w.head());
            mv[0][row] = 1f;
            System.arraycopy(w.value(), 0, mv[1], row * lay.last(P), w.value().length);
        }
        try (Feeds f = new Feeds(model.sessions().env())) {
            f.longs(HookNames.INPUT_IDS, ids, b, P);
            for (HookLayout lay : layouts.values()) {
                int[] shape = lay.shape(P);
                float[][] mv = fed.get(lay.hook());
                long[] valueShape = new long[shape.length + 1], maskShape = new long[shape.length];
                java.util.Arrays.fill(valueShape, 1);
                java.util.Arrays.fill(maskShape, 1);
                if (mv != null) {
                    valueShape[0] = maskShape[0] = b;
                    for (int a = 0; a < shape.length; a++) {
                        valueShape[a + 1] = shape[a];
                        if (a < shape.length - 1) maskShape[a + 1] = shape[a];
                    }
                }
                f.floats(HookNames.patchMask(lay.hook()), mv == null ? new float[1] : mv[0], maskShape);
                f.floats(HookNames.patchValue(lay.hook()), mv == null ? new float[1] : mv[1], valueShape);
            }
            return f.run(model.sessions().session(GraphVariant.HOOKED), fetch);
        } catch (OrtException e) {
            throw new IllegalStateException("The hooked graph of model '" + model.id() + "' failed: " + e.getMessage(), e);
        }
    }
}
