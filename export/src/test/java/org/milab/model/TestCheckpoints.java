package org.milab.model;

/**
 * Random GPT-2 checkpoints for tests (shipped in the export test-jar, reused by harness tests).
 * Deterministic from the seed; the generator is fed tensors in {@link Gpt2Tensors#expectedShapes} order.
 */
public final class TestCheckpoints {
    private TestCheckpoints() {}

    /** 2 layers, 4 heads, d_model 32, vocab 50, 16 positions, tied embeddings. */
    public static ModelConfig tiny() {
        return new ModelConfig(2, 4, 32, 50, 16, 1e-5, ModelConfig.GELU_TANH, true);
    }

    /** {@link #tiny()} with a separate {@code lm_head.weight}. */
    public static ModelConfig tinyUntied() {
        return new ModelConfig(2, 4, 32, 50, 16, 1e-5, ModelConfig.GELU_TANH, false);
    }

    /** See {@link RandomCheckpoints#generate}. */
    public static InMemoryCheckpoint random(ModelConfig cfg, long seed, float scale) {
        return RandomCheckpoints.generate(cfg, seed, scale);
    }
}
