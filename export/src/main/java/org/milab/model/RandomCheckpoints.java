package org.milab.model;

import java.util.LinkedHashMap;
import java.util.Map;
import java.util.SplittableRandom;

/**
 * Random GPT-2 checkpoints: test models and the GPT-2-small-shaped stand-in used for benchmarks while the
 * real weights cannot be downloaded. Deterministic from the seed; tensors are drawn in
 * {@link Gpt2Tensors#expectedShapes} order.
 */
public final class RandomCheckpoints {
    private RandomCheckpoints() {}

    /**
     * A checkpoint in the Hugging Face layout (Conv1D weights {@code [in, out]}): weights ~ N(0, scale),
     * LayerNorm gains 1 + N(0, scale/10), biases N(0, scale/10).
     */
    public static InMemoryCheckpoint generate(ModelConfig cfg, long seed, float scale) {
        SplittableRandom rng = new SplittableRandom(seed);
        Map<String, float[]> data = new LinkedHashMap<>();
        for (Map.Entry<String, long[]> e : Gpt2Tensors.expectedShapes(cfg).entrySet()) {
            String name = e.getKey();
            int n = 1;
            for (long d : e.getValue()) n = Math.multiplyExact(n, (int) d);
            boolean layerNormGain = name.endsWith("ln_1.weight") || name.endsWith("ln_2.weight")
                    || name.equals(Gpt2Tensors.LN_F_W);
            boolean bias = name.endsWith(".bias");
            float sd = layerNormGain || bias ? scale / 10 : scale;
            float mean = layerNormGain ? 1f : 0f;
            float[] a = new float[n];
            for (int i = 0; i < n; i++) a[i] = mean + sd * (float) gaussian(rng);
            data.put(name, a);
        }
        return new InMemoryCheckpoint(cfg, data);
    }

    /** Box-Muller; SplittableRandom has no nextGaussian on JDK 17. */
    private static double gaussian(SplittableRandom rng) {
        double u = 1.0 - rng.nextDouble(); // (0, 1]: log stays finite
        return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * rng.nextDouble());
    }
}
