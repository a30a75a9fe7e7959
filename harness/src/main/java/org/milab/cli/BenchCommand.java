package org.milab.cli;

import org.milab.bench.BenchJson;
import org.milab.bench.BenchPlan;
import org.milab.bench.BenchRun;
import org.milab.bench.BenchSettings;
import org.milab.protocol.reference.HeldoutMatrix;
import org.milab.util.AtomicFiles;
import org.milab.util.UserError;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.util.Set;
import java.util.concurrent.Callable;

/**
 * Throughput benchmarks (never timed tests; the workloads are the bench package's): rates beside ratios and
 * fractions of the MatMul ceiling measured in the same run. Prints tables and writes the same numbers to
 * results/bench/<time>/bench.json.
 */
@Command(name = "bench", mixinStandardHelpOptions = true, description = "Measure forward and patching throughput.")
public final class BenchCommand implements Callable<Integer> {
    @Mixin RootOption root;
    @Option(names = "--model", defaultValue = "gpt2-random",
            description = "Exported model to time (make bench exports a GPT-2-small-shaped random one). Default: ${DEFAULT-VALUE}.")
    String model;
    @Option(names = "--threads", defaultValue = "0",
            description = "ONNX Runtime intra-op threads, and the same number for the peer's torch and the library ceilings; 0 means one per processor. Default: ${DEFAULT-VALUE}.")
    int threads;
    @Option(names = "--batch", defaultValue = "32", description = "Prompts per forward call. Default: ${DEFAULT-VALUE}.") int batch;
    @Option(names = "--tokens", defaultValue = "24", description = "Tokens per prompt. Default: ${DEFAULT-VALUE}.") int tokens;
    @Option(names = "--repeats", defaultValue = "5", description = "Timed forward calls (after 2 warm-up calls). Default: ${DEFAULT-VALUE}.")
    int repeats;
    @Option(names = "--patch-sample", defaultValue = "2",
            description = "Candidates timed at batch 1 (the slow baseline). Default: ${DEFAULT-VALUE}.")
    int patchSample;
    @Option(names = "--candidates", defaultValue = "16",
            description = "Held-out candidates (heads) in the matrix, 1-16. Default: ${DEFAULT-VALUE}.")
    int candidates;
    @Option(names = "--rounds", defaultValue = "1",
            description = "Held-out rounds; the engine paths alternate within each. Default: ${DEFAULT-VALUE}.")
    int rounds;
    @Option(names = "--batch-rows", defaultValue = "128",
            description = "Rows per ONNX Runtime call of the batched engine. Default: ${DEFAULT-VALUE}.") int batchRows;
    @Option(names = "--engine-path", defaultValue = "both",
            description = "Held-out engine rows: minimal (FLOP-minimal recompute), legacy (suffix recompute, the "
                    + "previous engine), both, timed alternately in one run, or resume (minimal alternating with the "
                    + "whole-block resume path the reference protocol keeps). Default: ${DEFAULT-VALUE}.")
    String enginePath;
    @Option(names = "--skip-patching", description = "Only the forward benchmark.") boolean skipPatching;
    @Option(names = "--skip-attribution", description = "No attribution-patching benchmark.") boolean skipAttribution;
    @Option(names = "--attribution-pairs", defaultValue = "32",
            description = "Clean/corrupt pairs of the attribution-patching benchmark. Default: ${DEFAULT-VALUE}.")
    int attributionPairs;
    @Option(names = "--attribution-exact-pairs", defaultValue = "4",
            description = "Pairs the exact all-heads-all-positions sweep is timed on (scaled to --attribution-pairs). "
                    + "Default: ${DEFAULT-VALUE}.")
    int attributionExactPairs;
    @Option(names = "--skip-scaling", description = "no scaling table") boolean skipScaling;
    @Option(names = "--skip-whole", description = "no (a) and (b0) rows (they take the longest)") boolean skipWhole;
    @Option(names = "--tuning", description = "also time ORT session options one by one on a fixed workload")
    boolean tuningSweep;
    @Option(names = "--tuning-rounds", defaultValue = "3", description = "Alternating rounds of the --tuning sweep. Default: ${DEFAULT-VALUE}.") int tuningRounds;
    @Option(names = "--profile", description = "also break ORT time down by operator (capture forward and the engine)")
    boolean profile;
    @Option(names = "--peer-python", description = "A Python with torch and onnxruntime (make bench-peer-venv): runs the "
            + "TransformerLens-style PyTorch peer right after the engine, and the MatMul ceiling through ORT's Python API "
            + "and PyTorch.") String peerPython;
    @Option(names = "--peer-checkpoint", description = "The safetensors checkpoint the model was exported from (the peer "
            + "loads it; its sha256 must match the export's).") Path peerCheckpoint;

    @Override
    public Integer call() {
        if (!Set.of("both", "minimal", "legacy", "resume").contains(enginePath))
            throw new UserError("--engine-path " + enginePath + " is not known.", "Use minimal, legacy, both or resume.");
        if (candidates < 1 || candidates > HeldoutMatrix.REFERENCE_HEADS.size())
            throw new UserError("--candidates " + candidates + " is outside 1-16.", "Give 1 to 16 candidates.");
        OptionChecks.bounded("--threads", threads, 0, OptionChecks.MAX_THREADS);
        OptionChecks.bounded("--batch", batch, 1, OptionChecks.MAX_BATCH_ROWS);
        OptionChecks.bounded("--tokens", tokens, 2, 1024); // GPT-2's n_positions
        OptionChecks.bounded("--repeats", repeats, 1, 1000);
        OptionChecks.bounded("--patch-sample", patchSample, 0, HeldoutMatrix.REFERENCE_HEADS.size());
        OptionChecks.bounded("--rounds", rounds, 1, 100);
        OptionChecks.bounded("--batch-rows", batchRows, 1, OptionChecks.MAX_BATCH_ROWS);
        OptionChecks.bounded("--attribution-pairs", attributionPairs, 1, 10_000);
        OptionChecks.bounded("--attribution-exact-pairs", attributionExactPairs, 1, attributionPairs);
        OptionChecks.bounded("--tuning-rounds", tuningRounds, 1, 100);
        if (peerPython != null && (peerCheckpoint == null || !Files.isRegularFile(peerCheckpoint)))
            throw new UserError("--peer-python needs --peer-checkpoint, the safetensors file the model was exported from"
                    + (peerCheckpoint == null ? "." : " (" + peerCheckpoint + " does not exist)."),
                    "make bench passes graphs/.bench-checkpoint/model.safetensors; give that file.");
        if (peerCheckpoint != null && peerPython == null)
            throw new UserError("--peer-checkpoint is read only by the PyTorch peer, which runs with --peer-python.",
                    "Add --peer-python (make bench-peer-venv builds .venv-peer/bin/python) or drop --peer-checkpoint.");
        if (peerPython != null && !runnable(peerPython))
            throw new UserError("--peer-python " + peerPython + " is not an executable file (nor a command on PATH).",
                    "Run make bench-peer-venv and pass .venv-peer/bin/python, or run make bench with NO_PEER=1.");
        if (peerPython != null && enginePath.equals("legacy"))
            throw new UserError("The peer is compared with the engine's minimal path, which --engine-path legacy skips.",
                    "Use --engine-path minimal or both with --peer-python.");
        Instant started = Instant.now();
        Path out = root.root().resolve("results").resolve("bench")
                .resolve(DateTimeFormatter.ofPattern("yyyyMMdd-HHmmss").withZone(ZoneOffset.UTC).format(started));
        BenchPlan plan = new BenchPlan(new BenchSettings(root.root(), model, threads, batchRows), batch, tokens, repeats,
                patchSample, candidates, rounds, enginePath, skipPatching, skipWhole, skipAttribution, attributionPairs,
                attributionExactPairs, skipScaling, tuningSweep, tuningRounds, profile, peerPython, peerCheckpoint);
        try {
            var report = new BenchRun(plan, out.resolve("work")).run(started);
            AtomicFiles.writeString(out.resolve("bench.json"), BenchJson.MAPPER.writeValueAsString(report) + "\n");
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        System.out.println();
        System.out.println("wrote " + root.root().relativize(out.resolve("bench.json")));
        return 0;
    }

    /** A path to an executable, or a bare command name found on PATH (checked before the engine's minutes). */
    private static boolean runnable(String python) {
        if (python.contains("/")) return Files.isExecutable(Path.of(python)) && Files.isRegularFile(Path.of(python));
        String path = System.getenv().getOrDefault("PATH", "");
        for (String dir : path.split(java.io.File.pathSeparator))
            if (!dir.isEmpty() && Files.isExecutable(Path.of(dir, python))) return true;
        return false;
    }
}
