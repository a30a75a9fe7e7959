package org.milab.bench;

import org.milab.engine.Capture;
import org.milab.engine.Engine;
import org.milab.engine.PatchRow;
import org.milab.engine.RecomputePath;
import org.milab.engine.TokenIds;
import org.milab.graph.PatchSite;
import org.milab.model.ModelConfig;

import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * An engine that passes every call to another and keeps each patch request's rows and answers (references
 * only: nothing is copied, so a timed pass through it costs what the engine costs). The PyTorch peer runs
 * the recorded rows and checks its logits against the recorded answers.
 */
final class RecordingEngine implements Engine {
    /** One patch request: its rows and the engine's metric logits per row. */
    record Request(PatchSite site, List<PatchRow> rows, float[][] logits) {}

    private final Engine inner;
    private final List<Request> requests = new ArrayList<>();

    RecordingEngine(Engine inner) {
        this.inner = inner;
    }

    List<Request> requests() {
        return List.copyOf(requests);
    }

    @Override
    public ModelConfig config() {
        return inner.config();
    }

    @Override
    public Map<TokenIds, Capture> capture(Collection<TokenIds> prompts, Set<String> hooks, String label) {
        return inner.capture(prompts, hooks, label);
    }

    @Override
    public float[][] patch(PatchSite site, List<PatchRow> rows, String label, Map<TokenIds, Capture> kv, RecomputePath path) {
        float[][] out = inner.patch(site, rows, label, kv, path);
        requests.add(new Request(site, rows, out));
        return out;
    }

    @Override
    public Map<String, Long> counters() {
        return inner.counters();
    }
}
