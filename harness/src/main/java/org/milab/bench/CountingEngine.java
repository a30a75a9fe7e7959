package org.milab.bench;

import org.milab.engine.Capture;
import org.milab.engine.Engine;
import org.milab.engine.PatchRow;
import org.milab.engine.RecomputePath;
import org.milab.engine.TokenIds;
import org.milab.graph.PatchSite;
import org.milab.model.ModelConfig;

import java.util.Collection;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;

/**
 * An engine that passes every call to another and counts patched rows and captured prompts by the caller's label,
 * cut at its first " [" or ":" (v2 labels its calls "v2 causal [seed, family]: patch_z", so the key is the stage).
 * Counting costs nothing measurable; the rows are what a stage asked the engine for, whatever the machine's load.
 */
final class CountingEngine implements Engine {
    private final Engine inner;
    private final Map<String, Long> rows = new TreeMap<>(), prompts = new TreeMap<>();

    CountingEngine(Engine inner) {
        this.inner = inner;
    }

    static String stage(String label) {
        int cut = label.length();
        for (String sep : new String[]{" [", ":"}) {
            int i = label.indexOf(sep);
            if (i >= 0) cut = Math.min(cut, i);
        }
        return label.substring(0, cut).strip();
    }

    synchronized Map<String, Long> rows() {
        return new TreeMap<>(rows);
    }

    synchronized Map<String, Long> prompts() {
        return new TreeMap<>(prompts);
    }

    @Override
    public ModelConfig config() {
        return inner.config();
    }

    @Override
    public Map<TokenIds, Capture> capture(Collection<TokenIds> p, Set<String> hooks, String label) {
        synchronized (this) {
            prompts.merge(stage(label), (long) p.size(), Long::sum);
        }
        return inner.capture(p, hooks, label);
    }

    @Override
    public float[][] patch(PatchSite site, List<PatchRow> r, String label, Map<TokenIds, Capture> kv, RecomputePath path) {
        synchronized (this) {
            rows.merge(stage(label), (long) r.size(), Long::sum);
        }
        return inner.patch(site, r, label, kv, path);
    }

    @Override
    public Set<String> suffixHooks(int firstPatchedLayer) {
        return inner.suffixHooks(firstPatchedLayer);
    }

    @Override
    public Map<String, Long> counters() {
        return inner.counters();
    }

    @Override
    public Map<String, Object> describe() {
        return inner.describe();
    }
}
