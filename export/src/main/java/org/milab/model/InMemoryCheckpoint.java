package org.milab.model;

import java.nio.FloatBuffer;
import java.util.Arrays;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Set;

/** A checkpoint held in heap arrays: generated test models and the planted-circuit model. */
public final class InMemoryCheckpoint implements Checkpoint {
    private final ModelConfig config;
    private final Map<String, float[]> data;
    private final Map<String, long[]> shapes;

    public InMemoryCheckpoint(ModelConfig config, Map<String, float[]> data) {
        this.config = config;
        this.shapes = Gpt2Tensors.expectedShapes(config);
        Map<String, float[]> copy = new LinkedHashMap<>();
        for (Map.Entry<String, long[]> e : shapes.entrySet()) {
            float[] a = data.get(e.getKey());
            if (a == null)
                throw new IllegalArgumentException("Checkpoint is missing tensor '" + e.getKey() + "'");
            long n = Arrays.stream(e.getValue()).reduce(1, (x, y) -> x * y);
            if (a.length != n)
                throw new IllegalArgumentException("Tensor '" + e.getKey() + "' has " + a.length
                        + " values; shape " + Arrays.toString(e.getValue()) + " needs " + n);
            copy.put(e.getKey(), a);
        }
        this.data = Collections.unmodifiableMap(copy);
    }

    @Override public ModelConfig config() { return config; }
    @Override public Set<String> names() { return data.keySet(); }
    @Override public long[] shape(String name) { return shapes.get(name).clone(); }
    @Override public FloatBuffer floats(String name) { return FloatBuffer.wrap(require(name)).asReadOnlyBuffer(); }
    @Override public float[] array(String name) { return require(name).clone(); }

    /** The backing array itself (no copy); callers must not modify it. */
    public float[] raw(String name) { return require(name); }

    private float[] require(String name) {
        float[] a = data.get(name);
        if (a == null) throw new IllegalArgumentException("No tensor '" + name + "' in checkpoint");
        return a;
    }
}
