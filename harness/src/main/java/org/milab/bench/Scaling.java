package org.milab.bench;

import org.milab.engine.Capture;
import org.milab.engine.InterventionEngine;
import org.milab.engine.PatchRow;
import org.milab.engine.RecomputePath;
import org.milab.engine.SitePatch;
import org.milab.engine.TokenIds;
import org.milab.graph.PatchSite;
import org.milab.lab.LabModel;
import org.milab.model.ModelConfig;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.SplittableRandom;

/**
 * Interventions/s of the engine (minimal path) against the number of heads patched, prompt length and rows
 * per call, on random-token prompts: every row zero-ablates one head at one position (final, or the middle),
 * and each entry includes its prompts' capture.
 */
public final class Scaling {
    private static final int PROMPTS = 4;

    private Scaling() {}

    public record Entry(String axis, int heads, int promptTokens, int rowsPerCall, int interventions, double seconds,
                        double usefulGflop, double peakRssMb) {
        public String row(double ceiling) {
            double useful = usefulGflop / seconds;
            return String.format(Locale.ROOT, "| %s | %d | %d | %d | %d | %.1f | %.1f | %.2f | %.0f |", axis, heads, promptTokens,
                    rowsPerCall, interventions, interventions / seconds, useful, useful / ceiling, peakRssMb);
        }
    }

    public record Result(List<Entry> entries) {
        public List<String> rows(double ceiling) {
            List<String> out = new ArrayList<>();
            out.add("| scaling (engine, minimal path) | heads | prompt tokens | rows per call | interventions | "
                    + "interventions/s | useful GFLOP/s | of ceiling | peak RSS MB |\n|---|---|---|---|---|---|---|---|---|");
            entries.forEach(e -> out.add(e.row(ceiling)));
            return out;
        }
    }

    public static Result run(BenchSettings s) {
        List<Entry> out = new ArrayList<>();
        for (int heads : new int[]{1, 12, 48, 144}) out.add(entry(s, "heads", heads, 24, s.batchRows()));
        for (int len : new int[]{12, 48, 96}) out.add(entry(s, "prompt_tokens", 12, len, s.batchRows()));
        for (int rows : new int[]{16, 64, 256}) out.add(entry(s, "rows_per_call", 12, 24, rows));
        return new Result(out);
    }

    private static Entry entry(BenchSettings s, String axis, int heads, int length, int rowsPerCall) {
        Machine.resetPeakRss();
        try (LabModel m = s.open(rowsPerCall)) {
            ModelConfig c = m.config();
            SplittableRandom rng = new SplittableRandom(length * 1000L + heads);
            List<TokenIds> prompts = new ArrayList<>();
            for (int i = 0; i < PROMPTS; i++) prompts.add(new TokenIds(rng.ints(length, 0, c.vocabSize()).toArray()));
            int total = c.nLayer() * c.nHead();
            List<PatchRow> rows = new ArrayList<>();
            for (int i = 0; i < heads; i++) {
                int flat = (int) ((long) i * total / heads); // spread evenly over the layers
                int layer = flat / c.nHead(), head = flat % c.nHead();
                for (TokenIds p : prompts)
                    for (int pos : new int[]{length - 1, length / 2})
                        rows.add(new PatchRow(p, List.of(new SitePatch(layer, pos, head, new float[c.dHead()])), new int[]{1, 2}));
            }
            InterventionEngine e = m.localEngine();
            RecomputePath path = RecomputePath.MINIMAL;
            // one row per start layer first: opens the sessions (one-time cost, untimed)
            Map<Integer, PatchRow> warm = new LinkedHashMap<>();
            for (PatchRow r : rows) warm.putIfAbsent(r.overrides().get(0).layer(), r);
            e.patch(PatchSite.HOOK_Z, new ArrayList<>(warm.values()), "scaling warm-up",
                    e.capture(List.of(prompts.get(0)), path.cacheHooks(c, 0), "scaling warm-up"), path);
            Map<String, Long> before = e.counters();
            long t0 = System.nanoTime();
            Map<TokenIds, Capture> caps = e.capture(prompts, path.cacheHooks(c, 0), "scaling capture");
            e.patch(PatchSite.HOOK_Z, rows, "scaling " + axis, caps, path);
            double secs = (System.nanoTime() - t0) / 1e9;
            Map<String, Long> k = Machine.since(e.counters(), before);
            return new Entry(axis, heads, length, rowsPerCall, rows.size(), secs, k.get("useful_flops") / 1e9, Machine.peakRss() / 1e6);
        }
    }
}
