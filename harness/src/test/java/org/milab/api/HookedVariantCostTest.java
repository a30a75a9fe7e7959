package org.milab.api;

import ai.onnxruntime.OrtException;
import org.milab.catalog.ModelExports;
import org.milab.catalog.ModelLayout;
import org.milab.graph.GraphVariant;
import org.milab.graph.HookNames;
import org.milab.graph.ModelIdentity;
import org.milab.lab.LabModel;
import org.milab.model.ModelConfig;
import org.milab.model.RandomCheckpoints;
import org.milab.runtime.Device;
import org.milab.runtime.Feeds;
import org.milab.runtime.TokenBatch;
import org.milab.tokenizer.WordLevelTokenizerJson;
import org.milab.util.AtomicFiles;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Random;
import java.util.Set;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * What the hooked variant costs beside the capture graph, on a random checkpoint of GPT-2 small's shape: graph file
 * sizes, and the median time of one forward of 32 prompts x 24 tokens (capture: final-position logits; hooked:
 * logits at every position, no patch and one head patched). A benchmark, so it runs only when asked
 * ({@code -Dmilab.bench=hooked}, ~2 GB heap and a few minutes); docs/api.md quotes what it wrote to
 * {@code harness/target/hooked-cost.txt}. It also checks the two graphs agree on the final logits.
 */
class HookedVariantCostTest {
    private static final int ROWS = 32, TOKENS = 24, REPEATS = 7;

    @Test
    void hookedForwardCostBesideCapture(@TempDir Path root) throws IOException, OrtException {
        Assumptions.assumeTrue("hooked".equals(System.getProperty("milab.bench")),
                "a benchmark (GPT-2-small-shaped export, minutes): run with -Dmilab.bench=hooked");
        ModelConfig cfg = ModelConfig.gpt2Small();
        List<String> vocab = new ArrayList<>(List.of("<|endoftext|>", "<unk>"));
        for (int i = vocab.size(); i < cfg.vocabSize(); i++) vocab.add("w" + i);
        String tokenizer = WordLevelTokenizerJson.build(vocab, "<unk>", "<|endoftext|>");
        ModelExports.export(new ModelLayout(root, "small"), RandomCheckpoints.generate(cfg, 1, 0.02f),
                new ModelIdentity("small", null, null, "test", false, "HookedVariantCostTest"), Map.of(),
                stage -> AtomicFiles.writeString(stage.tokenizer(), tokenizer));
        Random rnd = new Random(1);
        List<int[]> prompts = new ArrayList<>();
        for (int r = 0; r < ROWS; r++) {
            int[] p = new int[TOKENS];
            for (int i = 1; i < TOKENS; i++) p[i] = 2 + rnd.nextInt(cfg.vocabSize() - 2);
            prompts.add(p);
        }
        StringBuilder report = new StringBuilder();
        Path graphs = root.resolve("graphs/small");
        for (GraphVariant v : new GraphVariant[]{GraphVariant.CAPTURE, GraphVariant.PATCH_Z, GraphVariant.GRAD, GraphVariant.HOOKED})
            report.append(String.format(Locale.ROOT, "%s.onnx: %.2f MB%n", v.id(), Files.size(graphs.resolve(v.fileName())) / 1e6));
        try (LabModel lab = LabModel.open(root, "small", Device.CPU, 0);
             HookedModel hooked = HookedModel.open("small", HookedModel.Options.defaults().withRoot(root).withBatchLimits(ROWS, ROWS * TOKENS))) {
            float[][] captureLogits = new float[1][];
            List<PatchedRun> clean = prompts.stream().map(PatchedRun::of).toList();
            List<PatchedRun> patched = prompts.stream().map(p -> PatchedRun.of(p, Patch.head(5, 1, 10, PatchValue.zero()))).toList();
            PatchResults[] out = new PatchResults[1];
            // interleaved rounds, so a busy machine's drift falls on all three alike
            double[][] t = rounds(
                    () -> {
                        try (Feeds f = new Feeds(lab.sessions().env()).batch(TokenBatch.of(prompts))) {
                            captureLogits[0] = f.run(lab.sessions().session(GraphVariant.CAPTURE), Set.of(HookNames.LOGITS_FINAL))
                                    .get(HookNames.LOGITS_FINAL).data();
                        }
                    },
                    () -> out[0] = hooked.runWithPatches(clean),
                    () -> hooked.runWithPatches(patched));
            double capture = median(t[0]), plain = median(t[1]), oneHead = median(t[2]);
            for (int r = 0; r < ROWS; r++) {
                float[] last = out[0].lastLogits(r);
                for (int v = 0; v < last.length; v += 97)
                    assertThat((double) last[v]).isCloseTo(captureLogits[0][r * cfg.vocabSize() + v], org.assertj.core.data.Offset.offset(1e-3));
            }
            report.append(String.format(Locale.ROOT, "one forward, %d x %d tokens, median of %d: capture %.3f s, hooked %.3f s, "
                    + "hooked with one head patched %.3f s%n", ROWS, TOKENS, REPEATS, capture, plain, oneHead));
        }
        Path out = Path.of("target", "hooked-cost.txt");
        Files.writeString(out, report.toString());
        assertThat(Files.readString(out)).contains("hooked.onnx");
    }

    private interface Call {
        void run() throws OrtException;
    }

    private static double[][] rounds(Call... calls) throws OrtException {
        for (Call c : calls) c.run(); // warm-up: session creation and first-call allocation
        double[][] t = new double[calls.length][REPEATS];
        for (int i = 0; i < REPEATS; i++)
            for (int c = 0; c < calls.length; c++) {
                long t0 = System.nanoTime();
                calls[c].run();
                t[c][i] = (System.nanoTime() - t0) / 1e9;
            }
        return t;
    }

    private static double median(double[] t) {
        double[] s = t.clone();
        Arrays.sort(s);
        return s[s.length / 2];
    }
}
