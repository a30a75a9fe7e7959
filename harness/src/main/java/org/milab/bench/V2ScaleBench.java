package org.milab.bench;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import org.milab.lab.LabModel;
import org.milab.protocol.v2.CausalStage;
import org.milab.protocol.v2.Sequential;
import org.milab.protocol.v2.V2Protocol;
import org.milab.run.Pipeline;
import org.milab.run.RunContext;
import org.milab.runtime.Device;
import org.milab.stage.RunConfig;
import org.milab.tables.ArrowTables;
import org.milab.tables.Table;
import org.milab.util.AtomicFiles;
import org.milab.util.Provenance;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * {@code make bench-v2} (a benchmark, not a test): protocol v2 end to end on a model (GPT-2 small's shape by default)
 * at the counts given (full counts by default), writing per step its wall seconds (the run manifest's
 * {@code step_seconds}) and the rows and prompts it asked the engine for ({@link CountingEngine}), with the causal
 * stage's rows beside what the same counts cost without the sequential design, and per look of the design the
 * heads running and stopped, engine rows, captured prompts and seconds, into
 * {@code results/bench/<time>/bench.json}. Rows do not depend on the machine's load; seconds do (the load average
 * before and after is recorded): quote seconds only from a quiet machine.
 */
@Command(name = "bench-v2", mixinStandardHelpOptions = true, description = "Protocol v2 rows and seconds per step.")
public final class V2ScaleBench implements Runnable {
    @Option(names = "--root", defaultValue = ".") Path root;
    @Option(names = "--model", defaultValue = "gpt2-random") String model;
    @Option(names = "--threads", defaultValue = "0", description = "ORT intra-op threads (0 = one per processor)") int threads;
    @Option(names = "--batch-rows", defaultValue = "128", description = "rows per ORT call (run-v2's default)") int batchRows;
    @Option(names = "--v2-seeds", defaultValue = "1,2,3") String seeds;
    @Option(names = "--v2-prompts", defaultValue = "16") int prompts;
    @Option(names = "--v2-probes", defaultValue = "16") int probes;
    @Option(names = "--v2-resamples", defaultValue = "2000") int resamples;
    @Option(names = "--v2-sequential", defaultValue = "on", description = "on or off") String sequential;

    public static void main(String[] args) {
        System.exit(org.milab.util.CommandFailures.execute(new V2ScaleBench(), args)); // bad input: one line, exit 2
    }

    /** One pipeline step: its wall seconds and what it asked the engine for. */
    record Step(String step, double seconds, long patchedRows, long capturedPrompts) {}

    /**
     * The causal stage's rows: {@code interventionRows} (ablation and denoising table rows, one engine row each)
     * beside {@code interventionRowsWithoutDesign} (every head on every pair: heads x pairs x 4).
     */
    record Causal(long pairs, int heads, int headsStopped, long interventionRows, long interventionRowsWithoutDesign,
                  List<Look> looks) {}

    /**
     * One look of the sequential design: {@code headsRunning} heads patched on its pairs, {@code headsStopped} of
     * them stopped for futility after it; {@code engineRows}: every row it asked the engine for (its patched rows
     * and the pairs' unpatched baselines), {@code seconds}: its wall time (the stage's own timer).
     */
    record Look(int look, int headsRunning, int headsStopped, long engineRows, long capturedPrompts, Double seconds) {}

    record Result(String schema, String startedUtc, String model, int nLayer, int nHead, int dModel, List<Integer> seeds,
                  int promptsPerFamily, int probesPerLength, int bootstrapResamples, boolean sequential, String loadavgStart,
                  String loadavgEnd, int cores, String codeCommit, String runDir, double wallSeconds, List<Step> steps, Map<String, Double> timingsSeconds,
                  Map<String, Long> engineRowsByLabel, Map<String, Long> capturedPromptsByLabel, Causal causal) {}

    @Override
    public void run() {
        if (!sequential.equals("on") && !sequential.equals("off"))
            throw new CommandLine.ParameterException(new CommandLine(this), "--v2-sequential must be on or off");
        Path r = root.toAbsolutePath().normalize();
        Instant started = Instant.now();
        String stamp = DateTimeFormatter.ofPattern("yyyyMMdd-HHmmss").withZone(ZoneOffset.UTC).format(started);
        V2Protocol.Counts counts = new V2Protocol.Counts(Arrays.stream(seeds.split(",")).map(String::strip).map(Integer::valueOf)
                .toList(), prompts, probes, resamples, sequential.equals("on"));
        String loadStart = Machine.loadAverage();
        CountingEngine[] counting = new CountingEngine[1];
        Path run;
        int nLayer, nHead, dModel;
        try (LabModel m = LabModel.open(r, model, Device.CPU, threads, batchRows, batchRows * 16,
                (lab, local) -> counting[0] = new CountingEngine(local))) {
            nLayer = m.config().nLayer();
            nHead = m.config().nHead();
            dModel = m.config().dModel();
            RunContext ctx = new RunContext(r, RunConfig.reference(model, "bench-v2-" + stamp), m);
            Pipeline p = new Pipeline(ctx);
            p.v2(counts);
            p.finish("bench-v2");
            run = ctx.finalDir();
        }
        JsonNode manifest = read(run.resolve("run_manifest.json"));
        Map<String, Long> rows = counting[0].rows(), captured = counting[0].prompts();
        List<Step> steps = new java.util.ArrayList<>();
        manifest.path("step_seconds").fields().forEachRemaining(e -> {
            // engine labels read "v2 causal", "v2 group ablation"; step names "v2-causal", "v2-group-ablation"
            String prefix = e.getKey().replace('-', ' ');
            steps.add(new Step(e.getKey(), e.getValue().asDouble(), sum(rows, prefix), sum(captured, prefix)));
        });
        Map<String, Double> timings = new java.util.LinkedHashMap<>(); // the stages' own timers (causal: each look)
        manifest.path("timings_seconds").fields().forEachRemaining(e -> timings.put(e.getKey(), e.getValue().asDouble()));
        Table base = ArrowTables.read(run.resolve("v2").resolve(CausalStage.BASELINES + ArrowTables.EXTENSION));
        Table seq = ArrowTables.read(run.resolve("v2").resolve(Sequential.TABLE + ArrowTables.EXTENSION));
        long interventions = ArrowTables.read(run.resolve("v2").resolve(CausalStage.ABLATIONS + ArrowTables.EXTENSION)).rowCount()
                + ArrowTables.read(run.resolve("v2").resolve(CausalStage.PATCHES + ArrowTables.EXTENSION)).rowCount();
        int stopped = (int) seq.rows().stream().filter(x -> Boolean.TRUE.equals(x.getBool("stopped"))).count();
        int nLooks = seq.rows().get(0).getLong("looks").intValue();
        List<Look> looks = new java.util.ArrayList<>();
        int running = nLayer * nHead;
        for (int k = 1; k <= nLooks; k++) {
            String label = CausalStage.lookLabel(k, nLooks).strip(); // CountingEngine keys: the label before " ["
            long look = k;
            int stoppedHere = (int) seq.rows().stream().filter(x -> x.getLong("stopped_at_look") != null
                    && x.getLong("stopped_at_look") == look).count();
            looks.add(new Look(k, running, stoppedHere, rows.getOrDefault(label, 0L), captured.getOrDefault(label, 0L),
                    timings.get("v2/causal_look" + k)));
            running -= stoppedHere;
        }
        Causal causal = new Causal(base.rowCount(), nLayer * nHead, stopped, interventions, 4L * base.rowCount() * nLayer * nHead,
                looks);
        Result res = new Result("milab.bench_v2/1", started.toString(), model, nLayer, nHead, dModel, counts.seeds(),
                prompts, probes, resamples, counts.sequential(), loadStart, Machine.loadAverage(),
                Runtime.getRuntime().availableProcessors(), Provenance.gitCommit(r), r.relativize(run).toString(),
                manifest.path("wall_seconds").asDouble(), steps, timings, rows, captured, causal);
        Path out = r.resolve("results").resolve("bench").resolve(stamp).resolve("bench.json");
        try {
            ObjectNode json = BenchJson.MAPPER.createObjectNode();
            json.set("v2_scale", BenchJson.tree(res));
            AtomicFiles.writeString(out, BenchJson.MAPPER.writerWithDefaultPrettyPrinter().writeValueAsString(json) + "\n");
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        System.out.println();
        System.out.println("| step | seconds | engine rows | captured prompts |");
        System.out.println("|---|---|---|---|");
        for (Step s : steps)
            System.out.printf(Locale.ROOT, "| %s | %.1f | %d | %d |%n", s.step(), s.seconds(), s.patchedRows(), s.capturedPrompts());
        System.out.println();
        System.out.println("| causal look | heads running | heads stopped after it | engine rows | captured prompts | seconds |");
        System.out.println("|---|---|---|---|---|---|");
        for (Look l : looks)
            System.out.printf(Locale.ROOT, "| %d | %d | %d | %d | %d | %.1f |%n", l.look(), l.headsRunning(), l.headsStopped(),
                    l.engineRows(), l.capturedPrompts(), l.seconds());
        System.out.printf(Locale.ROOT, "%nbench-v2 %s (%dx%d, d %d), seeds %s x %d pairs per family, sequential %s: %.1f s wall "
                        + "in all, load %s -> %s; causal: %d pairs, %d intervention rows (%d without the design), %d of %d heads "
                        + "stopped%nwrote %s%n", model, nLayer, nHead, dModel, counts.seeds(), prompts, sequential,
                res.wallSeconds(), loadStart.split("\\s+")[0], res.loadavgEnd().split("\\s+")[0], causal.pairs(),
                interventions, causal.interventionRowsWithoutDesign(), stopped, causal.heads(), r.relativize(out));
    }

    private static long sum(Map<String, Long> byLabel, String prefix) {
        return byLabel.entrySet().stream().filter(x -> x.getKey().startsWith(prefix)).mapToLong(Map.Entry::getValue).sum();
    }

    private static JsonNode read(Path file) {
        try {
            return BenchJson.MAPPER.readTree(Files.readString(file));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
