package org.milab.cli;

import org.milab.atp.PromptPair;
import org.milab.atp.AttributionPatching;
import org.milab.attribution.AttributionConfig;
import org.milab.attribution.AttributionStage;
import org.milab.attribution.AttributionVerificationStage;
import org.milab.lab.LabModel;
import org.milab.run.Pipeline;
import org.milab.stage.RunConfig;
import org.milab.run.RunContext;
import org.milab.run.RunDir;
import org.milab.util.UserError;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.Callable;

/** {@code make attribute}: AtP for every node and position, verified on the first pairs by exact patching. */
@Command(name = "attribute", mixinStandardHelpOptions = true,
        description = "Attribution patching (AtP) of every head, MLP and residual node at every position, in both "
                + "directions, verified against exact hook_z patching; writes results/<run>/attribution/.")
public final class AttributeCommand implements Callable<Integer> {
    @Mixin RootOption root;
    @Mixin EngineOptions engine;
    @Mixin ModelRunOptions modelRun;
    @Option(names = "--pairs", defaultValue = "32", description = "prompt pairs scored by AtP. Default: ${DEFAULT-VALUE}.") int pairs;
    @Option(names = "--length", defaultValue = "10", description = "tokens in the repeated sequence (prompts: 2 x length + 1). Default: ${DEFAULT-VALUE}.") int length;
    @Option(names = "--seed", defaultValue = "0", description = "prompt seed. Default: ${DEFAULT-VALUE}.") long seed;
    @Option(names = "--verify-pairs", defaultValue = "8", description = "pairs also patched exactly (0 = no verification). Default: ${DEFAULT-VALUE}.") int verifyPairs;
    @Option(names = "--top-k", defaultValue = "10", description = "Heads listed as the top of the ranking. Default: ${DEFAULT-VALUE}.") int topK;
    @Option(names = "--resamples", defaultValue = "2000", description = "bootstrap resamples. Default: ${DEFAULT-VALUE}.") int resamples;
    @Option(names = "--batch-rows", defaultValue = "32", description = "rows per gradient-graph call. Default: ${DEFAULT-VALUE}.") int batchRows;
    @Option(names = "--ig-steps", defaultValue = "10", description = "integrated-gradient steps of AtP-IG (0 = plain AtP only). Default: ${DEFAULT-VALUE}.") int igSteps;
    @Option(names = "--atp-star", defaultValue = "on", description = "on: AtP*'s QK fix beside AtP (no extra pass, but Java "
            + "arithmetic that takes seconds per pair at GPT-2 small's shape); off: its columns are null. Default: ${DEFAULT-VALUE}.") String atpStar;

    /** Every option checked (ranges here, memory and time from the model's shape) before anything runs. */
    private AttributionConfig checked() {
        modelRun.check();
        OptionChecks.bounded("--pairs", pairs, 1, Integer.MAX_VALUE);
        OptionChecks.bounded("--length", length, 1, 10_000);
        OptionChecks.bounded("--seed", seed, 0, OptionChecks.MAX_SEED);
        OptionChecks.bounded("--verify-pairs", verifyPairs, 0, pairs);
        OptionChecks.bounded("--top-k", topK, 1, 10_000);
        OptionChecks.bounded("--resamples", resamples, 1, Integer.MAX_VALUE);
        OptionChecks.bounded("--batch-rows", batchRows, 1, OptionChecks.MAX_BATCH_ROWS);
        // integrated gradients converge long before this; more steps only cost time
        OptionChecks.bounded("--ig-steps", igSteps, 0, 1000);
        boolean star = OptionChecks.onOff("--atp-star", atpStar, "AtP*'s QK fix beside AtP", "AtP and AtP-IG only");
        org.milab.model.ModelConfig c = ResourceEstimate.configOf(root.root(), modelRun.model);
        if (c != null) {
            if (2 * length + 1 > c.nPositions())
                throw new UserError("--length " + length + " makes prompts of " + (2 * length + 1) + " tokens (BOS + 2 x length), "
                        + "but model '" + modelRun.model + "' reads at most " + c.nPositions() + " positions (n_positions).",
                        "Pass --length " + (c.nPositions() - 1) / 2 + " or less.");
            AttributionConfig d = AttributionConfig.defaults();
            ResourceEstimate.require("attribute", c, ResourceEstimate.attribution(c, pairs, length, verifyPairs, resamples, igSteps, star),
                    new ResourceEstimate.Count("--pairs", pairs, d.pairs()),
                    new ResourceEstimate.Count("--resamples", resamples, d.resamples()),
                    new ResourceEstimate.Count("--ig-steps", igSteps, d.igSteps()),
                    new ResourceEstimate.Count("--verify-pairs", verifyPairs, d.verifyPairs()),
                    new ResourceEstimate.Count("--length", length, d.length()));
        }
        return new AttributionConfig(pairs, length, seed, verifyPairs, topK, resamples, 0, batchRows, igSteps, star);
    }

    @Override
    public Integer call() {
        String id = modelRun.runIdOr("attribute");
        RunDir.requireValidId(id);
        AttributionConfig cfg = checked();
        Path results = root.root().resolve("results");
        if (Files.exists(results.resolve(id)))
            throw new UserError("results/" + id + " already exists; a run never overwrites another run's outputs.",
                    "Choose another RUN_ID or move the old run away.");
        if (Files.exists(results.resolve(id + RunContext.INCOMPLETE))) {
            System.err.println("removing " + results.resolve(id + RunContext.INCOMPLETE) + " left by an unfinished attempt");
            org.milab.util.FileTrees.delete(results.resolve(id + RunContext.INCOMPLETE));
        }
        try (LabModel m = LabModel.open(root.root(), modelRun.model, modelRun.parsedDevice(), modelRun.threads, 128, 128 * 16, engine.factory())) {
            RunContext ctx = new RunContext(root.root(), RunConfig.reference(modelRun.model, id), m);
            Pipeline run = new Pipeline(ctx); // started now: its manifest times the whole run
            List<PromptPair> prompts = AttributionStage.pairs(ctx, cfg);
            AttributionPatching.Result atp = AttributionStage.run(ctx, cfg, prompts);
            if (cfg.verifyPairs() > 0) AttributionVerificationStage.run(ctx, cfg, atp);
            run.finish("milab attribute --model " + modelRun.model);
            System.out.println("run " + id + " written to " + root.root().relativize(ctx.finalDir())
                    + " (attribution/attribution.arrow, summary.md)");
        }
        return 0;
    }
}
