package org.milab.catalog;

import ai.onnxruntime.OrtException;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.milab.graph.GraphVariant;
import org.milab.graph.HookNames;
import org.milab.model.download.PinnedFile;
import org.milab.model.download.WeightsFetcher;
import org.milab.runtime.Device;
import org.milab.runtime.Feeds;
import org.milab.runtime.ModelSessions;
import org.milab.runtime.TokenBatch;
import org.milab.tokenizer.TestTokenizers;
import org.milab.tokenizer.Tokenizer;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Optional;
import java.util.Set;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

/**
 * The reference's headline numbers on the real GPT-2 small. Runs only where the pinned checkpoint is
 * present (env WEIGHTS or the cache); these machines cannot download it, so here it skips and says why.
 */
class RealGpt2Test {

    static Optional<Path> realCheckpoint() {
        String env = System.getenv("WEIGHTS");
        if (env != null && Files.isRegularFile(Path.of(env))) return Optional.of(Path.of(env));
        Path cached = new WeightsFetcher(WeightsFetcher.Settings.fromEnvironment(System.getenv()))
                .cachePath(PinnedFile.GPT2_WEIGHTS);
        return Files.isRegularFile(cached) ? Optional.of(cached) : Optional.empty();
    }

    @Test
    void headlineLogitDifferencesMatchTransformerLens(@TempDir Path dir) throws OrtException {
        Optional<Path> weights = realCheckpoint();
        if (weights.isEmpty()) {
            String reason = "real GPT-2 weights absent (no env WEIGHTS, nothing at "
                    + new WeightsFetcher(WeightsFetcher.Settings.fromEnvironment(System.getenv()))
                    .cachePath(PinnedFile.GPT2_WEIGHTS) + "); the hub is unreachable from this machine";
            System.out.println("SKIPPED RealGpt2Test: " + reason);
            Assumptions.abort(reason);
        }
        ModelLayout layout = new ModelLayout(dir, "gpt2");
        ModelExports.exportGpt2Family(layout, weights.get(), false, TestTokenizers.gpt2Dir());
        try (Tokenizer tok = Tokenizer.load(layout.tokenizer());
             ModelSessions s = ModelSessions.open(layout.graphDir(), Device.CPU, 0)) {
            int[] a = tok.encodeWithBos("A B C D A B C");
            int[] b = tok.encodeWithBos("A B C D\nA B C");
            Feeds.Output logits;
            try (Feeds f = new Feeds(s.env()).batch(TokenBatch.of(List.of(a, b)))) {
                logits = f.run(s.session(GraphVariant.CAPTURE), Set.of(HookNames.LOGITS_FINAL)).get(HookNames.LOGITS_FINAL);
            }
            int d = tok.singleTokenId(" D"), aTok = tok.singleTokenId(" A");
            assertThat((double) (logits.at(0, d) - logits.at(0, aTok))).isCloseTo(2.98397, within(1e-3));
            assertThat((double) (logits.at(1, d) - logits.at(1, aTok))).isCloseTo(5.65041, within(1e-3));
            double max = Double.NEGATIVE_INFINITY, sum = 0;
            for (int v = 0; v < 50257; v++) max = Math.max(max, logits.at(0, v));
            for (int v = 0; v < 50257; v++) sum += Math.exp(logits.at(0, v) - max);
            assertThat(Math.exp(logits.at(0, d) - max) / sum).isCloseTo(0.47057, within(1e-3));
        }
    }
}
