package org.milab.model.download;

import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.milab.model.Dtype;
import org.milab.model.Gpt2Tensors;
import org.milab.model.InMemoryCheckpoint;
import org.milab.model.SafetensorsFile;
import org.milab.model.SafetensorsWriter;
import org.milab.model.TestCheckpoints;
import org.milab.util.Hashing;
import org.milab.util.UserError;

import java.io.IOException;
import java.io.OutputStream;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** Resolution order and pinning, with a real (tiny) safetensors checkpoint served from loopback. */
class WeightsResolverTest {
    @TempDir Path tmp;
    private InMemoryCheckpoint ckpt;
    private byte[] weights;
    private byte[] config;
    private PinnedFile weightsPin;
    private PinnedFile configPin;

    @BeforeEach
    void makeRelease() throws IOException {
        ckpt = TestCheckpoints.random(TestCheckpoints.tiny(), 21, 0.1f);
        Path release = tmp.resolve("release");
        SafetensorsWriter.writeCheckpoint(release, ckpt, Dtype.F32, true);
        weights = Files.readAllBytes(release.resolve("model.safetensors"));
        config = Files.readAllBytes(release.resolve("config.json"));
        weightsPin = new PinnedFile("org/tiny", "abc123", "model.safetensors", weights.length, Hashing.sha256(weights));
        configPin = new PinnedFile("org/tiny", "abc123", "config.json", config.length, Hashing.sha256(config));
    }

    private LoopbackServer hub() throws IOException {
        return new LoopbackServer((ex, n) -> {
            String path = ex.getRequestURI().getPath();
            if (path.endsWith("/model.safetensors")) LoopbackServer.serve(ex, weights, true);
            else if (path.endsWith("/config.json")) LoopbackServer.serve(ex, config, true);
            else ex.sendResponseHeaders(404, -1);
        });
    }

    private WeightsResolver resolver(String endpoint, Map<String, String> env) {
        WeightsFetcher f = new WeightsFetcher(new WeightsFetcher.Settings(endpoint, tmp.resolve("cache"),
                Duration.ofSeconds(2), Duration.ofSeconds(5), 1, new PrintStream(OutputStream.nullOutputStream())));
        return new WeightsResolver(f, weightsPin, configPin, env);
    }

    @Test
    void downloadsThenUsesTheCacheAndTheResultOpens() throws IOException {
        try (LoopbackServer s = hub()) {
            WeightsResolver r = resolver(s.endpoint(), Map.of());
            WeightsResolver.ResolvedModel first = r.resolve(null, false);
            assertThat(first.weights().origin()).isEqualTo(ResolvedWeights.DOWNLOAD);
            assertThat(first.config().origin()).isEqualTo(ResolvedWeights.DOWNLOAD);
            assertThat(first.pinned()).isTrue();
            assertThat(first.weights().sha256()).isEqualTo(Hashing.sha256(first.weights().file()));

            WeightsResolver.ResolvedModel again = r.resolve(null, false);
            assertThat(again.weights().origin()).isEqualTo(ResolvedWeights.CACHE);
            assertThat(again.config().origin()).isEqualTo(ResolvedWeights.CACHE);
            assertThat(s.ranges()).hasSize(2); // one request per file, none for the cached run

            try (SafetensorsFile f = SafetensorsFile.open(again.weights().file(), again.modelConfig())) {
                assertThat(f.array(Gpt2Tensors.WTE)).containsExactly(ckpt.raw(Gpt2Tensors.WTE));
            }
        }
    }

    @Test
    void localPinnedFileWithConfigBesideNeedsNoNetwork() throws IOException {
        Path dir = Files.createDirectories(tmp.resolve("mine"));
        Files.write(dir.resolve("model.safetensors"), weights);
        Files.write(dir.resolve("config.json"), config);
        WeightsResolver r = resolver("http://127.0.0.1:1", Map.of()); // unreachable: must not be used
        WeightsResolver.ResolvedModel m = r.resolve(dir.resolve("model.safetensors"), false);
        assertThat(m.weights()).isEqualTo(new ResolvedWeights(dir.resolve("model.safetensors").toAbsolutePath(),
                weightsPin.sha256(), weights.length, true, ResolvedWeights.LOCAL));
        assertThat(m.config().file()).isEqualTo(dir.resolve("config.json").toAbsolutePath());
        assertThat(m.modelConfig()).isEqualTo(ckpt.config());
    }

    @Test
    void weightsFromTheEnvironment() throws IOException {
        Path file = tmp.resolve("env/model.safetensors");
        Files.createDirectories(file.getParent());
        Files.write(file, weights);
        Files.write(file.resolveSibling("config.json"), config);
        WeightsResolver.ResolvedModel m = resolver("http://127.0.0.1:1", Map.of("WEIGHTS", file.toString()))
                .resolve(null, false);
        assertThat(m.weights().file()).isEqualTo(file.toAbsolutePath());
        assertThat(m.weights().origin()).isEqualTo(ResolvedWeights.LOCAL);
    }

    @Test
    void localPinnedWeightsWithoutConfigFetchTheConfig() throws IOException {
        Path file = tmp.resolve("lonely/model.safetensors");
        Files.createDirectories(file.getParent());
        Files.write(file, weights);
        try (LoopbackServer s = hub()) {
            WeightsResolver.ResolvedModel m = resolver(s.endpoint(), Map.of()).resolve(file, false);
            assertThat(m.weights().origin()).isEqualTo(ResolvedWeights.LOCAL);
            assertThat(m.config().origin()).isEqualTo(ResolvedWeights.DOWNLOAD);
            assertThat(s.ranges()).hasSize(1);
        }
    }

    @Test
    void unpinnedWeightsNeedTheFlagAndAreRecorded() throws IOException {
        InMemoryCheckpoint other = TestCheckpoints.random(TestCheckpoints.tiny(), 22, 0.1f);
        Path dir = tmp.resolve("finetuned");
        SafetensorsWriter.writeCheckpoint(dir, other, Dtype.F32, false);
        Path file = dir.resolve("model.safetensors");
        WeightsResolver r = resolver("http://127.0.0.1:1", Map.of());

        assertThatThrownBy(() -> r.resolve(file, false)).isInstanceOf(UserError.class)
                .hasMessageContaining(file.toString())
                .hasMessageContaining("sha256 " + Hashing.sha256(file))
                .hasMessageContaining(weightsPin.sha256())
                .hasMessageContaining("--allow-unpinned");

        WeightsResolver.ResolvedModel m = r.resolve(file, true);
        assertThat(m.weights().pinned()).isFalse();
        assertThat(m.weights().sha256()).isEqualTo(Hashing.sha256(file));
        assertThat(m.weights().size()).isEqualTo(Files.size(file));
        // writeCheckpoint's config is byte-identical to the release's, so it still counts as pinned
        assertThat(m.config().pinned()).isTrue();
        assertThat(m.pinned()).isFalse();
    }

    @Test
    void aDifferentConfigBesidePinnedWeightsNeedsTheFlag() throws IOException {
        Path dir = Files.createDirectories(tmp.resolve("edited"));
        Files.write(dir.resolve("model.safetensors"), weights);
        Files.writeString(dir.resolve("config.json"), new String(config).replace("\"n_head\" : 4", "\"n_head\" : 2"));
        WeightsResolver r = resolver("http://127.0.0.1:1", Map.of());
        assertThatThrownBy(() -> r.resolve(dir.resolve("model.safetensors"), false)).isInstanceOf(UserError.class)
                .hasMessageContaining("config.json").hasMessageContaining("--allow-unpinned");
        WeightsResolver.ResolvedModel m = r.resolve(dir.resolve("model.safetensors"), true);
        assertThat(m.weights().pinned()).isTrue();
        assertThat(m.config().pinned()).isFalse();
        assertThat(m.modelConfig().nHead()).isEqualTo(2);
    }

    @Test
    void unpinnedWeightsWithoutConfigAreRefused() throws IOException {
        Path file = tmp.resolve("x/model.safetensors");
        Files.createDirectories(file.getParent());
        Files.write(file, new byte[]{1, 2, 3});
        assertThatThrownBy(() -> resolver("http://127.0.0.1:1", Map.of()).resolve(file, true))
                .isInstanceOf(UserError.class).hasMessageContaining("no config.json beside it")
                .hasMessageContaining(file.resolveSibling("config.json").toString());
    }

    @Test
    void missingLocalFileIsAUserError() {
        Path file = tmp.resolve("nowhere/model.safetensors");
        assertThatThrownBy(() -> resolver("http://127.0.0.1:1", Map.of()).resolve(file, true))
                .isInstanceOf(UserError.class).hasMessageContaining("does not exist")
                .hasMessageContaining(file.toString());
    }

    @Test
    void realGpt2PinsMatchTheReadme() {
        assertThat(PinnedFile.GPT2_WEIGHTS.size()).isEqualTo(548_105_171L);
        assertThat(PinnedFile.GPT2_CONFIG.size()).isEqualTo(665L);
        assertThat(PinnedFile.GPT2_WEIGHTS.revision()).isEqualTo(PinnedFile.GPT2_CONFIG.revision())
                .isEqualTo("607a30d783dfa663caf39e06633721c8d4cfcd7e");
        assertThat(PinnedFile.GPT2_CONFIG.url("https://huggingface.co").toString()).isEqualTo(
                "https://huggingface.co/openai-community/gpt2/resolve/607a30d783dfa663caf39e06633721c8d4cfcd7e/config.json");
    }
}
