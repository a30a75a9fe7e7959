package org.milab.intervention;

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
public final class InterventionEngine {
    private final ModelSessions sessions;
    private final ModelConfig config;
    private final int maxRows;
    private final int maxTokens;
    private long forwardCalls, forwardRows, forwardTokens;

    /**
     * @param maxRows   rows per ORT call at most
     * @param maxTokens rows x padded width per call at most (bounds activation memory)
     */
    public InterventionEngine(ModelSessions sessions, ModelConfig config, int maxRows, int maxTokens) {
        this.sessions = sessions;
        this.config = config;
        this.maxRows = maxRows;
        this.maxTokens = maxTokens;
    }

    public ModelConfig config() {
        return config;
    }

    public ModelSessions sessions() {
        return sessions;
    }

    /** Counters for run manifests and benchmarks: ORT calls, rows and padded tokens processed. */
    public Map<String, Long> counters() {
        return Map.of("forward_calls", forwardCalls, "forward_rows", forwardRows, "forward_tokens", forwardTokens);
    }

    /** Clean forward passes of each distinct prompt, once, keeping only {@code hooks}. */
    public Map<TokenIds, Capture> capture(Collection<TokenIds> prompts, Set<String> hooks, String label) {
        List<TokenIds> distinct = new ArrayList<>(new LinkedHashSet<>(prompts));
        Set<String> fetch = new LinkedHashSet<>(hooks);
        fetch.add(HookNames.LOGITS_FINAL);
        Map<TokenIds, Capture> out = new HashMap<>();
        try (ProgressBar bar = new ProgressBar(label, distinct.size(), "prompts")) {
            for (List<Integer> chunk : chunks(distinct.stream().map(TokenIds::length).toList())) {
                List<TokenIds> rows = chunk.stream().map(distinct::get).toList();
                TokenBatch batch = TokenBatch.of(rows.stream().map(TokenIds::raw).toList());
                Map<String, Feeds.Output> res;
                try (Feeds f = new Feeds(sessions.env()).batch(batch)) {
                    res = f.run(sessions.session(GraphVariant.CAPTURE), fetch);
                } catch (OrtException e) {
                    throw new IllegalStateException("capture forward pass failed: " + e.getMessage(), e);
                }
                count(batch);
                for (int r = 0; r < rows.size(); r++) out.put(rows.get(r), slice(res, r, rows.get(r)));
                bar.step(rows.size());
            }
        }
        return out;
    }

    /** Runs every row with its overrides at {@code site}; returns each row's metric logits, in row order. */
    public float[][] patch(PatchSite site, List<PatchRow> rows, String label) {
        GraphVariant variant = Arrays.stream(GraphVariant.values())
                .filter(v -> v.patchSite().orElse(null) == site).findFirst().orElseThrow();
        float[][] out = new float[rows.size()][];
        try (ProgressBar bar = new ProgressBar(label, rows.size(), "patched rows")) {
            for (List<Integer> chunk : chunks(rows.stream().map(r -> r.prompt().length()).toList())) {
                List<PatchRow> batchRows = chunk.stream().map(rows::get).toList();
                float[][] res = runPatchBatch(variant, site, batchRows);
                for (int i = 0; i < chunk.size(); i++) out[chunk.get(i)] = res[i];
                bar.step(chunk.size());
            }
        }
        return out;
    }

    private float[][] runPatchBatch(GraphVariant variant, PatchSite site, List<PatchRow> rows) {
        TokenBatch batch = TokenBatch.of(rows.stream().map(r -> r.prompt().raw()).toList());
        int b = batch.rows(), w = batch.width(), k = rows.stream().mapToInt(r -> r.metricTokens().length).max().orElse(1);
        long[] tokens = new long[b * k];
        for (int r = 0; r < b; r++) {
            int[] t = rows.get(r).metricTokens();
            for (int j = 0; j < k; j++) tokens[r * k + j] = t[Math.min(j, t.length - 1)];
        }
        boolean perHead = site == PatchSite.HOOK_Z;
        int heads = perHead ? config.nHead() : 1, width = perHead ? config.dHead() : config.dModel();
        Set<Integer> layers = new TreeSet<>();
        rows.forEach(r -> r.overrides().forEach(o -> layers.add(o.layer())));
        try (Feeds f = new Feeds(sessions.env()).batch(batch)) {
            f.longs(HookNames.METRIC_TOKEN_IDS, tokens, b, k);
            for (int l = 0; l < config.nLayer(); l++) {
                String hook = site.hook(l);
                if (!layers.contains(l)) { // broadcast zeros: this layer is untouched in every row
                    f.floats(HookNames.patchMask(hook), new float[1], perHead ? new long[]{1, 1, 1} : new long[]{1, 1});
                    f.floats(HookNames.patchValue(hook), new float[1], perHead ? new long[]{1, 1, 1, 1} : new long[]{1, 1, 1});
                    continue;
                }
                float[] mask = new float[b * w * heads];
                float[] value = new float[b * w * heads * width];
                for (int r = 0; r < b; r++) {
                    for (SitePatch o : rows.get(r).overrides()) {
                        if (o.layer() != l) continue;
                        int cell = (r * w + o.position()) * heads + (perHead ? o.head() : 0);
                        mask[cell] = 1f;
                        System.arraycopy(o.value(), 0, value, cell * width, width);
                    }
                }
                if (perHead) {
                    f.floats(HookNames.patchMask(hook), mask, b, w, heads);
                    f.floats(HookNames.patchValue(hook), value, b, w, heads, width);
                } else {
                    f.floats(HookNames.patchMask(hook), mask, b, w);
                    f.floats(HookNames.patchValue(hook), value, b, w, width);
                }
            }
            Feeds.Output o = f.run(sessions.session(variant), Set.of(HookNames.METRIC_LOGITS)).get(HookNames.METRIC_LOGITS);
            count(batch);
            float[][] res = new float[b][];
            for (int r = 0; r < b; r++) res[r] = Arrays.copyOfRange(o.data(), r * k, r * k + rows.get(r).metricTokens().length);
            return res;
        } catch (OrtException e) {
            throw new IllegalStateException("patched forward pass failed: " + e.getMessage(), e);
        }
    }

    /** Groups row indices into calls: longest first so rows of similar length share padding. */
    private List<List<Integer>> chunks(List<Integer> lengths) {
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

    private Capture slice(Map<String, Feeds.Output> res, int row, TokenIds prompt) {
        int T = prompt.length();
        Map<String, float[]> hooks = new LinkedHashMap<>();
        Map<String, long[]> shapes = new LinkedHashMap<>();
        float[] logits = null;
        for (Map.Entry<String, Feeds.Output> e : res.entrySet()) {
            long[] s = e.getValue().shape();
            float[] data = e.getValue().data();
            if (e.getKey().equals(HookNames.LOGITS_FINAL)) {
                logits = Arrays.copyOfRange(data, (int) (row * s[1]), (int) ((row + 1) * s[1]));
            } else if (e.getKey().endsWith("hook_pattern")) { // [b, head, q, k] -> [head, T, T]
                int H = (int) s[1], W = (int) s[2];
                float[] p = new float[H * T * T];
                for (int h = 0; h < H; h++)
                    for (int q = 0; q < T; q++)
                        System.arraycopy(data, ((row * H + h) * W + q) * W, p, (h * T + q) * T, T);
                hooks.put(e.getKey(), p);
                shapes.put(e.getKey(), new long[]{H, T, T});
            } else if (s.length >= 2 && s.length <= 4 && !e.getKey().equals(HookNames.RESID_FINAL)
                    && !e.getKey().equals(HookNames.LN_FINAL)) { // [b, pos, ...] -> [T, ...]
                long inner = 1;
                for (int i = 2; i < s.length; i++) inner *= s[i];
                int start = (int) (row * s[1] * inner);
                hooks.put(e.getKey(), Arrays.copyOfRange(data, start, (int) (start + T * inner)));
                long[] shape = Arrays.copyOfRange(s, 1, s.length);
                shape[0] = T;
                shapes.put(e.getKey(), shape);
            } else { // [b, d]
                hooks.put(e.getKey(), Arrays.copyOfRange(data, (int) (row * s[1]), (int) ((row + 1) * s[1])));
                shapes.put(e.getKey(), new long[]{s[1]});
            }
        }
        return new Capture(prompt, logits, hooks, shapes);
    }

    private void count(TokenBatch b) {
        forwardCalls++;
        forwardRows += b.rows();
        forwardTokens += (long) b.rows() * b.width();
    }
}
