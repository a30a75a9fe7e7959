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
        if (batchRows < 1) throw new UserError("--batch-rows must be >= 1.", "Pass a positive --batch-rows.");
        return new RunConfig(model, id, controlSeeds == null ? List.of(0, 1, 2) : parse(controlSeeds, "--control-seeds"),
                controlsPerFamily, List.of(0, 1), layerPatchPerFamily, 12, sweepPerFamily,
                seeds == null ? List.of(10, 11, 12) : parse(seeds, "--seeds"), heldoutGenerated, heldoutScored, 20,
                candidates, zeroFrame);
    }

    private static List<Integer> parse(String s, String flag) {
        try {
            return Arrays.stream(s.split(",")).map(String::trim).filter(x -> !x.isEmpty()).map(Integer::parseInt).toList();
        } catch (NumberFormatException e) {
            throw new UserError(flag + " '" + s + "' is not a comma-separated list of integers.", "e.g. " + flag + " 10,11,12");
        }
    }
}
