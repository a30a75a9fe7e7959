package org.milab.cli;

import org.milab.model.Dtype;
import org.milab.model.InMemoryCheckpoint;
import org.milab.model.ModelConfig;
import org.milab.model.RandomCheckpoints;
import org.milab.model.SafetensorsWriter;
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

    @Override
    public Integer call() {
        // checked before half a gigabyte of weights is generated
        OptionChecks.bounded("--seed", seed, 0, OptionChecks.MAX_SEED);
        if (!(scale > 0 && scale <= 1))
            throw new org.milab.util.UserError("--scale " + scale + " is out of range: it must be above 0 and at most 1 (a std of weights).",
                    "Pass e.g. --scale 0.02 (the default, GPT-2's initialisation).");
        OptionChecks.outputFolder("--out", out);
        InMemoryCheckpoint ckpt = RandomCheckpoints.generate(ModelConfig.gpt2Small(), seed, scale);
        SafetensorsWriter.writeCheckpoint(out, ckpt, Dtype.F32, true);
        System.out.println("wrote " + out.resolve("model.safetensors") + " (GPT-2 small shape, seed " + seed + ")");
        return 0;
    }
}
