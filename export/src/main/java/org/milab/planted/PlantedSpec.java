package org.milab.planted;

import org.milab.util.UserError;

import java.util.Objects;

/**
 * What varies between planted checkpoints: the head layout, the seed of every random number (noise heads
 * and the weight noise) and the standard deviation of the Gaussian noise added to every weight.
 *
 * @param layout   which head plays which role ({@link PlantedLayout#defaults()} is the original model)
 * @param seed     seeds {@link java.util.Random}, so the same spec gives bit-identical weights on any JVM
 * @param noiseStd standard deviation of the noise added to all weights (0 = the exact construction)
 */
public record PlantedSpec(PlantedLayout layout, long seed, double noiseStd) {
    /**
     * Default weight noise. Designed weights are O(1) (the embedding scale is 64), so 0.01 perturbs every
     * designed entry by about 1% and makes every zero weight non-zero. At twice this value (0.02) the circuit
     * checks of {@link PlantedChecks} still pass (seeds 0-3 tried), but the frequency decoy's trap check fails
     * on some seeds (its uniform attention rests on zero Q/K weights, which the noise perturbs); the default
     * layout at seed 0 passes every check at 0.02 and starts failing at 0.03.
     */
    public static final double DEFAULT_NOISE_STD = 0.01;
    public static final long DEFAULT_SEED = 0;

    public PlantedSpec {
        Objects.requireNonNull(layout, "layout");
        if (!Double.isFinite(noiseStd) || noiseStd < 0 || noiseStd > 1)
            throw new UserError("Planted model noise std " + noiseStd + " is not a number in [0, 1].",
                    "Use a small non-negative value such as the default " + DEFAULT_NOISE_STD + ".");
    }

    /** The default layout with this seed and noise. */
    public PlantedSpec(long seed, double noiseStd) {
        this(PlantedLayout.defaults(), seed, noiseStd);
    }

    public static PlantedSpec defaults() {
        return of(PlantedLayout.defaults());
    }

    /** {@code layout} with the default seed and noise. */
    public static PlantedSpec of(PlantedLayout layout) {
        return new PlantedSpec(layout, DEFAULT_SEED, DEFAULT_NOISE_STD);
    }

    /** A preset ({@link PlantedLayout#PRESETS}) with the default seed and noise. */
    public static PlantedSpec preset(String name) {
        return of(PlantedLayout.preset(name));
    }

    /** The model name the layout exports under by default ({@link PlantedLayout#modelId()}). */
    public String modelId() {
        return layout.modelId();
    }
}
