package org.milab.bench;

import ai.onnxruntime.OrtSession.SessionOptions.OptLevel;
import org.milab.engine.RecomputePath;
import org.milab.lab.EngineFactory;
import org.milab.lab.LabModel;
import org.milab.protocol.reference.HeadPatching;
import org.milab.run.RunContext;
import org.milab.runtime.ModelSessions.Tuning;
import org.milab.stats.Stats;

import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * ORT session options one at a time against the default, on the engine's held-out workload of the first two
 * candidates; each variant is its own model opened with those options (options never change on open
 * sessions). Variants alternate over the rounds, each round starting with the next variant, so load drift
 * and position in the round hit them alike.
 */
public final class SessionTuning {
    private SessionTuning() {}

    public record Variant(String name, String options, List<Double> seconds, double speedVsDefault, double peakRssMb) {
        public String row() {
            return String.format(Locale.ROOT, "| %s (%s) | %.1f | %.2fx speed | %.0f |", name, options, Stats.median(seconds),
                    speedVsDefault, peakRssMb);
        }
    }

    public record Result(int rounds, List<Variant> variants) {
        public List<String> rows() {
            List<String> out = new ArrayList<>();
            out.add("| ORT session option (engine, 2 candidates, " + rounds + " alternating rounds) | median s | vs default | peak RSS MB |\n|---|---|---|---|");
            variants.forEach(v -> out.add(v.row()));
            return out;
        }
    }

    public static Map<String, Tuning> variants() {
        Tuning d = Tuning.DEFAULT;
        Map<String, Tuning> v = new LinkedHashMap<>();
        v.put("default", d);
        v.put("no_prepack", new Tuning(d.optLevel(), false, d.spin(), d.arena()));
        v.put("no_spin", new Tuning(d.optLevel(), d.prepack(), false, d.arena()));
        v.put("no_arena", new Tuning(d.optLevel(), d.prepack(), d.spin(), false));
        v.put("opt_extended", new Tuning(OptLevel.EXTENDED_OPT, d.prepack(), d.spin(), d.arena()));
        v.put("opt_basic", new Tuning(OptLevel.BASIC_OPT, d.prepack(), d.spin(), d.arena()));
        return v;
    }

    public static Result run(BenchSettings s, int rounds) {
        List<HeadPatching.Job> jobs = HeldoutThroughput.jobs(2);
        Map<String, Tuning> variants = variants();
        Map<String, List<Double>> secs = new LinkedHashMap<>();
        Map<String, Double> rss = new LinkedHashMap<>();
        List<Map.Entry<String, Tuning>> order = new ArrayList<>(variants.entrySet());
        for (int round = 0; round < rounds; round++, Collections.rotate(order, -1)) // each round starts elsewhere
            for (Map.Entry<String, Tuning> v : order) {
                Machine.resetPeakRss();
                try (LabModel m = s.open(s.batchRows(), EngineFactory.LOCAL, v.getValue())) {
                    RunContext ctx = s.context(m);
                    HeldoutThroughput.warmUp(ctx, jobs, RecomputePath.DEFAULT);
                    long t0 = System.nanoTime();
                    HeadPatching.run(ctx, jobs, "tuning " + v.getKey(), RecomputePath.DEFAULT);
                    secs.computeIfAbsent(v.getKey(), k -> new ArrayList<>()).add((System.nanoTime() - t0) / 1e9);
                    rss.merge(v.getKey(), Machine.peakRss() / 1e6, Math::max);
                }
            }
        double base = Stats.median(secs.get("default"));
        List<Variant> out = new ArrayList<>();
        secs.forEach((name, xs) -> out.add(new Variant(name, variants.get(name).describe(), xs, base / Stats.median(xs), rss.get(name))));
        return new Result(rounds, out);
    }
}
