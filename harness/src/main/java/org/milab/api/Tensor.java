package org.milab.api;

import java.util.Arrays;

/**
 * An immutable float32 tensor on the heap, row-major, with its shape: what {@link HookedModel} returns for
 * logits and cached activations. Batch axes are never part of it: one tensor is one prompt's activation, its
 * padding removed (TransformerLens' {@code cache["blocks.0.attn.hook_z"][0]}).
 */
public final class Tensor {
    private final int[] shape;
    private final float[] data;

    /**
     * @param shape the size of each axis
     * @param data  the values, row-major; its length must be the product of {@code shape}
     */
    public Tensor(int[] shape, float[] data) {
        long n = 1;
        for (int s : shape) {
            if (s < 0) throw new IllegalArgumentException("negative axis in shape " + Arrays.toString(shape));
            n *= s;
        }
        if (n != data.length)
            throw new IllegalArgumentException("shape " + Arrays.toString(shape) + " holds " + n + " values, got " + data.length);
        this.shape = shape.clone();
        this.data = data;
    }

    /** @return a copy of the shape */
    public int[] shape() {
        return shape.clone();
    }

    /** @return the number of axes */
    public int rank() {
        return shape.length;
    }

    /** @return the number of values */
    public int size() {
        return data.length;
    }

    /**
     * @param index one index per axis
     * @return the value at {@code index}
     */
    public float get(int... index) {
        return data[offset(index)];
    }

    /**
     * The values along the last axis at the given leading indices, e.g. {@code logits.row(position)} or
     * {@code z.row(position, head)}.
     *
     * @param leading one index for every axis but the last
     * @return a copy of those values
     */
    public float[] row(int... leading) {
        if (leading.length != shape.length - 1)
            throw new IllegalArgumentException("row() takes " + (shape.length - 1) + " indices for shape " + Arrays.toString(shape));
        int[] full = Arrays.copyOf(leading, shape.length);
        int from = offset(full);
        return Arrays.copyOfRange(data, from, from + shape[shape.length - 1]);
    }

    /** @return a copy of all values, row-major */
    public float[] toArray() {
        return data.clone();
    }

    /**
     * @param leading one index for every axis but the last
     * @return the index of the largest value of {@link #row(int...)} at {@code leading} (ties: the first)
     */
    public int argmax(int... leading) {
        float[] r = row(leading);
        int best = 0;
        for (int i = 1; i < r.length; i++) if (r[i] > r[best]) best = i;
        return best;
    }

    /** Values read directly (no copy) by the package: the arrays are never handed out. */
    float[] data() {
        return data;
    }

    private int offset(int[] index) {
        if (index.length != shape.length)
            throw new IllegalArgumentException(index.length + " indices for shape " + Arrays.toString(shape));
        int flat = 0;
        for (int a = 0; a < shape.length; a++) {
            if (index[a] < 0 || index[a] >= shape[a])
                throw new IndexOutOfBoundsException("index " + Arrays.toString(index) + " outside shape " + Arrays.toString(shape));
            flat = flat * shape[a] + index[a];
        }
        return flat;
    }

    @Override
    public String toString() {
        return "Tensor" + Arrays.toString(shape);
    }
}
