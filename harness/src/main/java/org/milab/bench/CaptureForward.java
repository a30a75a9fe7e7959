package org.milab.bench;

import ai.onnxruntime.OrtException;
import org.milab.graph.GraphVariant;
import org.milab.graph.HookNames;
import org.milab.lab.LabModel;
import org.milab.model.ModelConfig;
import org.milab.runtime.Feeds;
import org.milab.runtime.TokenBatch;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Set;
import java.util.SplittableRandom;

/** The capture forward pass (capture.onnx) on random-token prompts: the rate of one plain batched forward. */
public final class CaptureForward {
    private CaptureForward() {}

    /** One timed configuration: {@code repeats} calls after two warm-up calls. */
    public record Result(int batch, int tokens, int repeats, double secondsPerCall, double tokensPerS, double gflops) {
        public List<String> rows(double ceiling) {
            return List.of(String.format(Locale.ROOT, "| capture forward, batch %d x %d tokens | %.3f s per call |", batch, tokens, secondsPerCall),
                    String.format(Locale.ROOT, "| forward tokens/s | %.0f |", tokensPerS),
                    String.format(Locale.ROOT, "| achieved GFLOP/s (analytic count); of the MatMul ceiling measured now | %.1f; %.2f |",
                            gflops, gflops / ceiling));
        }
    }

    public static Result run(BenchSettings s, int batch, int tokens, int repeats) {
        try (LabModel m = s.open(s.batchRows())) {
            TokenBatch b = randomBatch(m.config(), batch, tokens, 0);
            time(m, b, 2); // warm-up
            double secs = time(m, b, repeats) / repeats;
            return new Result(batch, tokens, repeats, secs, batch * tokens / secs, flops(m.config(), batch, tokens) / secs / 1e9);
        }
    }

    static TokenBatch randomBatch(ModelConfig c, int batch, int tokens, long seed) {
        SplittableRandom rng = new SplittableRandom(seed);
        List<int[]> prompts = new ArrayList<>();
        for (int r = 0; r < batch; r++) prompts.add(rng.ints(tokens, 0, c.vocabSize()).toArray());
        return TokenBatch.of(prompts);
    }

    /** Seconds for {@code n} capture calls on {@code b}, fetching only the final logits. */
    static double time(LabModel m, TokenBatch b, int n) {
        long t0 = System.nanoTime();
        for (int i = 0; i < n; i++)
            try (Feeds f = new Feeds(m.sessions().env()).batch(b)) {
                f.run(m.sessions().session(GraphVariant.CAPTURE), Set.of(HookNames.LOGITS_FINAL));
            } catch (OrtException e) {
                throw new IllegalStateException("capture forward failed: " + e.getMessage(), e);
            }
        return (System.nanoTime() - t0) / 1e9;
    }

    /**
     * Multiply-adds x 2 of one forward pass: per token and layer the four projections (3d^2 + d^2 + 8d^2
     * MACs for the default 4d MLP; n_inner generally) and attention over the full padded width (ORT
     * computes the whole score matrix), plus the final-position unembedding per row.
     */
    static double flops(ModelConfig c, int rows, int width) {
        double d = c.dModel(), f = c.dMlp();
        double perTokenLayer = 2 * (4 * d * d + 2 * d * f) + 4.0 * width * d;
        return rows * (width * c.nLayer() * perTokenLayer + 2 * d * c.vocabSize());
    }
}
