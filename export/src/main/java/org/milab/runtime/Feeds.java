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

    /**
     * Runs {@code session} on these feeds with the requested outputs written by ONNX Runtime straight into
     * {@code buffers}' direct memory (pinned outputs): no native output allocation, no copy to a fresh direct buffer and
     * no intermediate heap array, the costs that made a capture fetching every layer's hooks about 1.5-2x the time of
     * one fetching the logits alone. Symbolic dimensions named {@code batch} take {@code rows}; the sequence ones
     * ({@code pos}, {@code query_pos}, {@code key_pos}) take {@code width}. The views are valid until {@code buffers}
     * serve the next call.
     */
    public Map<String, View> runPinned(OrtSession session, Set<String> fetch, OutputBuffers buffers, int rows, int width)
            throws OrtException {
        Map<String, ai.onnxruntime.NodeInfo> info = session.getOutputInfo();
        Map<String, OnnxTensor> pinned = new LinkedHashMap<>();
        Map<String, View> out = new LinkedHashMap<>();
        try {
            for (String name : fetch) {
                ai.onnxruntime.NodeInfo n = info.get(name);
                if (n == null) throw new IllegalStateException("no output " + name);
                ai.onnxruntime.TensorInfo t = (ai.onnxruntime.TensorInfo) n.getInfo();
                long[] shape = t.getShape();
                String[] dims = t.getDimensionNames();
                long size = 1;
                for (int i = 0; i < shape.length; i++) {
                    if (shape[i] < 0) shape[i] = switch (dims[i]) {
                        case "batch" -> rows;
                        case "pos", "query_pos", "key_pos" -> width;
                        default -> throw new IllegalStateException("output " + name + " has an unknown dimension " + dims[i]);
                    };
                    size *= shape[i];
                }
                FloatBuffer b = buffers.get(name, size);
                pinned.put(name, OnnxTensor.createTensor(env, b, shape));
                out.put(name, new View(b, shape));
            }
            session.run(map(), pinned).close();
            return out;
        } finally {
            pinned.values().forEach(OnnxTensor::close);
        }
    }

    /** An output in pinned direct memory: row-major float data and its shape. */
    public record View(FloatBuffer data, long[] shape) {}

    /**
     * Direct buffers that pinned outputs are written into, one per output name, reused by every call and grown when a
     * call needs more: a capture's outputs then cost no allocation (and no garbage) per call. Not thread-safe.
     */
    public static final class OutputBuffers {
        private final Map<String, java.nio.ByteBuffer> byName = new java.util.HashMap<>();

        /** A native-order float view of exactly {@code size} elements at the start of {@code name}'s buffer. */
        FloatBuffer get(String name, long size) {
            if (size > Integer.MAX_VALUE / 4) throw new IllegalArgumentException(name + ": " + size + " floats in one output");
            java.nio.ByteBuffer b = byName.get(name);
            if (b == null || b.capacity() < size * 4) {
                // grown by half again so a slightly longer call does not reallocate
                long grown = Math.min(Integer.MAX_VALUE / 4, Math.max(size, b == null ? 0 : b.capacity() / 4 * 3 / 2));
                b = java.nio.ByteBuffer.allocateDirect((int) (grown * 4)).order(java.nio.ByteOrder.nativeOrder());
                byName.put(name, b);
            }
            return b.duplicate().order(java.nio.ByteOrder.nativeOrder()).limit((int) (size * 4)).slice()
                    .order(java.nio.ByteOrder.nativeOrder()).asFloatBuffer();
        }
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
