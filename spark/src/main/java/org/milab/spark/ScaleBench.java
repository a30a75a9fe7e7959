package org.milab.spark;

import org.milab.protocol.reference.HeldoutMatrix;
import org.milab.lab.EngineFactory;
import org.milab.graph.Head;
import org.milab.protocol.reference.HeadPatching;
import org.milab.lab.LabModel;
import org.milab.stage.RunConfig;
import org.milab.run.RunContext;
import org.milab.runtime.Device;
import org.milab.util.FileTrees;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.Callable;

/**
 * The scale benchmark (not a test): the held-out patching matrix over every head (or the first
 * {@code --heads-per-layer} of each layer), final and previous-occurrence positions, every scored held-out
 * prompt, for each seed, through HeadPatching, once with the local engine and once on Spark; rates, the
 * Spark/local ratio, and whether the two gave the same numbers.
 */
@Command(name = "bench-spark", mixinStandardHelpOptions = true, description = "Local engine vs Spark on the held-out sweep.")
public final class ScaleBench implements Callable<Integer> {
    @Option(names = "--root", defaultValue = ".") Path root;
    @Option(names = "--model", defaultValue = "gpt2-random") String model;
    @Option(names = "--seeds", defaultValue = "10,11,12", split = ",") List<Integer> seeds;
    @Option(names = "--heads-per-layer", description = "first N heads of every layer (default: all)") Integer headsPerLayer;
    @Option(names = "--spark-master", defaultValue = "local[2]") String master;
    @Option(names = "--partition-rows", defaultValue = "" + SparkEngine.DEFAULT_PARTITION_ROWS) int partitionRows;
    @Option(names = "--batch-rows", defaultValue = "128") int batchRows;
    @Option(names = "--threads", defaultValue = "0", description = "ORT threads of the local engine (0 = one per processor)") int threads;

    public static void main(String[] args) {
        System.exit(org.milab.util.CommandFailures.execute(new ScaleBench(), args)); // bad input: one line, exit 2
    }

    record Timing(String engine, double openSeconds, double runSeconds, int interventions, List<HeadPatching.Result> results,
                  Map<String, Object> described) {}

    @Override
    public Integer call() {
        Path base = root.toAbsolutePath().normalize();
        Timing local = time("local", EngineFactory.LOCAL, base);
        Timing spark = time("spark " + master, new SparkEngineProvider().factory(
                Map.of("master", master, "partition_rows", Integer.toString(partitionRows))), base);
        boolean same = local.results().size() == spark.results().size();
        for (int i = 0; same && i < local.results().size(); i++)
            same = Objects.equals(local.results().get(i).patchedScore(), spark.results().get(i).patchedScore())
                    && Objects.equals(local.results().get(i).effectSize(), spark.results().get(i).effectSize());
        System.out.println();
        System.out.printf(Locale.ROOT, "| engine (%s, seeds %s, heads: %s) | interventions | start s | run s | interventions/s |%n",
                model, seeds, headsPerLayer == null ? "all" : headsPerLayer + " per layer");
        System.out.println("|---|---|---|---|---|");
        for (Timing t : List.of(local, spark))
            System.out.printf(Locale.ROOT, "| %s | %d | %.1f | %.1f | %.1f |%n", t.engine(), t.interventions(), t.openSeconds(),
                    t.runSeconds(), t.interventions() / t.runSeconds());
        System.out.printf(Locale.ROOT, "| Spark / local, same run | | | %.2fx time | %.2fx rate |%n",
                spark.runSeconds() / local.runSeconds(), local.runSeconds() / spark.runSeconds());
        System.out.println();
        System.out.println("patched scores and effect sizes bit-identical to the local engine: " + same);
        System.out.println("spark engine: " + spark.described());
        return same ? 0 : 1;
    }

    private Timing time(String name, EngineFactory engines, Path base) {
        Path tmp;
        try {
            tmp = Files.createTempDirectory("milab-bench-spark");
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        long t0 = System.nanoTime();
        try (LabModel m = LabModel.open(base, model, Device.CPU, threads, batchRows, batchRows * 16, engines)) {
            double open = (System.nanoTime() - t0) / 1e9;
            int nHead = m.config().nHead();
            List<Head> heads = new ArrayList<>();
            for (int l = 0; l < m.config().nLayer(); l++)
                for (int h = 0; h < (headsPerLayer == null ? nHead : Math.min(headsPerLayer, nHead)); h++) heads.add(new Head(l, h));
            RunContext ctx = new RunContext(tmp, RunConfig.reference(model, "bench-spark"), m);
            List<HeadPatching.Result> results = new ArrayList<>();
            long t1 = System.nanoTime();
            for (int seed : seeds) results.addAll(HeadPatching.run(ctx, HeldoutMatrix.jobs(seed, heads), name + " seed " + seed));
            double run = (System.nanoTime() - t1) / 1e9;
            Map<String, Object> described = new java.util.LinkedHashMap<>(m.engine().describe());
            described.remove("jobs");
            return new Timing(name, open, run, results.size(), results, described);
        } finally {
            FileTrees.delete(tmp);
        }
    }
}
