package org.milab.planted;

import org.milab.util.UserError;

/**
 * What varies between planted checkpoints: the seed of every random number (noise heads and the weight
 * noise) and the standard deviation of the Gaussian noise added to every weight.
 *
 * @param seed     seeds {@link java.util.Random}, so the same spec gives bit-identical weights on any JVM
 * @param noiseStd standard deviation of the noise added to all weights (0 = the exact construction)
 */
public record PlantedSpec(long seed, double noiseStd) {
    /**
     * Default weight noise. Designed weights are O(1) (the embedding scale is 64), so 0.01 perturbs every
     * designed entry by about 1% and makes every zero weight non-zero. All behavioural checks of
     * {@link PlantedChecks} still pass at twice this value (0.02) and start failing at 0.03.
     */
    public static final double DEFAULT_NOISE_STD = 0.01;
    public static final long DEFAULT_SEED = 0;

    public PlantedSpec {
        if (!Double.isFinite(noiseStd) || noiseStd < 0 || noiseStd > 1)
            throw new UserError("Planted model noise std " + noiseStd + " is not a number in [0, 1].",
                    "Use a small non-negative value such as the default " + DEFAULT_NOISE_STD + ".");
    }

    public static PlantedSpec defaults() {
        return new PlantedSpec(DEFAULT_SEED, DEFAULT_NOISE_STD);
    }
}
