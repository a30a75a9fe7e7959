package org.milab.cli;

import org.milab.circuit.BuiltinTasks;
import org.milab.circuit.CircuitConfig;
import org.milab.circuit.CircuitTask;
import org.milab.lab.LabModel;
import org.milab.stage.RunConfig;
import org.milab.run.RunDir;
import org.milab.util.UserError;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

import java.nio.file.Path;
import java.util.concurrent.Callable;

/** {@code make circuit}: edge attribution, circuits and exact faithfulness curves for a task file or a built-in task. */
@Command(name = "circuit", mixinStandardHelpOptions = true,
        description = "Edge-level circuit discovery for a task (a .jsonl task file or a built-in task): EAP and EAP-IG scores "
                + "for every edge (MIB naming), circuits of a declared size grid, their faithfulness by exact edge patching, "
                + "CPR/CMD and the smallest circuit keeping the threshold; writes results/<run>/circuit/.")
public final class CircuitCommand implements Callable<Integer> {
    @Mixin RootOption root;
    @Mixin EngineOptions engine;
    @Mixin ModelRunOptions modelRun;
    @Option(names = "--task", required = true, description = "a .jsonl task file, or a built-in task: induction") String task;
    @Option(names = "--examples", defaultValue = "16", description = "examples of a built-in task. Default: ${DEFAULT-VALUE}.") int examples;
    @Option(names = "--length", defaultValue = "6", description = "repeated-sequence length of the built-in induction task. Default: ${DEFAULT-VALUE}.") int length;
    @Option(names = "--seed", defaultValue = "0", description = "seed of a built-in task. Default: ${DEFAULT-VALUE}.") long seed;
    @Option(names = "--ig-steps", defaultValue = "10", description = "EAP-IG steps. Default: ${DEFAULT-VALUE}.") int igSteps;
    @Option(names = "--resamples", defaultValue = "1000", description = "bootstrap resamples. Default: ${DEFAULT-VALUE}.") int resamples;
    // 4, not 16: a call's intermediates on GPT-2 small are GBs at 16 rows (ORT's first call page-faults them in);
    // per-row compute is the same (docs/benchmarks.md, make bench-circuit)
    @Option(names = "--batch-rows", defaultValue = "4", description = "rows per edge-graph call. Default: ${DEFAULT-VALUE}.") int batchRows;
    @Option(names = "--exact-edges", defaultValue = "500", description = "edges whose single-edge effect is patched exactly (the top ones by |EAP-IG| when the model has more). Default: ${DEFAULT-VALUE}.") int exactEdges;
    @Option(names = "--resume", description = "continue results/<run-id>: a finished run is verified, an interrupted one completed") boolean resume;
    @Option(names = "--threshold", defaultValue = "0.9", description = "faithfulness the reported circuit must keep. Default: ${DEFAULT-VALUE}.") double threshold;

    /** Every option checked before the task file is read, the model opens or any folder is touched. */
    private CircuitConfig checked() {
        modelRun.check();
        OptionChecks.bounded("--examples", examples, 1, OptionChecks.MAX_PER_FAMILY);
        OptionChecks.bounded("--length", length, 1, 10_000);
        OptionChecks.bounded("--seed", seed, 0, OptionChecks.MAX_SEED);
        // EAP-IG converges long before this; more steps only cost time (as attribute's --ig-steps)
        OptionChecks.bounded("--ig-steps", igSteps, 1, 1000);
        OptionChecks.bounded("--resamples", resamples, 100, 1_000_000);
        OptionChecks.bounded("--batch-rows", batchRows, 1, OptionChecks.MAX_BATCH_ROWS);
        OptionChecks.bounded("--exact-edges", exactEdges, 0, 1_000_000);
        if (!(threshold > 0 && threshold <= 1))
            throw new UserError("--threshold " + threshold + " is out of range: it must be above 0 and at most 1.",
                    "Pass the fraction of the behaviour the reported circuit must keep, e.g. --threshold 0.9.");
        return new CircuitConfig(igSteps, resamples, 0, batchRows, exactEdges, threshold);
    }

    @Override
    public Integer call() {
        CircuitConfig cfg = checked();
        boolean builtin = BuiltinTasks.isBuiltin(task);
        // a task file is read and checked before the model opens or any folder is touched
        CircuitTask fileTask = builtin ? null : CircuitTask.read(Path.of(task));
        String id = modelRun.runIdOr("circuit");
        RunDir.requireValidId(id);
        try (LabModel m = LabModel.open(root.root(), modelRun.model, modelRun.parsedDevice(), modelRun.threads, batchRows, batchRows * 64,
                engine.factory())) {
            CircuitTask t = builtin ? BuiltinTasks.get(task, m, examples, length, seed) : fileTask;
            t.tokenize(m); // every example checked against the model's tokenizer before the run folder is touched
            return RunCommands.inRunFolder(root, m, RunConfig.reference(modelRun.model, id), modelRun.runId == null, resume, "circuit",
                    "milab circuit --model " + modelRun.model + " --task " + task, p -> p.circuit(t, cfg));
        }
    }
}
