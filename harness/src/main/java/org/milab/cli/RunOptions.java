package org.milab.cli;

import org.milab.stage.RunConfig;
import org.milab.run.RunDir;

import org.milab.util.UserError;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

import java.nio.file.Path;
import java.time.LocalDateTime;
import java.time.format.DateTimeFormatter;
import java.util.List;

/**
 * Options every run command takes. The protocol knobs come in groups ({@link Sweep}, {@link Candidates},
 * {@link Heldout}) that a command mixes in only when it runs the stages that read them, so
 * {@code run-calibration --help} lists only what calibration uses. Defaults are the reference protocol's
 * counts; a group a command does not take keeps them.
 */
public final class RunOptions {
    @Option(names = "--model", defaultValue = "gpt2", order = 1,
            description = "Exported model under graphs/: gpt2, planted-induction, or the name you exported. Default: ${DEFAULT-VALUE}.")
    String model;
    @Option(names = "--device", defaultValue = "cpu", order = 2,
            description = "cpu, cuda (needs the -Pcuda build, make DEVICE=cuda) or auto (CUDA if it works, else CPU, "
                    + "recorded in the manifest). Default: ${DEFAULT-VALUE}.")
    String device;
    @Option(names = "--threads", defaultValue = "0", order = 3,
            description = "ONNX Runtime intra-op threads; 0 means one per processor the JVM sees (not ONNX Runtime's own default, which can count one core on a 2-core machine). Default: ${DEFAULT-VALUE}.")
    int threads;
    @Option(names = "--run-id", order = 4,
            description = "Folder name under results/ (letters, digits, . _ -). Default: <model>-<command>-<yyyyMMdd-HHmmss>.")
    String runId;
    @Option(names = "--resume", order = 5,
            description = "Continue results/<run-id>: steps whose inputs and outputs are unchanged are skipped, the rest "
                    + "run again. Needs --run-id.")
    boolean resume;
    @Option(names = "--batch-rows", defaultValue = "128", order = 6,
            description = "Rows (patched prompts) per ONNX Runtime call; changes speed and memory, never results. "
                    + "Default: ${DEFAULT-VALUE}.")
    int batchRows;
    @Mixin EngineOptions engine;

    /** S3-S12: the controls sets, layer patching and the head sweep. */
    public static final class Sweep {
        @Option(names = "--control-seeds", order = 10,
                description = "Seeds of the controls sets and the head sweep (S3-S12), comma separated. Default: ${DEFAULT-VALUE}.")
        String controlSeeds = "0,1,2";
        @Option(names = "--controls-per-family", order = 11,
                description = "Prompts generated per control family (S3, S5, S6). Default: ${DEFAULT-VALUE}.")
        int controlsPerFamily = 32;
        @Option(names = "--layer-patch-per-family", order = 12,
                description = "Examples per family scored by layer-level patching (S9). Default: ${DEFAULT-VALUE}.")
        int layerPatchPerFamily = 8;
        @Option(names = "--sweep-per-family", order = 13,
                description = "Examples per family scored by the head-specific sweep (S11). Default: ${DEFAULT-VALUE}.")
        int sweepPerFamily = 8;
    }

    /** S13 on: which heads are pre-registered, and the zero-ablation frame of the held-out and later passes. */
    public static final class Candidates {
        @Option(names = "--candidates", paramLabel = "FILE", order = 20,
                description = "Pre-registered candidate set (CSV or JSON with layer, head) instead of deriving one from "
                        + "the sweep (GPT-2 default: the reference's 16 heads).")
        Path candidates;
        @Option(names = "--zero-frame", order = 21,
                description = "Zero ablation in the transformer_lens frame (the reference's meaning: z := bV_eff) or "
                        + "the raw frame (z := 0). Default: ${DEFAULT-VALUE}.")
        String zeroFrame = RunConfig.FRAME_TL;
    }

    /** S14-S15: the held-out robustness pass. */
    public static final class Heldout {
        @Option(names = "--seeds", order = 30,
                description = "Held-out seeds (S14), comma separated. Default: ${DEFAULT-VALUE}.")
        String seeds = "10,11,12";
        @Option(names = "--heldout-generated", order = 31,
                description = "Held-out prompts generated per family. Default: ${DEFAULT-VALUE}.")
        int heldoutGenerated = 24;
        @Option(names = "--heldout-scored", order = 32,
                description = "Held-out prompts scored per family (at most --heldout-generated). Default: ${DEFAULT-VALUE}.")
        int heldoutScored = 12;
    }

    /** The run's config; a null group means the command does not take it (its stages use the defaults). */
    RunConfig config(String command, Path root, Sweep sweep, Candidates candidates, Heldout heldout) {
        String id = runId != null ? runId : model + "-" + command + "-"
                + LocalDateTime.now().format(DateTimeFormatter.ofPattern("yyyyMMdd-HHmmss"));
        RunDir.requireValidId(id);
        if (runId == null && resume)
            throw new UserError("--resume needs the run to resume.", "Pass --run-id (RUN_ID=...) of the run to continue.");
        OptionChecks.bounded("--threads", threads, 0, OptionChecks.MAX_THREADS);
        OptionChecks.bounded("--batch-rows", batchRows, 1, OptionChecks.MAX_BATCH_ROWS);
        // a group's field initializers are its defaults (picocli shows them), so an absent group means defaults
        Sweep s = sweep != null ? sweep : new Sweep();
        Candidates c = candidates != null ? candidates : new Candidates();
        Heldout h = heldout != null ? heldout : new Heldout();
        OptionChecks.bounded("--controls-per-family", s.controlsPerFamily, 1, OptionChecks.MAX_PER_FAMILY);
        OptionChecks.bounded("--sweep-per-family", s.sweepPerFamily, 1, OptionChecks.MAX_PER_FAMILY);
        OptionChecks.bounded("--layer-patch-per-family", s.layerPatchPerFamily, 1, OptionChecks.MAX_PER_FAMILY);
        OptionChecks.bounded("--heldout-generated", h.heldoutGenerated, 1, OptionChecks.MAX_PER_FAMILY);
        OptionChecks.bounded("--heldout-scored", h.heldoutScored, 1, OptionChecks.MAX_PER_FAMILY);
        return new RunConfig(model, id, OptionChecks.seeds("--control-seeds", s.controlSeeds, "--control-seeds 0,1,2"), s.controlsPerFamily, List.of(0, 1),
                s.layerPatchPerFamily, 12, s.sweepPerFamily, OptionChecks.seeds("--seeds", h.seeds, "--seeds 10,11,12"), h.heldoutGenerated,
                h.heldoutScored, 20, c.candidates, c.zeroFrame);
    }
}
