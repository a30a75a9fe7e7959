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
import java.util.function.Consumer;

/** The run commands: each opens the model, runs a part of the pipeline, and writes the run's manifest. */
public final class RunCommands {
    private RunCommands() {}

    static int run(RootOption root, RunOptions opts, RunOptions.Sweep sweep, RunOptions.Candidates candidates,
                   RunOptions.Heldout heldout, String command, Consumer<Pipeline> body) {
        RunConfig cfg = opts.config(command, root.root(), sweep, candidates, heldout);
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
                opts.batchRows, opts.batchRows * 16, opts.engine.factory())) {
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

    /**
     * A run command: the pipeline part it runs, and the option groups of the stages in that part (a command
     * shows and accepts only the options its stages read).
     */
    abstract static class RunCommand implements Callable<Integer> {
        @Mixin RootOption root;
        @Mixin RunOptions opts;
        private final String name;
        private final Consumer<Pipeline> part;

        RunCommand(String name, Consumer<Pipeline> part) {
            this.name = name;
            this.part = part;
        }

        RunOptions.Sweep sweep() {
            return null;
        }

        RunOptions.Candidates candidates() {
            return null;
        }

        RunOptions.Heldout heldout() {
            return null;
        }

        @Override
        public Integer call() {
            return run(root, opts, sweep(), candidates(), heldout(), name, part());
        }

        /** The pipeline part to run (commands with their own options build it when called). */
        Consumer<Pipeline> part() {
            return part;
        }
    }

    /** Runs S3-S12: takes the sweep options. */
    abstract static class SweepRun extends RunCommand {
        @Mixin RunOptions.Sweep sweep;

        SweepRun(String name, Consumer<Pipeline> part) {
            super(name, part);
        }

        @Override
        RunOptions.Sweep sweep() {
            return sweep;
        }
    }

    /** Also registers candidates (S13) and ablates with them: takes --candidates and --zero-frame. */
    abstract static class CandidateRun extends SweepRun {
        @Mixin RunOptions.Candidates candidates;

        CandidateRun(String name, Consumer<Pipeline> part) {
            super(name, part);
        }

        @Override
        RunOptions.Candidates candidates() {
            return candidates;
        }
    }

    /** Also runs the held-out pass (S14-S15): takes the held-out options. */
    abstract static class HeldoutRun extends CandidateRun {
        @Mixin RunOptions.Heldout heldout;

        HeldoutRun(String name, Consumer<Pipeline> part) {
            super(name, part);
        }

        @Override
        RunOptions.Heldout heldout() {
            return heldout;
        }
    }

    @Command(name = "run-sweep", mixinStandardHelpOptions = true, sortOptions = false,
            description = "The controls runs, layer-level patching and the head-specific hook_z sweep over seeds (S3-S12).")
    public static final class Sweep extends SweepRun {
        public Sweep() {
            super("run-sweep", Pipeline::sweep);
        }
    }

    @Command(name = "run-heldout", mixinStandardHelpOptions = true, sortOptions = false,
            description = "The reference chain through the held-out robustness pass and its counterexamples (S3-S15).")
    public static final class Heldout extends HeldoutRun {
        public Heldout() {
            super("run-heldout", Pipeline::heldout);
        }
    }

    @Command(name = "run-all", mixinStandardHelpOptions = true, sortOptions = false,
            description = "The full progression (S3-S19), then protocol v2 and a per-head table of both protocols' "
                    + "verdicts; resumable: the same --run-id with --resume continues it.")
    public static final class All extends HeldoutRun {
        @Mixin V2Options v2;

        public All() {
            super("run-all", null);
        }

        @Override
        Consumer<Pipeline> part() {
            V2Protocol.Counts counts = v2.counts();
            return p -> p.allWithV2(counts);
        }
    }

    @Command(name = "run-v2", mixinStandardHelpOptions = true, sortOptions = false, description = "Protocol v2: a pre-registered induction-circuit "
            + "protocol over every head (attention, copying, ablations, denoising, group ablation, composition) with "
            + "bootstrap CIs, Holm-corrected tests and verdicts; writes results/<run>/v2/. Resumable like run-all.")
    public static final class V2 extends RunCommand {
        @Mixin V2Options v2;

        public V2() {
            super("run-v2", null);
        }

        @Override
        Consumer<Pipeline> part() {
            V2Protocol.Counts counts = v2.counts();
            return p -> p.v2(counts);
        }
    }

    @Command(name = "run-characterization", mixinStandardHelpOptions = true, sortOptions = false,
            description = {"Candidate characterization, its counterexamples and the failure taxonomy (S13, S16-S18).",
                    "Models other than gpt2 derive their candidates from the sweep (S3-S12 run first) unless --candidates is given."})
    public static final class Characterization extends CandidateRun {
        public Characterization() {
            super("run-characterization", Pipeline::characterization);
        }
    }

    @Command(name = "run-calibration", mixinStandardHelpOptions = true, sortOptions = false,
            description = "Metric calibration on the deterministic 72-row bank (S19); needs only the exported model.")
    public static final class Calibration extends RunCommand {
        public Calibration() {
            super("run-calibration", Pipeline::calibration);
        }
    }
}
