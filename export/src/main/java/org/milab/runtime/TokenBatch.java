package org.milab.runtime;

import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtException;

import java.nio.LongBuffer;
import java.util.List;

/**
 * Prompts of possibly unequal length packed into one right-padded batch. Causal attention means the
 * padding never changes a row's real positions; {@code finalIndex} tells the graph where each row ends.
 */
public record TokenBatch(int rows, int width, long[] ids, long[] finalIndex) {
    public static TokenBatch of(List<int[]> prompts) {
        int rows = prompts.size();
        if (rows == 0) throw new IllegalArgumentException("empty batch");
        int width = prompts.stream().mapToInt(p -> p.length).max().orElseThrow();
        long[] ids = new long[rows * width];
        long[] fin = new long[rows];
        for (int r = 0; r < rows; r++) {
            int[] p = prompts.get(r);
            if (p.length == 0) throw new IllegalArgumentException("empty prompt in batch row " + r);
            for (int t = 0; t < width; t++) ids[r * width + t] = t < p.length ? p[t] : p[p.length - 1];
            fin[r] = p.length - 1;
        }
        return new TokenBatch(rows, width, ids, fin);
    }

    public OnnxTensor idsTensor(OrtEnvironment env) throws OrtException {
        return OnnxTensor.createTensor(env, LongBuffer.wrap(ids), new long[]{rows, width});
    }

    public OnnxTensor finalIndexTensor(OrtEnvironment env) throws OrtException {
        return OnnxTensor.createTensor(env, LongBuffer.wrap(finalIndex), new long[]{rows});
    }
}
