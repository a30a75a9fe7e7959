package org.milab.cli;

import org.milab.run.Pipeline;
import org.milab.run.RunConfig;
import org.milab.run.RunContext;
import org.milab.run.RunFolder;
import org.milab.util.UserError;

import org.milab.lab.LabModel;
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
     * (see {@link RunFolder}); a finished run is verified in place and repaired in a copy, never demoted.
     */
    static int run(RootOption root, RunOptions opts, String command, Consumer<Pipeline> body) {
        RunConfig cfg = opts.config(command, root.root());
        Device device = Device.parse(opts.device);
        try (RunFolder folder = RunFolder.acquire(root.root(), cfg.runId(), opts.runId == null)) {
            RunConfig config = cfg.withRunId(folder.id());
            if (folder.finished() && !opts.resume)
                throw new UserError("results/" + folder.id() + " already exists; a run never overwrites another run's outputs.",
                        "Choose another RUN_ID, or pass --resume to verify it and run what it lacks.");
            if (folder.hasUnfinished() && !opts.resume) {
                System.err.println("removing results/" + folder.id() + RunFolder.INCOMPLETE + ", left by an earlier attempt"
                        + " of this run that did not finish (pass --resume to continue it instead)");
                folder.discardUnfinished();
            }
            try (LabModel m = LabModel.open(root.root(), opts.model, device, opts.threads, opts.batchRows,
                    opts.batchRows * 16)) {
                if (folder.finished()) {
                    Optional<Pipeline.Staleness> stale = Pipeline.check(new RunContext(root.root(), config, m, folder.finalDir()), body);
                    if (stale.isEmpty()) {
                        if (folder.hasUnfinished()) folder.discardUnfinished();
                        System.out.println("run " + folder.id() + " is finished and every step of " + command
                                + " is verified up to date (outputs match their sha256); nothing to do");
                        return 0;
                    }
                    Pipeline.Staleness s = stale.get();
                    if (s.reason() == Pipeline.Staleness.Reason.OTHER_INPUTS)
                        throw new UserError("results/" + folder.id() + " is a finished run whose step " + s.step() + " was "
                                + s.detail() + "; resuming it would recompute and replace it, and a finished run is never "
                                + "overwritten.", "Start a new run with another RUN_ID (the finished one stays as it is).");
                    System.err.println("resume: results/" + folder.id() + " is finished, but step " + s.step() + ": "
                            + s.detail() + "; working in results/" + folder.id() + RunFolder.INCOMPLETE
                            + " (the finished run stays in place until the new one is complete)");
                    if (!folder.hasUnfinished()) folder.reopenFinished();
                }
                RunContext ctx = new RunContext(root.root(), config, m);
                Pipeline p = new Pipeline(ctx, opts.resume);
                body.accept(p);
                p.finish("milab " + command + " --model " + opts.model);
                System.out.println("run " + folder.id() + " written to " + root.root().relativize(ctx.finalDir())
                        + " (summary.md, run_manifest.json)");
            }
        }
        return 0;
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
            return run(root, opts, name, part);
        }
    }

    @Command(name = "run-heldout", mixinStandardHelpOptions = true, description = "The reference chain through the held-out robustness pass (S3-S15).")
    public static final class Heldout extends RunCommand {
        public Heldout() {
            super("run-heldout", Pipeline::heldout);
        }
    }

    @Command(name = "run-all", mixinStandardHelpOptions = true, description = "The full progression (S3-S19), resumable: pass --resume and the same --run-id to continue.")
    public static final class All extends RunCommand {
        public All() {
            super("run-all", Pipeline::all);
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
