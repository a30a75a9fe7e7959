package org.milab.model;

import java.nio.FloatBuffer;
import java.util.Set;

/**
 * A GPT-2 checkpoint: a config plus named float tensors in the Hugging Face layout
 * (canonical names of {@link Gpt2Tensors}). Implementations validate names and shapes at open time,
 * so every accessor here can assume the tensor exists with the expected shape.
 */
public interface Checkpoint extends AutoCloseable {
    ModelConfig config();

    /** Canonical names of the parameters held (buffers excluded). */
    Set<String> names();

    long[] shape(String name);

    /** The tensor as float32, row-major. May be a read-only view over mapped memory; do not keep past close. */
    FloatBuffer floats(String name);

    /** Copy into a heap array; only for small models and tests. */
    default float[] array(String name) {
        FloatBuffer b = floats(name).duplicate();
        b.rewind();
        float[] out = new float[b.remaining()];
        b.get(out);
        return out;
    }

    /** The unembedding as stored ([vocab, d]): {@code lm_head.weight} when untied, else {@code wte.weight}. */
    default String unembeddingName() {
        return config().tiedEmbeddings() ? Gpt2Tensors.WTE : Gpt2Tensors.LM_HEAD;
    }

    @Override
    default void close() {}
}
