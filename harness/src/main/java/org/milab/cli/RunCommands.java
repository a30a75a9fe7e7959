package org.milab.cli;

import org.milab.run.InputChecks;
import org.milab.run.Pipeline;
import org.milab.stage.RunConfig;
import org.milab.run.RunContext;
import org.milab.run.RunDir;
import org.milab.util.UserError;

import org.milab.lab.LabModel;
import org.milab.protocol.v2.V2Protocol;
import org.milab.runtime.Device;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;

import java.util.Optional;
import java.util.concurrent.Callable;
import java.util.function.Consumer;

/** The run commands: each opens the model, runs a part of the pipeline, and writes the run's manifest. */
public final class RunCommands {
    private RunCommands() {}

    /**
     * Every option is checked before any folder is touched; the run folder is locked for the whole command
     * (see {@link RunDir}); a finished run is verified in place and repaired in a copy, never demoted.
     */
    static int run(RootOption root, RunOptions opts, RunOptions.Sweep sweep, RunOptions.Candidates candidates,
                   RunOptions.Heldout heldout, V2Protocol.Counts v2, String command, Consumer<Pipeline> body) {
        RunConfig cfg = opts.config(command, root.root(), sweep, candidates, heldout);
        Device device = Device.parse(opts.device);
        requireResources(root, opts.model, cfg, v2, command);
        // the model and every input file are checked before the run folder is touched
        try (LabModel m = LabModel.open(root.root(), opts.model, device, opts.threads, opts.batchRows, opts.batchRows * 16,
                opts.engine.factory())) {
            boolean characterizes = command.equals("run-all") || command.equals("run-characterization");
            boolean heldoutPass = command.equals("run-heldout") || command.equals("run-all");
            // run-characterization runs the sweep first for a derived candidate set (Pipeline.characterization)
            boolean sweeps = heldoutPass || command.equals("run-sweep") || (command.equals("run-characterization")
                    && !cfg.modelId().equals("gpt2") && cfg.candidateFile() == null);
            InputChecks.candidates(cfg, m.config(), m.id(), characterizes);
            InputChecks.prompts(cfg, m, new InputChecks.PromptSets(sweeps, heldoutPass, characterizes));
            return inRunFolder(root, m, cfg, opts.runId == null, opts.resume, command, "milab " + command + " --model " + opts.model, body);
        }
    }

    /**
     * The run folder's life for any run command: locked for the whole command, a finished run verified in place
     * (nothing to do when every step is up to date) and repaired in a copy, never overwritten or demoted; an
     * unfinished attempt continued with {@code resume}, else discarded. {@code body} adds the command's steps.
     */
    static int inRunFolder(RootOption root, LabModel m, RunConfig cfg, boolean defaultId, boolean resume, String command,
                           String commandLine, Consumer<Pipeline> body) {
        try (RunDir folder = RunDir.acquire(root.root(), cfg.runId(), defaultId)) {
            RunConfig config = cfg.withRunId(folder.id());
            if (folder.finished() && !resume)
                throw new UserError("results/" + folder.id() + " already exists; a run never overwrites another run's outputs.",
                        "Choose another RUN_ID, or pass --resume to verify it and run what it lacks.");
            if (folder.hasUnfinished() && !resume) {
                System.err.println("removing results/" + folder.id() + RunDir.INCOMPLETE + ", left by an earlier attempt"
                        + " of this run that did not finish (pass --resume to continue it instead)");
                folder.discardUnfinished();
            }
            if (folder.finished()) {
                Optional<Pipeline.Staleness> stale = Pipeline.check(new RunContext(root.root(), config, m, folder.finalDir()), body);
                if (stale.isEmpty()) {
                    if (folder.hasUnfinished()) folder.discardUnfinished();
                    System.out.println("run " + folder.id() + " is finished and every step of " + command
                            + " is verified up to date (outputs match their sha256); nothing to do");
                    return 0;
                }
                Pipeline.Staleness st = stale.get();
                if (st.reason() == Pipeline.Staleness.Reason.OTHER_INPUTS)
                    throw new UserError("results/" + folder.id() + " is a finished run whose step " + st.step() + " was "
                            + st.detail() + "; resuming it would recompute and replace it, and a finished run is never "
                            + "overwritten.", "Start a new run with another RUN_ID (the finished one stays as it is).");
                System.err.println("resume: results/" + folder.id() + " is finished, but step " + st.step() + ": "
                        + st.detail() + "; working in results/" + folder.id() + RunDir.INCOMPLETE
                        + " (the finished run stays in place until the new one is complete)");
                if (!folder.hasUnfinished()) folder.reopenFinished();
            }
            RunContext ctx = new RunContext(root.root(), config, m);
            Pipeline p = new Pipeline(ctx, resume);
            body.accept(p);
            p.finish(commandLine);
            printVerdict(root.root(), ctx.finalDir());
            System.out.println("run " + folder.id() + " written to " + root.root().relativize(ctx.finalDir())
                    + " (report.html, summary.md, run_manifest.json)");
        }
        return 0;
    }

    /** The counts' memory and time, estimated from the exported model's shape before it is opened. */
    private static void requireResources(RootOption root, String model, RunConfig cfg, V2Protocol.Counts v2, String command) {
        org.milab.model.ModelConfig c = ResourceEstimate.configOf(root.root(), model);
        if (c == null) return; // not exported: opening it says so
        boolean sweeps = !command.equals("run-calibration") && !command.equals("run-v2");
        boolean heldoutPass = command.equals("run-heldout") || command.equals("run-all");
        ResourceEstimate.Need need = ResourceEstimate.reference(c, sweeps ? cfg.controlSeeds().size() : 0,
                sweeps ? cfg.controlsPerFamily() : 0, sweeps ? cfg.sweepPerFamily() : 0,
                heldoutPass ? cfg.heldoutSeeds().size() : 0, heldoutPass ? cfg.heldoutGenerated() : 0,
                heldoutPass ? cfg.heldoutScored() : 0);
        RunConfig d = RunConfig.reference(model, cfg.runId());
        java.util.List<ResourceEstimate.Count> counts = new java.util.ArrayList<>(java.util.List.of(
                new ResourceEstimate.Count("--controls-per-family", cfg.controlsPerFamily(), d.controlsPerFamily()),
                new ResourceEstimate.Count("--sweep-per-family", cfg.sweepPerFamily(), d.sweepPerFamily()),
                new ResourceEstimate.Count("--heldout-generated", cfg.heldoutGenerated(), d.heldoutGenerated()),
                new ResourceEstimate.Count("--heldout-scored", cfg.heldoutScored(), d.heldoutScored())));
        if (!sweeps) counts.clear();
        if (v2 != null) {
            need = need.plus(V2Options.need(c, v2));
            counts.addAll(0, java.util.List.of(V2Options.named(v2)));
        }
        if (!counts.isEmpty()) ResourceEstimate.require(command, c, need, counts.toArray(ResourceEstimate.Count[]::new));
    }

    /** The answer first: the verdict lines of summary.md, on the terminal. */
    static void printVerdict(java.nio.file.Path root, java.nio.file.Path run) {
        System.out.println();
        org.milab.report.VerdictMarkdown.opening(org.milab.report.RunVerdict.read(root, new org.milab.stage.RunFolder(run)))
                .forEach(System.out::println);
        System.out.println();
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
            return run(root, opts, sweep(), candidates(), heldout(), v2Counts(), name, part());
        }

        /** Protocol v2's counts, for commands that run it (checked against memory and time before the run). */
        V2Protocol.Counts v2Counts() {
            return null;
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
        V2Protocol.Counts v2Counts() {
            return v2.counts();
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
        V2Protocol.Counts v2Counts() {
            return v2.counts();
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
