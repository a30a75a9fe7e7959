package org.milab.cli;

import org.milab.engine.HeadPatching;
import org.milab.run.RunConfig;
import org.milab.run.RunContext;

import ai.onnxruntime.OrtException;
import org.milab.graph.GraphVariant;
import org.milab.graph.HookNames;
import org.milab.lab.LabModel;
import org.milab.model.ModelConfig;
import org.milab.runtime.Device;
import org.milab.runtime.Feeds;
import org.milab.runtime.TokenBatch;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.SplittableRandom;
import java.util.concurrent.Callable;

/**
 * Throughput benchmarks (never timed tests): reported as rates, ratios, and fractions of the machine's
 * MatMul ceiling, so they mean something on another machine too.
 */
@Command(name = "bench", mixinStandardHelpOptions = true, description = "Measure forward and patching throughput.")
public final class BenchCommand implements Callable<Integer> {
    /** ONNX Runtime MatMul [64,768]x[768,3072] fp32 with 2 threads on these machines (shared/spec/stack-notes.md). */
    static final double CEILING_GFLOPS = 380.0;

    @Mixin RootOption root;
    @Option(names = "--model", defaultValue = "gpt2-random",
            description = "Exported model to time (make bench exports a GPT-2-small-shaped random one). Default: ${DEFAULT-VALUE}.")
    String model;
    @Option(names = "--threads", defaultValue = "0",
            description = "ONNX Runtime intra-op threads; 0 lets ONNX Runtime choose. Default: ${DEFAULT-VALUE}.") int threads;
    @Option(names = "--batch", defaultValue = "32", description = "Prompts per forward call. Default: ${DEFAULT-VALUE}.") int batch;
    @Option(names = "--tokens", defaultValue = "24", description = "Tokens per prompt. Default: ${DEFAULT-VALUE}.") int tokens;
    @Option(names = "--repeats", defaultValue = "5", description = "Timed forward calls (after 2 warm-up calls). Default: ${DEFAULT-VALUE}.")
    int repeats;
    @Option(names = "--patch-sample", defaultValue = "2",
            description = "Candidates timed at batch 1 (the slow baseline). Default: ${DEFAULT-VALUE}.")
    int patchSample;
    @Option(names = "--batch-rows", defaultValue = "128",
            description = "Rows per ONNX Runtime call of the batched engine. Default: ${DEFAULT-VALUE}.") int batchRows;
    @Option(names = "--skip-patching", description = "Only the forward benchmark.") boolean skipPatching;
    @Option(names = "--skip-attribution", description = "No attribution-patching benchmark.") boolean skipAttribution;
    @Option(names = "--attribution-pairs", defaultValue = "32",
            description = "Clean/corrupt pairs of the attribution-patching benchmark. Default: ${DEFAULT-VALUE}.")
    int attributionPairs;
    @Option(names = "--attribution-exact-pairs", defaultValue = "4",
            description = "Pairs the exact all-heads-all-positions sweep is timed on (scaled to --attribution-pairs). "
                    + "Default: ${DEFAULT-VALUE}.")
    int attributionExactPairs;

    @Override
    public Integer call() throws OrtException {
        try (LabModel m = LabModel.open(root.root(), model, Device.CPU, threads)) {
            ModelConfig c = m.config();
            SplittableRandom rng = new SplittableRandom(0);
            List<int[]> prompts = new ArrayList<>();
            for (int r = 0; r < batch; r++) prompts.add(rng.ints(tokens, 0, c.vocabSize()).toArray());
            TokenBatch b = TokenBatch.of(prompts);
            double secs = timeCapture(m, b, 2) / 2; // warm-up
            secs = timeCapture(m, b, repeats) / repeats;
            double tokPerSec = batch * tokens / secs;
            double gflops = forwardFlops(c, batch, tokens) / secs / 1e9;
            System.out.println("| measurement | value |");
            System.out.println("|---|---|");
            System.out.printf(Locale.ROOT, "| capture forward, batch %d x %d tokens | %.3f s per call |%n", batch, tokens, secs);
            System.out.printf(Locale.ROOT, "| forward tokens/s | %.0f |%n", tokPerSec);
            System.out.printf(Locale.ROOT, "| achieved GFLOP/s (analytic count) | %.1f |%n", gflops);
            System.out.printf(Locale.ROOT, "| fraction of the %.0f GFLOP/s MatMul ceiling | %.2f |%n", CEILING_GFLOPS,
                    gflops / CEILING_GFLOPS);
            System.out.printf(Locale.ROOT, "| ORT intra-op threads | %s |%n", threads == 0 ? "default" : threads);
        }
        if (!skipPatching) benchPatching();
        if (!skipAttribution) benchAttribution();
        return 0;
    }

    /**
     * The held-out matrix of seed 10 (the reference's 16 GPT-2 heads x 72 records x 3 interventions x 2
     * positions = 6912 interventions): (a) one forward pass per intervention at batch 1, timed on a sample of
     * candidates, versus (b) the batched engine on the whole matrix. Both run the same code path
     * (HeadPatching) and include the unpatched clean/corrupt baseline rows and the captures.
     */
    private void benchPatching() {
        java.util.List<org.milab.engine.HeadPatching.Job> all = HeldoutMatrix.jobs(10);
        java.util.List<org.milab.engine.HeadPatching.Job> sample = all.stream()
                .filter(j -> HeldoutMatrix.candidateIndex(j) < patchSample).toList();
        double a = timeJobs(sample, 1, false);
        double b0 = timeJobs(all, batchRows, false);
        double b = timeJobs(all, batchRows, true);
        double rateA = sample.size() / a, rateB0 = all.size() / b0, rateB = all.size() / b;
        System.out.println();
        System.out.println("| held-out matrix, seed 10 (GPT-2-small shape) | interventions | seconds | interventions/s |");
        System.out.println("|---|---|---|---|");
        System.out.printf(Locale.ROOT, "| (a) one forward per intervention, batch 1 (%d of 16 candidates) | %d | %.1f | %.1f |%n",
                patchSample, sample.size(), a, rateA);
        System.out.printf(Locale.ROOT, "| (b0) batched, whole prompts, %d rows per call (all 16 candidates) | %d | %.1f | %.1f |%n",
                batchRows, all.size(), b0, rateB0);
        System.out.printf(Locale.ROOT, "| (b) batched + suffix-only recompute over cached K/V (the engine) | %d | %.1f | %.1f |%n",
                all.size(), b, rateB);
        System.out.printf(Locale.ROOT, "| speed-up (b)/(a); (b0)/(a) | | | %.1fx; %.1fx |%n", rateB / rateA, rateB0 / rateA);
    }

    /**
     * Attribution patching vs the exact sweep it replaces, in one run: AtP (two gradient passes per pair) and
     * AtP-IG (10 more) for every head, MLP, attention and residual node at every position of
     * {@code attributionPairs} repeated-token pairs (length 10, 21 tokens), against one suffix-reusing patched
     * forward pass per (pair, head, position), timed on the first {@code attributionExactPairs} pairs.
     */
    private void benchAttribution() {
        try (LabModel m = LabModel.open(root.root(), model, Device.CPU, threads, batchRows, batchRows * 16)) {
            ModelConfig c = m.config();
            java.util.List<org.milab.attribution.PromptPair> pairs = org.milab.attribution.RepeatedTokenPairs.generate(
                    attributionPairs, 10, 0, c.vocabSize(), m.tokenizer().bosId(), java.util.Set.of(), c.nPositions());
            org.milab.attribution.AttributionPatching.run(m, pairs.subList(0, 2), 32, 0); // warm-up
            var atp = org.milab.attribution.AttributionPatching.run(m, pairs, 32, 0);
            var ig = org.milab.attribution.AttributionPatching.run(m, pairs, 32, 10);
            var exact = org.milab.attribution.ExactHeadPatching.cells(m, pairs.subList(0, attributionExactPairs));
            double scale = (double) attributionPairs / attributionExactPairs, exactAll = exact.seconds() * scale;
            int T = pairs.get(0).length(), heads = c.nLayer() * c.nHead();
            System.out.println();
            System.out.printf(Locale.ROOT, "| attribution, %d prompt pairs x %d heads x %d positions (GPT-2-small shape) | seconds | vs exact sweep |%n",
                    attributionPairs, heads, T);
            System.out.println("|---|---|---|");
            System.out.printf(Locale.ROOT, "| AtP, both directions (2 gradient passes per pair; + MLP, attn, resid nodes) | %.2f | %.0fx faster |%n",
                    atp.seconds(), exactAll / atp.seconds());
            System.out.printf(Locale.ROOT, "| AtP + AtP-IG, 10 steps (12 gradient passes per pair) | %.2f | %.0fx faster |%n",
                    ig.seconds(), exactAll / ig.seconds());
            System.out.printf(Locale.ROOT, "| exact sweep, measured on %d pairs (%d patched rows, suffix reuse, %d rows per call) | %.1f | %.1f rows/s |%n",
                    attributionExactPairs, exact.patchedRows(), batchRows, exact.seconds(), exact.patchedRows() / exact.seconds());
            System.out.printf(Locale.ROOT, "| exact sweep, all %d pairs (%s) | %.1f | 1x |%n", attributionPairs,
                    scale == 1 ? "measured" : "scaled from the measured pairs", exactAll);
        }
    }

    private double timeJobs(java.util.List<org.milab.engine.HeadPatching.Job> jobs, int rows, boolean suffix) {
        java.nio.file.Path tmp;
        try {
            tmp = java.nio.file.Files.createTempDirectory("milab-bench");
        } catch (java.io.IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
        try (LabModel m = LabModel.open(root.root(), model, Device.CPU, threads, rows, Math.max(rows, 1) * 16)) {
            m.engine().setSuffixReuse(suffix);
            org.milab.run.RunContext ctx = new org.milab.run.RunContext(tmp,
                    org.milab.run.RunConfig.reference(model, "bench"), m);
            long t0 = System.nanoTime();
            org.milab.engine.HeadPatching.run(ctx, jobs, "bench batch " + rows + (suffix ? " suffix" : ""));
            return (System.nanoTime() - t0) / 1e9;
        }
    }

    private static double timeCapture(LabModel m, TokenBatch b, int n) throws OrtException {
        long t0 = System.nanoTime();
        for (int i = 0; i < n; i++)
            try (Feeds f = new Feeds(m.sessions().env()).batch(b)) {
                f.run(m.sessions().session(GraphVariant.CAPTURE), java.util.Set.of(HookNames.LOGITS_FINAL));
            }
        return (System.nanoTime() - t0) / 1e9;
    }

    /**
     * Multiply-adds x 2 of one forward pass: per token and layer the four projections (3d^2 + d^2 + 8d^2
     * MACs for the default 4d MLP; n_inner generally) and attention over the full padded width (ORT
     * computes the whole score matrix), plus the final-position unembedding per row.
     */
    static double forwardFlops(ModelConfig c, int rows, int width) {
        double d = c.dModel(), f = c.dMlp();
        double perTokenLayer = 2 * (4 * d * d + 2 * d * f) + 4.0 * width * d;
        return rows * (width * c.nLayer() * perTokenLayer + 2 * d * c.vocabSize());
    }
}
