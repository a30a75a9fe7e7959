package org.milab.runtime;

import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OnnxValue;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtException;
import ai.onnxruntime.OrtSession;

import java.nio.FloatBuffer;
import java.nio.LongBuffer;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Set;

/**
 * The input tensors of one ORT call. Native memory is released by {@link #close()}, so a call reads
 * {@code try (Feeds f = new Feeds(env)) { ... }}.
 */
public final class Feeds implements AutoCloseable {
    private final OrtEnvironment env;
    private final Map<String, OnnxTensor> tensors = new LinkedHashMap<>();
    /** Tensors owned by the caller (e.g. prompt caches fed to many calls): fed, never closed here. */
    private final Map<String, OnnxTensor> borrowed = new LinkedHashMap<>();

    public Feeds(OrtEnvironment env) {
        this.env = env;
    }

    public Feeds floats(String name, float[] data, long... shape) throws OrtException {
        return put(name, OnnxTensor.createTensor(env, FloatBuffer.wrap(data), shape));
    }

    public Feeds longs(String name, long[] data, long... shape) throws OrtException {
        return put(name, OnnxTensor.createTensor(env, LongBuffer.wrap(data), shape));
    }

    public Feeds batch(TokenBatch b) throws OrtException {
        put(org.milab.graph.HookNames.INPUT_IDS, b.idsTensor(env));
        return put(org.milab.graph.HookNames.FINAL_INDEX, b.finalIndexTensor(env));
    }

    public Feeds put(String name, OnnxTensor t) {
        OnnxTensor old = tensors.put(name, t);
        if (old != null) old.close();
        return this;
    }

    /** Feeds {@code t} without taking ownership: the caller closes it after its last call. */
    public Feeds borrow(String name, OnnxTensor t) {
        borrowed.put(name, t);
        return this;
    }

    public Map<String, OnnxTensor> map() {
        if (borrowed.isEmpty()) return tensors;
        Map<String, OnnxTensor> all = new LinkedHashMap<>(tensors);
        all.putAll(borrowed);
        return all;
    }

    /** Runs {@code session} on these feeds and copies the requested outputs to heap arrays. */
    public Map<String, Output> run(OrtSession session, Set<String> fetch) throws OrtException {
        Map<String, Output> out = new LinkedHashMap<>();
        try (OrtSession.Result r = session.run(map(), fetch)) {
            for (String name : fetch) {
                OnnxValue v = r.get(name).orElseThrow(() -> new IllegalStateException("no output " + name));
                out.put(name, Output.of((OnnxTensor) v));
            }
        }
        return out;
    }

    @Override
    public void close() {
        tensors.values().forEach(OnnxTensor::close);
        tensors.clear();
        borrowed.clear();
    }

    /** An output copied off native memory: float data, row-major, with its shape. */
    public record Output(float[] data, long[] shape) {
        static Output of(OnnxTensor t) {
            FloatBuffer fb = t.getFloatBuffer();
            float[] a = new float[fb.remaining()];
            fb.get(a);
            return new Output(a, t.getInfo().getShape());
        }

        /** Element at a multi-dimensional index. */
        public float at(long... idx) {
            long flat = 0;
            for (int i = 0; i < shape.length; i++) flat = flat * shape[i] + idx[i];
            return data[(int) flat];
        }
    }
}
