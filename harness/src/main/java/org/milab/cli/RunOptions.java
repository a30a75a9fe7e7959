package org.milab.cli;

import org.milab.run.RunConfig;
import org.milab.run.RunFolder;

import org.milab.util.UserError;
import picocli.CommandLine.Option;

import java.nio.file.Path;
import java.time.LocalDateTime;
import java.time.format.DateTimeFormatter;
import java.util.Arrays;
import java.util.List;

/** Options shared by the run commands; defaults are the reference protocol's counts. */
public final class RunOptions {
    @Option(names = "--model", defaultValue = "gpt2") String model;
    @Option(names = "--device", defaultValue = "cpu", description = "cpu, cuda or auto") String device;
    @Option(names = "--threads", defaultValue = "0", description = "ORT intra-op threads (0 = ORT default)") int threads;
    @Option(names = "--run-id", description = "results/<run-id>/ (default <model>-<command>-<time>)") String runId;
    @Option(names = "--seeds", description = "held-out seeds, comma separated (default 10,11,12)") String seeds;
    @Option(names = "--control-seeds", description = "controls/sweep seeds (default 0,1,2)") String controlSeeds;
    @Option(names = "--controls-per-family", defaultValue = "32") int controlsPerFamily;
    @Option(names = "--sweep-per-family", defaultValue = "8") int sweepPerFamily;
    @Option(names = "--layer-patch-per-family", defaultValue = "8") int layerPatchPerFamily;
    @Option(names = "--heldout-generated", defaultValue = "24") int heldoutGenerated;
    @Option(names = "--heldout-scored", defaultValue = "12") int heldoutScored;
    @Option(names = "--candidates", description = "pre-registered candidate set file (CSV/JSON) instead of deriving one") Path candidates;
    @Option(names = "--zero-frame", defaultValue = RunConfig.FRAME_TL, description = "zero ablation frame: transformer_lens or raw") String zeroFrame;
    @Option(names = "--batch-rows", defaultValue = "128", description = "rows per ONNX Runtime call") int batchRows;
    @Option(names = "--resume", description = "continue results/<run-id>: steps whose inputs and outputs are unchanged are skipped")
    boolean resume;

    RunConfig config(String command, Path root) {
        String id = runId != null ? runId : model + "-" + command + "-"
                + LocalDateTime.now().format(DateTimeFormatter.ofPattern("yyyyMMdd-HHmmss"));
        RunFolder.requireValidId(id);
        if (runId == null && resume)
            throw new UserError("--resume needs the run to resume.", "Pass --run-id (RUN_ID=...) of the run to continue.");
        bounded("--threads", threads, 0, MAX_THREADS);
        bounded("--batch-rows", batchRows, 1, MAX_BATCH_ROWS);
        bounded("--controls-per-family", controlsPerFamily, 1, MAX_PER_FAMILY);
        bounded("--sweep-per-family", sweepPerFamily, 1, MAX_PER_FAMILY);
        bounded("--layer-patch-per-family", layerPatchPerFamily, 1, MAX_PER_FAMILY);
        bounded("--heldout-generated", heldoutGenerated, 1, MAX_PER_FAMILY);
        bounded("--heldout-scored", heldoutScored, 1, MAX_PER_FAMILY);
        return new RunConfig(model, id, controlSeeds == null ? List.of(0, 1, 2) : parse(controlSeeds, "--control-seeds"),
                controlsPerFamily, List.of(0, 1), layerPatchPerFamily, 12, sweepPerFamily,
                seeds == null ? List.of(10, 11, 12) : parse(seeds, "--seeds"), heldoutGenerated, heldoutScored, 20,
                candidates, zeroFrame);
    }

    /** Bounds of the numeric options: beyond them a run cannot work (int overflow, memory, seed range). */
    static final int MAX_THREADS = 1024, MAX_BATCH_ROWS = 4096, MAX_PER_FAMILY = 10_000, MAX_SEED = 1_000_000_000,
            MAX_SEEDS = 100;

    static void bounded(String flag, long value, long min, long max) {
        if (value < min || value > max)
            throw new UserError(flag + " " + value + " is out of range: it must be between " + min + " and " + max + ".",
                    "Pass a value in that range" + (flag.equals("--batch-rows") ? " (default 128)." : "."));
    }

    private static List<Integer> parse(String s, String flag) {
        List<Integer> seeds;
        try {
            seeds = Arrays.stream(s.split(",")).map(String::trim).filter(x -> !x.isEmpty()).map(Integer::parseInt).toList();
        } catch (NumberFormatException e) {
            throw new UserError(flag + " '" + s + "' is not a comma-separated list of integers.", "e.g. " + flag + " 10,11,12");
        }
        if (seeds.isEmpty() || seeds.size() > MAX_SEEDS)
            throw new UserError(flag + " '" + s + "' must list between 1 and " + MAX_SEEDS + " seeds.", "e.g. " + flag + " 10,11,12");
        if (seeds.stream().distinct().count() != seeds.size())
            throw new UserError(flag + " '" + s + "' repeats a seed.", "List each seed once, e.g. " + flag + " 10,11,12");
        for (int seed : seeds) bounded(flag + " seed", seed, 0, MAX_SEED);
        return seeds;
    }
}
