package org.milab.bench;

import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OrtException;
import ai.onnxruntime.OrtSession;
import org.milab.graph.MatMulProbe;
import org.milab.runtime.ModelSessions;
import org.milab.stats.Stats;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.FloatBuffer;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * The MatMul ceiling measured the way ONNX Runtime reaches its peak: x [m, 768] times a constant weight
 * [768, 3072] that is an initializer (so MLAS pre-packs it once, at session creation), after warm-up calls,
 * with the input and the output in native buffers created once and bound for every call (no per-call
 * allocation or copy of the [m, 3072] result into the JVM), and the median of timed rounds. The session has
 * the benchmark's own options (threads, pre-packing): the rate the engine's own sessions can reach.
 */
public final class MatMulCeiling {
    /** The nominal figure of shared/spec/stack-notes.md ([64,768]x[768,3072] fp32, 2 threads). */
    public static final double NOMINAL_GFLOPS = 380.0;
    public static final int K = 768, N = 3072;
    private static final int ROUNDS = 11, WARM_UP_CALLS = 3;

    private MatMulCeiling() {}

    /**
     * @param rows          m, the MatMul's row count
     * @param callsPerRound calls timed together (rounds of about 0.2 s at 200 GFLOP/s)
     * @param roundGflops   the rate of every timed round (the first, a warm-up round, excluded)
     * @param gflops        their median
     */
    public record Result(String when, int rows, int k, int n, int callsPerRound, List<Double> roundGflops, double gflops) {
        public String row() {
            return String.format(Locale.ROOT, "| MatMul [%d,%d]x[%d,%d] in this process (%s; pinned buffers, median of %d rounds) "
                    + "| %.1f GFLOP/s (%.2f of the nominal %.0f) |", rows, k, k, n, when, roundGflops.size(), gflops,
                    gflops / NOMINAL_GFLOPS, NOMINAL_GFLOPS);
        }
    }

    public static Result measure(ModelSessions sessions, String when, int m) {
        double flopsPerCall = 2.0 * m * K * N;
        int calls = (int) Math.max(3, Math.round(40e9 / flopsPerCall));
        List<Double> rates = new ArrayList<>();
        float[] x = new float[m * K];
        for (int i = 0; i < x.length; i++) x[i] = (i % 17 - 8) / 8f;
        try (OrtSession s = sessions.probe(MatMulProbe.model(m, K, N));
             OnnxTensor in = OnnxTensor.createTensor(sessions.env(), direct(x), new long[]{m, K});
             OnnxTensor out = OnnxTensor.createTensor(sessions.env(), direct(new float[m * N]), new long[]{m, N})) {
            Map<String, OnnxTensor> feeds = Map.of(MatMulProbe.INPUT, in), pinned = Map.of(MatMulProbe.OUTPUT, out);
            for (int i = 0; i < WARM_UP_CALLS; i++) s.run(feeds, pinned).close();
            for (int round = 0; round < ROUNDS; round++) {
                long t0 = System.nanoTime();
                for (int i = 0; i < calls; i++) s.run(feeds, pinned).close();
                double secs = (System.nanoTime() - t0) / 1e9;
                if (round > 0) rates.add(calls * flopsPerCall / secs / 1e9); // the first round warms up too
            }
        } catch (OrtException e) {
            throw new IllegalStateException("MatMul probe failed: " + e.getMessage(), e);
        }
        return new Result(when, m, K, N, calls, rates, Stats.median(rates));
    }

    private static FloatBuffer direct(float[] v) {
        FloatBuffer b = ByteBuffer.allocateDirect(v.length * Float.BYTES).order(ByteOrder.nativeOrder()).asFloatBuffer();
        b.put(v).rewind();
        return b;
    }
}
