package org.milab.cli;

import org.milab.run.Pipeline;
import org.milab.run.RunConfig;
import org.milab.run.RunContext;

import org.milab.lab.LabModel;
import org.milab.protocol.v2.V2Protocol;
import org.milab.runtime.Device;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;

import java.util.concurrent.Callable;
import java.util.function.BiConsumer;
import java.util.function.Consumer;

/** The run commands: each opens the model, runs a part of the pipeline, and writes the run's manifest. */
public final class RunCommands {
    private RunCommands() {}

    static int run(RootOption root, RunOptions opts, String command, Consumer<Pipeline> body) {
        RunConfig cfg = opts.config(command, root.root());
        java.nio.file.Path stale = root.root().resolve("results").resolve(cfg.runId() + RunContext.INCOMPLETE);
        java.nio.file.Path done = root.root().resolve("results").resolve(cfg.runId());
        if (opts.resume) {
            // a finished run is re-verified step by step, then renamed back by finish()
            if (java.nio.file.Files.exists(done) && !java.nio.file.Files.exists(stale)) moveQuietly(done, stale);
        } else if (java.nio.file.Files.exists(stale)) {
            System.err.println("removing " + stale + " left by an earlier attempt of this run that did not finish"
                    + " (pass --resume to continue it instead)");
            org.milab.util.FileTrees.delete(stale);
        }
        try (LabModel m = LabModel.open(root.root(), opts.model, Device.parse(opts.device), opts.threads,
                opts.batchRows, opts.batchRows * 16)) {
            RunContext ctx = new RunContext(root.root(), cfg, m);
            Pipeline p = new Pipeline(ctx, opts.resume);
            body.accept(p);
            p.finish("milab " + command + " --model " + opts.model);
            printVerdict(root.root(), ctx.finalDir());
            System.out.println("run " + cfg.runId() + " written to " + root.root().relativize(ctx.finalDir())
                    + " (report.html, summary.md, run_manifest.json)");
        }
        return 0;
    }

    /** The answer first: the verdict lines of summary.md, on the terminal. */
    static void printVerdict(java.nio.file.Path root, java.nio.file.Path run) {
        System.out.println();
        org.milab.report.VerdictMarkdown.opening(org.milab.report.RunVerdict.read(root, new org.milab.report.RunFolder(run)))
                .forEach(System.out::println);
        System.out.println();
    }

    private static void moveQuietly(java.nio.file.Path from, java.nio.file.Path to) {
        try {
            org.milab.util.AtomicFiles.moveAtomically(from, to);
        } catch (java.io.IOException e) {
            throw new java.io.UncheckedIOException("Cannot reopen " + from + " for resuming", e);
        }
    }

    /** A run command: the pipeline part it runs is all that differs. */
    abstract static class RunCommand implements Callable<Integer> {
        @Mixin RootOption root;
        @Mixin RunOptions opts;
        private final String name;
        private final Consumer<Pipeline> part;

        RunCommand(String name, Consumer<Pipeline> part) {
            this.name = name;
            this.part = part;
        }

        @Override
        public Integer call() {
            return run(root, opts, name, part());
        }

        /** The pipeline part to run (commands with their own options build it when called). */
        Consumer<Pipeline> part() {
            return part;
        }
    }

    @Command(name = "run-heldout", mixinStandardHelpOptions = true, description = "The reference chain through the held-out robustness pass (S3-S15).")
    public static final class Heldout extends RunCommand {
        public Heldout() {
            super("run-heldout", Pipeline::heldout);
        }
    }

    /** A run command that also runs protocol v2 with the counts of its {@code --v2-*} options. */
    abstract static class WithV2 extends RunCommand {
        @Mixin V2Options v2;
        private final BiConsumer<Pipeline, V2Protocol.Counts> withCounts;

        WithV2(String name, BiConsumer<Pipeline, V2Protocol.Counts> withCounts) {
            super(name, null);
            this.withCounts = withCounts;
        }

        @Override
        Consumer<Pipeline> part() {
            V2Protocol.Counts counts = v2.counts();
            return p -> withCounts.accept(p, counts);
        }
    }

    @Command(name = "run-all", mixinStandardHelpOptions = true, description = "The full reference progression (S3-S19), then "
            + "protocol v2 and a per-head table of both protocols' verdicts; resumable: pass --resume and the same --run-id to continue.")
    public static final class All extends WithV2 {
        public All() {
            super("run-all", Pipeline::allWithV2);
        }
    }

    @Command(name = "run-v2", mixinStandardHelpOptions = true, description = "Protocol v2: a pre-registered induction-circuit "
            + "protocol over every head (attention, copying, ablations, denoising, group ablation, composition) with "
            + "bootstrap CIs, Holm-corrected tests and verdicts; writes results/<run>/v2/. Resumable like run-all.")
    public static final class V2 extends WithV2 {
        public V2() {
            super("run-v2", Pipeline::v2);
        }
    }

    @Command(name = "run-characterization", mixinStandardHelpOptions = true, description = "Candidate characterization, its counterexamples and the failure taxonomy (S13, S16-S18).")
    public static final class Characterization extends RunCommand {
        public Characterization() {
            super("run-characterization", Pipeline::characterization);
        }
    }

    @Command(name = "run-calibration", mixinStandardHelpOptions = true, description = "Metric calibration on the deterministic 72-row bank (S19).")
    public static final class Calibration extends RunCommand {
        public Calibration() {
            super("run-calibration", Pipeline::calibration);
        }
    }

    @Command(name = "run-sweep", mixinStandardHelpOptions = true, description = "The controls runs and the head-specific hook_z sweep over seeds (S3-S12).")
    public static final class Sweep extends RunCommand {
        public Sweep() {
            super("run-sweep", Pipeline::sweep);
        }
    }
}
