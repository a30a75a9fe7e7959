package org.milab.bench;

import com.fasterxml.jackson.annotation.JsonProperty;
import org.milab.engine.RecomputePath;
import org.milab.lab.LabModel;
import org.milab.protocol.reference.HeadPatching;
import org.milab.protocol.reference.HeldoutMatrix;
import org.milab.run.RunContext;
import org.milab.runtime.ModelSessions;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * The held-out matrix of seed 10 (the reference's 16 GPT-2 heads x 72 records x 3 interventions x 2
 * positions = 6912 interventions), through the reference protocol's own code path (HeadPatching), baseline
 * rows and captures included, with the engine's recompute strategy passed per request: (b) MINIMAL, the
 * engine; (b_legacy) SUFFIX, the previous engine; (b0) WHOLE prompts batched; (a) WHOLE at one row per call,
 * as TransformerLens' patching loop.
 */
public final class HeldoutThroughput {
    private HeldoutThroughput() {}

    /**
     * One timed pass.
     *
     * @param counters    the engine's counter increments during the pass (calls, rows, padded tokens, FLOPs, nanos)
     */
    public record Result(String id, String what, String path, int rowsPerCall, int interventions, double seconds,
                         double usefulGflop, double executedGflop, double peakRssMb, Map<String, Long> counters) {
        @JsonProperty("interventions_per_s")
        public double interventionsPerS() {
            return interventions / seconds;
        }

        @JsonProperty("useful_gflops")
        public double usefulGflops() {
            return usefulGflop / seconds;
        }

        @JsonProperty("executed_gflops")
        public double executedGflops() {
            return executedGflop / seconds;
        }

        @JsonProperty("capture_seconds")
        public double captureSeconds() {
            return counters.get("capture_nanos") / 1e9;
        }

        @JsonProperty("patch_seconds")
        public double patchSeconds() {
            return counters.get("patch_nanos") / 1e9;
        }

        /** Process CPU seconds per wall second over the pass: about the intra-op threads when they are all busy. */
        @JsonProperty("cpu_per_wall")
        public double cpuPerWall() {
            return counters.get("process_cpu_nanos") / 1e9 / seconds;
        }

        /** Padded tokens per ORT call: the M of the weight MatMuls the engine's calls ran. */
        @JsonProperty("mean_tokens_per_call")
        public int meanTokensPerCall() {
            return (int) Math.round((double) counters.get("forward_tokens") / Math.max(1, counters.get("forward_calls")));
        }

        public String row(double ceiling, Result a) {
            return String.format(Locale.ROOT, "| (%s) %s | %d | %.1f (%.1f + %.1f) | %.1f | %.1f | %.2f | %.1f | %d | %.0f |%s", id, what,
                    interventions, seconds, captureSeconds(), patchSeconds(), interventionsPerS(), usefulGflops(),
                    usefulGflops() / ceiling, executedGflops(), meanTokensPerCall(), peakRssMb,
                    a == null ? "" : String.format(Locale.ROOT, " %.1fx |", interventionsPerS() / a.interventionsPerS()));
        }

        public static String header(int candidates, boolean withA) {
            return "| held-out matrix, seed 10, " + candidates + " of 16 candidates (GPT-2-small shape) | interventions | "
                    + "seconds (capture + patch) | interventions/s | useful GFLOP/s | of ceiling | executed GFLOP/s | "
                    + "padded tokens per call | peak RSS MB |" + (withA ? " vs (a) |" : "") + "\n|---|---|---|---|---|---|---|---|---|---|"
                    + (withA ? "---|" : "");
        }
    }

    /** A timed pass and, when asked for, every patch request it made (for the peer). */
    record Recorded(Result result, List<RecordingEngine.Request> requests) {}

    public static List<HeadPatching.Job> jobs(int candidates) {
        return HeldoutMatrix.jobs(10).stream().filter(j -> HeldoutMatrix.candidateIndex(j) < candidates).toList();
    }

    public static Result time(BenchSettings s, String id, String what, List<HeadPatching.Job> jobs, int rows, RecomputePath path) {
        return timeRecorded(s, id, what, jobs, rows, path, false).result();
    }

    /** As {@link #time}; with {@code record}, the pass runs through a {@link RecordingEngine}. */
    static Recorded timeRecorded(BenchSettings s, String id, String what, List<HeadPatching.Job> jobs, int rows,
                                        RecomputePath path, boolean record) {
        Machine.resetPeakRss();
        RecordingEngine[] recorder = new RecordingEngine[1];
        try (LabModel m = s.open(rows, (model, local) -> record ? (recorder[0] = new RecordingEngine(local)) : local,
                ModelSessions.Tuning.DEFAULT)) {
            RunContext ctx = s.context(m);
            warmUp(ctx, jobs, path);
            int before = recorder[0] == null ? 0 : recorder[0].requests().size();
            Map<String, Long> start = m.engine().counters();
            long t0 = System.nanoTime(), cpu0 = processCpuNanos();
            HeadPatching.run(ctx, jobs, "bench " + id, path);
            double secs = (System.nanoTime() - t0) / 1e9;
            // the process's CPU time over the pass: much less sensitive than wall time to other jobs' load
            Map<String, Long> k = new java.util.LinkedHashMap<>(Machine.since(m.engine().counters(), start));
            k.put("process_cpu_nanos", processCpuNanos() - cpu0);
            Result r = new Result(id, what, path.name().toLowerCase(Locale.ROOT), rows, jobs.size(), secs,
                    k.get("useful_flops") / 1e9, k.get("executed_flops") / 1e9, Machine.peakRss() / 1e6, k);
            List<RecordingEngine.Request> req = recorder[0] == null ? List.of()
                    : recorder[0].requests().subList(before, recorder[0].requests().size());
            return new Recorded(r, req);
        }
    }

    static long processCpuNanos() {
        return ((com.sun.management.OperatingSystemMXBean) java.lang.management.ManagementFactory.getOperatingSystemMXBean())
                .getProcessCpuTime();
    }

    /** One job per candidate and position: opens every session a pass uses (a one-time cost, kept out of timings). */
    static void warmUp(RunContext ctx, List<HeadPatching.Job> jobs, RecomputePath path) {
        Map<List<Object>, HeadPatching.Job> warm = new LinkedHashMap<>();
        for (HeadPatching.Job j : jobs) warm.putIfAbsent(List.of(j.candidateId(), j.position()), j);
        HeadPatching.run(ctx, new ArrayList<>(warm.values()), "warm-up", path);
    }
}
