package org.milab.cli;

import org.milab.model.Dtype;
import org.milab.model.InMemoryCheckpoint;
import org.milab.model.ModelConfig;
import org.milab.model.RandomCheckpoints;
import org.milab.model.SafetensorsWriter;
import org.milab.planted.PlantedGpt2Shape;
import org.milab.util.AtomicFiles;
import org.milab.util.Json;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.nio.file.Path;
import java.util.concurrent.Callable;

/**
 * Writes a random checkpoint with GPT-2 small's exact shape (model.safetensors + config.json): what the
 * benchmarks and export timings run on, since the real weights cannot be downloaded here.
 */
@Command(name = "random-checkpoint", mixinStandardHelpOptions = true,
        description = "Write a random GPT-2-small-shaped checkpoint (for benchmarks; not a meaningful model).")
public final class RandomCheckpointCommand implements Callable<Integer> {
    @Option(names = "--out", required = true, paramLabel = "DIR",
            description = "Folder for model.safetensors and config.json (created).") Path out;
    @Option(names = "--seed", defaultValue = "0", description = "Seed of the random weights. Default: ${DEFAULT-VALUE}.") long seed;
    @Option(names = "--scale", defaultValue = "0.02",
            description = "Standard deviation of the Gaussian weights. Default: ${DEFAULT-VALUE}.") float scale;
    @Option(names = "--plant", defaultValue = "none", description = "none, or induction: GPT-2 small's shape with a "
            + "hand-written previous-token and induction head (the other heads null; planted_truth.json names them; "
            + "--scale is not used). Default: ${DEFAULT-VALUE}.") String plant;

    @Override
    public Integer call() {
        // checked before half a gigabyte of weights is generated
        OptionChecks.bounded("--seed", seed, 0, OptionChecks.MAX_SEED);
        if (!(scale > 0 && scale <= 1))
            throw new org.milab.util.UserError("--scale " + scale + " is out of range: it must be above 0 and at most 1 (a std of weights).",
                    "Pass e.g. --scale 0.02 (the default, GPT-2's initialisation).");
        if (!plant.equals("none") && !plant.equals("induction"))
            throw new org.milab.util.UserError("--plant " + plant + " is not known.", "Pass --plant none or --plant induction.");
        OptionChecks.outputFolder("--out", out);
        if (plant.equals("induction")) {
            PlantedGpt2Shape.Built b = PlantedGpt2Shape.build(PlantedGpt2Shape.gpt2SmallShape(), seed);
            SafetensorsWriter.writeCheckpoint(out, b.checkpoint(), Dtype.F32, true);
            AtomicFiles.writeString(out.resolve("planted_truth.json"), Json.write(b.truth()));
            System.out.println("wrote " + out.resolve("model.safetensors") + " (GPT-2 small shape, induction planted, seed "
                    + seed + "; the truth in planted_truth.json)");
            return 0;
        }
        InMemoryCheckpoint ckpt = RandomCheckpoints.generate(ModelConfig.gpt2Small(), seed, scale);
        SafetensorsWriter.writeCheckpoint(out, ckpt, Dtype.F32, true);
        System.out.println("wrote " + out.resolve("model.safetensors") + " (GPT-2 small shape, seed " + seed + ")");
        return 0;
    }
}
