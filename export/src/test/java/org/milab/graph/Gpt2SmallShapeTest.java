package org.milab.graph;

import ai.onnxruntime.OrtException;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.milab.model.InMemoryCheckpoint;
import org.milab.model.ModelConfig;
import org.milab.model.ReferenceGpt2;
import org.milab.model.TestCheckpoints;
import org.milab.runtime.Feeds;
import org.milab.runtime.TokenBatch;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Set;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

/** A random checkpoint with GPT-2 small's exact shape exports and runs end to end (the slow test). */
class Gpt2SmallShapeTest {

    @Test
    void gpt2SmallShapedCheckpointExportsAndMatchesReference(@TempDir Path dir) throws OrtException {
        ModelConfig cfg = ModelConfig.gpt2Small();
        InMemoryCheckpoint ckpt = TestCheckpoints.random(cfg, 7, 0.02f);
        int[] a = {50256, 32, 347, 327, 360, 317, 347, 327};
        int[] b = {50256, 15496, 995};
        try (ExportedModel m = ExportedModel.export(ckpt, "gpt2-small-shaped", dir)) {
            for (GraphVariant v : GraphVariant.values())
                if (v.perStartLayer()) // one graph per start layer
                    for (int l = 0; l < cfg.nLayer(); l++)
                        assertThat(m.exported().graphDir().resolve(v.fileName(l))).isRegularFile();
                else
                    assertThat(m.exported().graphDir().resolve(v.fileName())).isRegularFile();
            // the graphs hold no weights themselves: they reference the one shared file
            assertThat(sizeOf(m.exported().graphDir().resolve("capture.onnx"))).isLessThan(2_000_000);
            assertThat(sizeOf(m.exported().graphDir().resolve(WeightsLayout.FILE_NAME)))
                    .isGreaterThan(4L * 124_000_000);
            Map<String, Feeds.Output> out;
            try (Feeds f = new Feeds(m.sessions().env()).batch(TokenBatch.of(List.of(a, b)))) {
                out = f.run(m.sessions().session(GraphVariant.CAPTURE),
                        Set.of(HookNames.LOGITS_FINAL, HookNames.hookZ(11)));
            }
            assertThat(out.get(HookNames.LOGITS_FINAL).shape()).containsExactly(2, 50257);
            assertThat(out.get(HookNames.hookZ(11)).shape()).containsExactly(2, 8, 12, 64);
            ReferenceGpt2 ref = new ReferenceGpt2(ckpt);
            double[] expected = ref.run(b).finalLogits();
            for (int v : new int[]{0, 13, 360, 995, 50256})
                assertThat((double) out.get(HookNames.LOGITS_FINAL).at(1, v)).isCloseTo(expected[v], within(1e-4));
        }
    }

    private static long sizeOf(Path p) {
        try {
            return Files.size(p);
        } catch (java.io.IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }
}
