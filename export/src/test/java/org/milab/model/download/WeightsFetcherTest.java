package org.milab.model.download;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import org.milab.util.Hashing;
import org.milab.util.UserError;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.io.PrintStream;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import java.util.Arrays;
import java.util.Map;
import java.util.SplittableRandom;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class WeightsFetcherTest {
    private static final byte[] PAYLOAD = randomBytes(3 << 20, 42);
    private static final PinnedFile PIN = new PinnedFile("test-org/tiny", "0123456789abcdef", "model.safetensors",
            PAYLOAD.length, Hashing.sha256(PAYLOAD));

    @TempDir Path tmp;
    private final ByteArrayOutputStream progress = new ByteArrayOutputStream();

    private WeightsFetcher fetcher(LoopbackServer s, Duration readTimeout, int attempts) {
        return new WeightsFetcher(new WeightsFetcher.Settings(s.endpoint(), tmp.resolve("cache"),
                Duration.ofSeconds(2), readTimeout, attempts, new PrintStream(progress, true)));
    }

    @Test
    void downloadsVerifiesAndInstalls() throws IOException {
        try (LoopbackServer s = new LoopbackServer((ex, n) -> LoopbackServer.serve(ex, PAYLOAD, true))) {
            WeightsFetcher f = fetcher(s, Duration.ofSeconds(5), 1);
            Path p = f.download(PIN);
            assertThat(p).isEqualTo(tmp.resolve("cache/test-org/tiny/0123456789abcdef/model.safetensors"));
            assertThat(Hashing.sha256(p)).isEqualTo(PIN.sha256());
            assertThat(f.partPath(PIN)).doesNotExist();
            assertThat(s.ranges()).containsExactly((String) null);
            assertThat(progress.toString(StandardCharsets.UTF_8)).contains("Downloading model.safetensors");
            assertThat(f.cached(PIN)).contains(p);
        }
    }

    @Test
    @Timeout(value = 120, unit = TimeUnit.SECONDS)
    void resumesWithRangeAfterConnectionCutMidBody() throws IOException {
        int cut = 1_000_000;
        try (LoopbackServer s = new LoopbackServer((ex, n) -> {
            if (n == 0) LoopbackServer.serveCut(ex, PAYLOAD, cut);
            else LoopbackServer.serve(ex, PAYLOAD, true);
        })) {
            // the break must be seen as such: waiting it out by the 10-minute read time-out would trip @Timeout
            Path p = fetcher(s, Duration.ofMinutes(10), 3).download(PIN);
            assertThat(s.ranges()).hasSize(2);
            assertThat(s.ranges().get(0)).isNull();
            assertThat(s.ranges().get(1)).matches("bytes=\\d+-");
            long from = Long.parseLong(s.ranges().get(1).replaceAll("\\D", ""));
            assertThat(from).isPositive().isLessThanOrEqualTo(cut);
            assertThat(Hashing.sha256(p)).isEqualTo(PIN.sha256());
        }
    }

    @Test
    void resumesAPartialFileLeftByAnEarlierRun() throws IOException {
        try (LoopbackServer s = new LoopbackServer((ex, n) -> LoopbackServer.serve(ex, PAYLOAD, true))) {
            WeightsFetcher f = fetcher(s, Duration.ofSeconds(5), 1);
            Files.createDirectories(f.partPath(PIN).getParent());
            Files.write(f.partPath(PIN), Arrays.copyOf(PAYLOAD, 1 << 20));
            Path p = f.download(PIN);
            assertThat(s.ranges()).containsExactly("bytes=1048576-");
            assertThat(Files.readAllBytes(p)).isEqualTo(PAYLOAD);
        }
    }

    @Test
    void serverIgnoringRangeRestartsCleanly() throws IOException {
        try (LoopbackServer s = new LoopbackServer((ex, n) -> LoopbackServer.serve(ex, PAYLOAD, false))) {
            WeightsFetcher f = fetcher(s, Duration.ofSeconds(5), 1);
            Files.createDirectories(f.partPath(PIN).getParent());
            Files.write(f.partPath(PIN), randomBytes(1 << 20, 7)); // junk: would break the hash if kept
            Path p = f.download(PIN);
            assertThat(s.ranges()).containsExactly("bytes=1048576-");
            assertThat(Files.readAllBytes(p)).isEqualTo(PAYLOAD);
        }
    }

    @Test
    void partialContentFromTheWrongOffsetStartsOver() throws IOException {
        try (LoopbackServer s = new LoopbackServer((ex, n) -> {
            if (ex.getRequestHeaders().getFirst("Range") != null) { // answers a resume with bytes from 0
                ex.getResponseHeaders().add("Content-Range", "bytes 0-" + (PAYLOAD.length - 1) + "/" + PAYLOAD.length);
                ex.sendResponseHeaders(206, PAYLOAD.length);
                try (OutputStream out = ex.getResponseBody()) {
                    out.write(PAYLOAD);
                }
            } else {
                LoopbackServer.serve(ex, PAYLOAD, true);
            }
        })) {
            WeightsFetcher f = fetcher(s, Duration.ofSeconds(5), 2);
            Files.createDirectories(f.partPath(PIN).getParent());
            Files.write(f.partPath(PIN), Arrays.copyOf(PAYLOAD, 4096));
            Path p = f.download(PIN);
            assertThat(s.ranges()).containsExactly("bytes=4096-", null);
            assertThat(Files.readAllBytes(p)).isEqualTo(PAYLOAD);
        }
    }

    @Test
    void notFoundIsAUserErrorWithTheFix() throws IOException {
        try (LoopbackServer s = new LoopbackServer((ex, n) -> ex.sendResponseHeaders(404, -1))) {
            WeightsFetcher f = fetcher(s, Duration.ofSeconds(5), 3);
            assertThatThrownBy(() -> f.download(PIN)).isInstanceOf(UserError.class)
                    .hasMessageContaining("HTTP 404")
                    .hasMessageContaining(s.endpoint() + "/test-org/tiny/resolve/0123456789abcdef/model.safetensors")
                    .hasMessageContaining("WEIGHTS=/path/model.safetensors make export")
                    .hasMessageContaining(f.cachePath(PIN).toString());
            assertThat(s.ranges()).hasSize(1); // no pointless retries
            assertNothingLeft(f);
        }
    }

    /** Issue 22: the tokenizer files' offline advice names MILAB_GPT2_BPE (a folder the export reads), not "beside the weights". */
    @Test
    void theTokenizerFilesOfflineAdviceNamesTheBpeFolder() throws IOException {
        try (LoopbackServer s = new LoopbackServer((ex, n) -> ex.sendResponseHeaders(404, -1))) {
            WeightsFetcher f = fetcher(s, Duration.ofSeconds(5), 1);
            for (PinnedFile pin : java.util.List.of(PinnedFile.GPT2_VOCAB, PinnedFile.GPT2_MERGES))
                assertThatThrownBy(() -> f.download(pin)).isInstanceOf(UserError.class)
                        .hasMessageContaining("MILAB_GPT2_BPE=").hasMessageContaining("encoder.json")
                        .hasMessageContaining("vocab.bpe").hasMessageNotContaining("beside the weights");
        }
    }

    @Test
    void wrongHashDeletesTheDownload() throws IOException {
        byte[] other = randomBytes(PAYLOAD.length, 43);
        try (LoopbackServer s = new LoopbackServer((ex, n) -> LoopbackServer.serve(ex, other, true))) {
            WeightsFetcher f = fetcher(s, Duration.ofSeconds(5), 1);
            assertThatThrownBy(() -> f.download(PIN)).isInstanceOf(UserError.class)
                    .hasMessageContaining("sha256 " + Hashing.sha256(other))
                    .hasMessageContaining(PIN.sha256())
                    .hasMessageContaining("deleted")
                    .hasMessageContaining("Fix:").hasMessageContaining("WEIGHTS=");
            assertNothingLeft(f);
        }
    }

    @Test
    void wrongSizeIsRefusedBeforeDownloading() throws IOException {
        byte[] longer = Arrays.copyOf(PAYLOAD, PAYLOAD.length + 1);
        try (LoopbackServer s = new LoopbackServer((ex, n) -> LoopbackServer.serve(ex, longer, true))) {
            WeightsFetcher f = fetcher(s, Duration.ofSeconds(5), 1);
            assertThatThrownBy(() -> f.download(PIN)).isInstanceOf(UserError.class)
                    .hasMessageContaining("offers " + longer.length + " bytes")
                    .hasMessageContaining("not the pinned file");
            assertNothingLeft(f);
        }
    }

    @Test
    void silentServerTimesOut() throws IOException {
        try (LoopbackServer s = new LoopbackServer((ex, n) -> LoopbackServer.sleep(4000))) {
            WeightsFetcher f = fetcher(s, Duration.ofMillis(300), 3);
            // the message names the 300 ms read time-out, so the fetcher gave up on its own, before the 4 s silence ended
            assertThatThrownBy(() -> f.download(PIN)).isInstanceOf(UserError.class)
                    .hasMessageContaining("time-out").hasMessageContaining("300 ms")
                    .hasMessageContaining("WEIGHTS=");
            assertThat(s.ranges()).hasSize(1); // nothing arrived, so no retry
            assertNothingLeft(f);
        }
    }

    @Test
    void stallMidBodyKeepsThePartAndTheNextRunResumes() throws IOException {
        int sent = 500_000;
        try (LoopbackServer s = new LoopbackServer((ex, n) -> {
            if (n > 0) {
                LoopbackServer.serve(ex, PAYLOAD, true);
                return;
            }
            ex.sendResponseHeaders(200, PAYLOAD.length);
            OutputStream out = ex.getResponseBody();
            out.write(PAYLOAD, 0, sent);
            out.flush();
            LoopbackServer.sleep(4000);
        })) {
            WeightsFetcher once = fetcher(s, Duration.ofMillis(400), 1);
            assertThatThrownBy(() -> once.download(PIN)).isInstanceOf(UserError.class)
                    .hasMessageContaining("kept at " + once.partPath(PIN))
                    .hasMessageContaining("resumes");
            assertThat(once.cachePath(PIN)).doesNotExist();
            long kept = Files.size(once.partPath(PIN));
            assertThat(kept).isPositive().isLessThanOrEqualTo(sent);
            Path p = fetcher(s, Duration.ofSeconds(5), 1).download(PIN);
            assertThat(s.ranges()).containsExactly(null, "bytes=" + kept + "-");
            assertThat(Files.readAllBytes(p)).isEqualTo(PAYLOAD);
        }
    }

    @Test
    void slowButSteadyBodyIsNotATimeOut() throws IOException {
        // 12 chunks 100 ms apart: 1.2 s in all, twice the 600 ms read time-out, never silent that long
        try (LoopbackServer s = new LoopbackServer((ex, n) -> {
            ex.sendResponseHeaders(200, PAYLOAD.length);
            try (OutputStream out = ex.getResponseBody()) {
                int chunk = PAYLOAD.length / 12 + 1;
                for (int off = 0; off < PAYLOAD.length; off += chunk) {
                    out.write(PAYLOAD, off, Math.min(chunk, PAYLOAD.length - off));
                    out.flush();
                    LoopbackServer.sleep(100);
                }
            }
        })) {
            Path p = fetcher(s, Duration.ofMillis(600), 1).download(PIN);
            assertThat(Files.readAllBytes(p)).isEqualTo(PAYLOAD);
        }
    }

    @Test
    void noServerIsAUserError() throws IOException {
        int port;
        try (ServerSocket probe = new ServerSocket(0, 1, java.net.InetAddress.getLoopbackAddress())) {
            port = probe.getLocalPort(); // free once closed: nothing listens there
        }
        WeightsFetcher f = new WeightsFetcher(new WeightsFetcher.Settings("http://127.0.0.1:" + port,
                tmp.resolve("cache"), Duration.ofSeconds(2), Duration.ofSeconds(2), 3, new PrintStream(progress)));
        assertThatThrownBy(() -> f.download(PIN)).isInstanceOf(UserError.class)
                .hasMessageContaining("cannot connect to 127.0.0.1")
                .hasMessageContaining("copy it to " + f.cachePath(PIN));
        assertNothingLeft(f);
    }

    @Test
    void corruptCachedFileIsDropped() throws IOException {
        try (LoopbackServer s = new LoopbackServer((ex, n) -> LoopbackServer.serve(ex, PAYLOAD, true))) {
            WeightsFetcher f = fetcher(s, Duration.ofSeconds(5), 1);
            Files.createDirectories(f.cachePath(PIN).getParent());
            Files.write(f.cachePath(PIN), randomBytes(PAYLOAD.length, 9));
            assertThat(f.cached(PIN)).isEmpty();
            assertThat(f.cachePath(PIN)).doesNotExist();
            assertThat(s.ranges()).isEmpty();
        }
    }

    @Test
    void urlsAndEnvironment() {
        assertThat(PinnedFile.GPT2_WEIGHTS.url("https://huggingface.co/").toString()).isEqualTo(
                "https://huggingface.co/openai-community/gpt2/resolve/607a30d783dfa663caf39e06633721c8d4cfcd7e/model.safetensors");
        assertThat(PinnedFile.endpoint(Map.of("MILAB_HF_ENDPOINT", "http://mirror:8080"))).isEqualTo("http://mirror:8080");
        assertThat(PinnedFile.endpoint(Map.of())).isEqualTo(PinnedFile.DEFAULT_ENDPOINT);
        WeightsFetcher.Settings st = WeightsFetcher.Settings.fromEnvironment(Map.of("MILAB_CACHE", tmp.toString()));
        assertThat(new WeightsFetcher(st).cachePath(PinnedFile.GPT2_CONFIG)).isEqualTo(
                tmp.resolve("openai-community/gpt2/607a30d783dfa663caf39e06633721c8d4cfcd7e/config.json"));
        assertThat(WeightsFetcher.Settings.fromEnvironment(Map.of()).cacheRoot())
                .isEqualTo(Path.of(System.getProperty("user.home"), ".cache", "milab"));
    }

    private static void assertNothingLeft(WeightsFetcher f) {
        assertThat(f.cachePath(PIN)).doesNotExist();
        assertThat(f.partPath(PIN)).doesNotExist();
    }

    static byte[] randomBytes(int n, long seed) {
        byte[] b = new byte[n];
        SplittableRandom r = new SplittableRandom(seed);
        for (int i = 0; i < n; i++) b[i] = (byte) r.nextInt();
        return b;
    }
}
