package org.milab.model.download;

import org.milab.util.AtomicFiles;
import org.milab.util.Hashing;
import org.milab.util.ProgressBar;
import org.milab.util.UserError;

import java.io.IOException;
import java.io.PrintStream;
import java.io.UncheckedIOException;
import java.net.ConnectException;
import java.net.URI;
import java.net.UnknownHostException;
import java.net.http.HttpClient;
import java.net.http.HttpConnectTimeoutException;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.net.http.HttpTimeoutException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.channels.UnresolvedAddressException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Flow;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Downloads pinned files into a local cache ({@code <cacheRoot>/<repo>/<revision>/<file>}), resuming an
 * interrupted download from {@code <file>.part} with an HTTP Range request, and moves a file into place only
 * after its size and SHA-256 match the pin. Every failure is a {@link UserError} that says how to supply the
 * file by hand; nothing is ever left at the final path unless it verified.
 */
public final class WeightsFetcher {
    public static final String CACHE_ENV = "MILAB_CACHE";

    private static final long POLL_MILLIS = 200;

    /**
     * @param endpoint       base URL of the hub or mirror (see {@link PinnedFile#url(String)})
     * @param cacheRoot      root of the cache
     * @param connectTimeout limit for opening the connection
     * @param readTimeout    limit for waiting on the response headers and for any silence within the body
     * @param attempts       tries per download; a retry happens only after a try that received data
     * @param progress       where the progress bar goes
     */
    public record Settings(String endpoint, Path cacheRoot, Duration connectTimeout, Duration readTimeout,
                           int attempts, PrintStream progress) {
        public Settings {
            if (attempts < 1) throw new IllegalArgumentException("attempts must be >= 1");
        }

        /** Endpoint from {@value PinnedFile#ENDPOINT_ENV}, cache root from {@value #CACHE_ENV} (else ~/.cache/milab). */
        public static Settings fromEnvironment(Map<String, String> env) {
            String cache = env.get(CACHE_ENV);
            Path root = cache == null || cache.isBlank()
                    ? Path.of(System.getProperty("user.home"), ".cache", "milab") : Path.of(cache.strip());
            return new Settings(PinnedFile.endpoint(env), root, Duration.ofSeconds(30), Duration.ofSeconds(60),
                    5, System.err);
        }
    }

    private final Settings settings;
    private final HttpClient client;

    public WeightsFetcher(Settings settings) {
        this.settings = settings;
        this.client = HttpClient.newBuilder()
                .followRedirects(HttpClient.Redirect.NORMAL) // the hub redirects to a CDN
                .connectTimeout(settings.connectTimeout())
                .version(HttpClient.Version.HTTP_1_1)
                .build();
    }

    public Settings settings() {
        return settings;
    }

    /** Where a pinned file lives once fetched. */
    public Path cachePath(PinnedFile pin) {
        return settings.cacheRoot().resolve(pin.repo()).resolve(pin.revision()).resolve(pin.fileName());
    }

    /** The partial download kept between attempts and runs. */
    public Path partPath(PinnedFile pin) {
        return cachePath(pin).resolveSibling(pin.fileName() + ".part");
    }

    /**
     * The cached file if present and matching its pin. A cached file that fails verification is deleted
     * (it can only be a corrupted copy), so the caller downloads it again.
     */
    public Optional<Path> cached(PinnedFile pin) {
        Path p = cachePath(pin);
        if (!Files.isRegularFile(p)) return Optional.empty();
        if (size(p) == pin.size() && Hashing.sha256(p).equals(pin.sha256())) return Optional.of(p);
        settings.progress().println("Cached " + p + " does not match its pinned size/sha256; deleting it and"
                + " downloading again.");
        delete(p);
        return Optional.empty();
    }

    /** Downloads (or resumes), verifies and installs the file; returns {@link #cachePath}. */
    public Path download(PinnedFile pin) {
        Path target = cachePath(pin), part = partPath(pin);
        URI url = pin.url(settings.endpoint());
        try {
            Files.createDirectories(target.getParent());
        } catch (IOException e) {
            throw failure(pin, url, "cannot create the cache folder " + target.getParent() + " (" + e.getMessage()
                    + ")", false);
        }
        try (Progress bar = new Progress(pin)) {
            for (int attempt = 1; ; attempt++) {
                long have = size(part);
                if (have > pin.size()) {
                    delete(part);
                    have = 0;
                }
                if (have == pin.size()) break;
                Outcome o = transfer(pin, url, part, have, bar);
                if (o == Outcome.COMPLETE) continue; // the loop head sees the full size
                if (o == Outcome.RESTART) delete(part);
                if (attempt >= settings.attempts()) {
                    throw o == Outcome.RESTART
                            ? failure(pin, url, "the server kept answering resume requests with the wrong byte"
                            + " range", false)
                            : failure(pin, url, "the connection broke " + attempt + " time(s); " + size(part)
                            + " of " + pin.size() + " bytes arrived. The partial file is kept at " + part
                            + " and the next run resumes it", true);
                }
                sleepBeforeRetry(attempt);
            }
        }
        verify(pin, url, part);
        try {
            AtomicFiles.moveAtomically(part, target);
        } catch (IOException e) {
            throw failure(pin, url, "cannot move the verified download into " + target + " (" + e.getMessage() + ")",
                    false);
        }
        return target;
    }

    // ---------------------------------------------------------------- one HTTP exchange

    private enum Outcome { COMPLETE, BROKEN, RESTART }

    private Outcome transfer(PinnedFile pin, URI url, Path part, long have, Progress bar) {
        HttpRequest.Builder rb = HttpRequest.newBuilder(url).timeout(settings.readTimeout()).GET()
                .header("User-Agent", "milab-jvm");
        if (have > 0) rb.header("Range", "bytes=" + have + "-");
        PartWriter w = new PartWriter(part, have, pin.size());
        CompletableFuture<HttpResponse<Void>> cf = client.sendAsync(rb.build(), w);
        long idleLimit = settings.readTimeout().toNanos();
        long headerLimit = settings.connectTimeout().toNanos() + idleLimit;
        while (true) {
            try {
                HttpResponse<Void> r = cf.get(POLL_MILLIS, TimeUnit.MILLISECONDS);
                if (w.started()) bar.set(w.position());
                return outcome(pin, url, part, have, r.statusCode(), w);
            } catch (TimeoutException stillRunning) {
                if (w.started()) bar.set(w.position());
                if (w.idleNanos() > (w.started() ? idleLimit : headerLimit)) {
                    w.abort();
                    cf.cancel(true);
                    if (w.position() > have) return Outcome.BROKEN; // data flowed: worth resuming
                    throw failure(pin, url, "no data arrived for " + seconds(settings.readTimeout())
                            + " (read time-out)", false);
                }
            } catch (ExecutionException e) {
                w.abort();
                return failed(pin, url, have, w, e.getCause());
            } catch (InterruptedException e) {
                w.abort();
                cf.cancel(true);
                Thread.currentThread().interrupt();
                throw failure(pin, url, "the download was interrupted", size(part) > 0);
            }
        }
    }

    private Outcome outcome(PinnedFile pin, URI url, Path part, long have, int status, PartWriter w) {
        if (w.sizeProblem != null) {
            delete(part);
            throw failure(pin, url, w.sizeProblem + "; the pin says " + pin.size() + " bytes, so this is not the"
                    + " pinned file", false);
        }
        if (w.rangeRejected) return Outcome.RESTART; // a 206 for bytes we did not ask for: start over
        if (status == 416 && have > 0) return Outcome.RESTART; // our partial file does not fit the remote one
        if (status != 200 && status != 206)
            throw failure(pin, url, "the server answered HTTP " + status + describe(status), false);
        if (w.position() == pin.size()) return Outcome.COMPLETE;
        // the body ended early without an error (connection closed without a length): resume if it moved
        if (w.position() > have) return Outcome.BROKEN;
        throw failure(pin, url, "the server sent an empty or short body", false);
    }

    private Outcome failed(PinnedFile pin, URI url, long have, PartWriter w, Throwable cause) {
        if (has(cause, HttpConnectTimeoutException.class))
            throw failure(pin, url, "connecting timed out after " + seconds(settings.connectTimeout()), false);
        if (has(cause, HttpTimeoutException.class))
            throw failure(pin, url, "no response within " + seconds(settings.readTimeout()) + " (read time-out)",
                    false);
        if (has(cause, ConnectException.class) || has(cause, UnresolvedAddressException.class)
                || has(cause, UnknownHostException.class))
            throw failure(pin, url, "cannot connect to " + url.getHost() + " (" + (has(cause, ConnectException.class)
                    ? "the connection was refused or the host is unreachable" : "the host name cannot be resolved")
                    + "); this machine may have no network access", false);
        if (w.position() > have) return Outcome.BROKEN;
        throw failure(pin, url, "the connection failed (" + describe(cause) + ")", false);
    }

    private void verify(PinnedFile pin, URI url, Path part) {
        long n = size(part);
        if (n != pin.size()) {
            delete(part);
            throw failure(pin, url, "the download has " + n + " bytes but the pin says " + pin.size()
                    + "; it was deleted", false);
        }
        String sha = Hashing.sha256(part);
        if (!sha.equals(pin.sha256())) {
            delete(part);
            throw failure(pin, url, "the downloaded file has sha256 " + sha + " but the pin requires "
                    + pin.sha256() + "; the download was deleted", false);
        }
    }

    // ---------------------------------------------------------------- body subscriber

    /**
     * Decides from the status line whether to append (206 at our offset), start over (200) or drop the body,
     * then streams the body into the part file. Runs on the HTTP client's threads; the caller polls it.
     */
    private static final class PartWriter implements HttpResponse.BodyHandler<Void>, HttpResponse.BodySubscriber<Void> {
        private static final Pattern CONTENT_RANGE = Pattern.compile("bytes (\\d+)-(\\d+)/(\\d+|\\*)");

        private final Path part;
        private final long offset;
        private final long total;
        private final CompletableFuture<Void> body = new CompletableFuture<>();
        private volatile long position;
        private volatile long lastActivity = System.nanoTime();
        private volatile boolean started;
        volatile String sizeProblem;
        volatile boolean rangeRejected;
        private boolean write;
        private boolean aborted;
        private FileChannel ch;
        private Flow.Subscription subscription;

        PartWriter(Path part, long offset, long total) {
            this.part = part;
            this.offset = offset;
            this.total = total;
            this.position = offset;
        }

        long position() { return position; }
        boolean started() { return started; }
        long idleNanos() { return System.nanoTime() - lastActivity; }

        @Override
        public synchronized HttpResponse.BodySubscriber<Void> apply(HttpResponse.ResponseInfo info) {
            started = true;
            lastActivity = System.nanoTime();
            int status = info.statusCode();
            long length = info.headers().firstValueAsLong("Content-Length").orElse(-1);
            try {
                if (status == 200) {
                    if (length >= 0 && length != total) sizeProblem = "the server offers " + length + " bytes";
                    else open(0, StandardOpenOption.TRUNCATE_EXISTING);
                } else if (status == 206) {
                    Matcher m = CONTENT_RANGE.matcher(info.headers().firstValue("Content-Range").orElse(""));
                    if (!m.matches() || Long.parseLong(m.group(1)) != offset) rangeRejected = true;
                    else if (!m.group(3).equals("*") && Long.parseLong(m.group(3)) != total)
                        sizeProblem = "the server offers " + m.group(3) + " bytes";
                    else open(offset, StandardOpenOption.APPEND);
                }
            } catch (IOException e) {
                throw new UncheckedIOException("Cannot write " + part + ": " + e.getMessage(), e);
            }
            return this;
        }

        private void open(long at, StandardOpenOption mode) throws IOException {
            ch = FileChannel.open(part, StandardOpenOption.CREATE, StandardOpenOption.WRITE, mode);
            position = at;
            write = true;
        }

        @Override
        public synchronized void onSubscribe(Flow.Subscription s) {
            subscription = s;
            if (!write || aborted) { // nothing we want from this body: drop the connection instead of reading it
                s.cancel();
                body.complete(null);
            } else {
                s.request(1);
            }
        }

        @Override
        public synchronized void onNext(List<ByteBuffer> items) {
            if (aborted || body.isDone()) return;
            try {
                for (ByteBuffer b : items) {
                    if (position + b.remaining() > total) {
                        sizeProblem = "the server sent more than " + total + " bytes";
                        abort();
                        body.complete(null);
                        return;
                    }
                    while (b.hasRemaining()) position += ch.write(b);
                }
            } catch (IOException e) {
                abort();
                body.completeExceptionally(e);
                return;
            }
            lastActivity = System.nanoTime();
            subscription.request(1);
        }

        @Override
        public synchronized void onError(Throwable t) {
            closeChannel();
            body.completeExceptionally(t);
        }

        @Override
        public synchronized void onComplete() {
            closeChannel();
            body.complete(null);
        }

        @Override
        public CompletionStage<Void> getBody() {
            return body;
        }

        /** Stops writing at once (time-out, error); later callbacks are ignored. */
        synchronized void abort() {
            aborted = true;
            if (subscription != null) subscription.cancel();
            closeChannel();
        }

        private void closeChannel() {
            if (ch == null) return;
            try {
                ch.close();
            } catch (IOException ignored) {
                // the size and hash checks catch whatever did not reach the disk
            }
            ch = null;
        }
    }

    /** A progress bar that appears only once a server answers, so a failed connection prints no 0% line. */
    private final class Progress implements AutoCloseable {
        private final PinnedFile pin;
        private ProgressBar bar;

        Progress(PinnedFile pin) {
            this.pin = pin;
        }

        void set(long bytes) {
            if (bar == null) {
                boolean tty = settings.progress() == System.err && System.console() != null;
                bar = new ProgressBar("Downloading " + pin.fileName(), pin.size(), "B", settings.progress(), tty);
            }
            bar.set(bytes);
        }

        @Override
        public void close() {
            if (bar != null) bar.close();
        }
    }

    // ---------------------------------------------------------------- helpers

    private UserError failure(PinnedFile pin, URI url, String what, boolean partialKept) {
        String how = pin.fileName().endsWith(".safetensors")
                ? "point WEIGHTS at it (e.g. WEIGHTS=/path/" + pin.fileName() + " make export)"
                : pin.equals(PinnedFile.GPT2_VOCAB) || pin.equals(PinnedFile.GPT2_MERGES)
                // the export reads an offline tokenizer only from a folder of OpenAI's two BPE files, never beside the weights
                ? "save " + PinnedFile.GPT2_VOCAB.fileName() + " as encoder.json and " + PinnedFile.GPT2_MERGES.fileName()
                        + " as vocab.bpe in one folder and set MILAB_GPT2_BPE=<that folder> (or milab export --gpt2-bpe <folder>)"
                : "put it beside the weights file";
        return new UserError("Downloading " + pin.fileName() + " (" + pin.repo() + " at revision "
                + pin.revision() + ") from " + url + " failed: " + what + "."
                + (partialKept ? "" : " No file was left in the cache."),
                "Fetch " + url + " (" + pin.size() + " bytes, sha256 " + pin.sha256() + ") on a machine with"
                        + " network access, then either copy it to " + cachePath(pin) + " or " + how
                        + "; or set " + PinnedFile.ENDPOINT_ENV + " to a reachable mirror. " + PinnedFile.WITHOUT_GPT2);
    }

    private static String describe(int status) {
        return switch (status) {
            case 401, 403 -> " (access denied)";
            case 404 -> " (not found: the repository, revision or file name is wrong for this endpoint)";
            case 429 -> " (rate limited)";
            default -> status >= 500 ? " (server error)" : "";
        };
    }

    /** The cause in words for the user: its message, else its kind (a Java class name is no help to a user). */
    private static String describe(Throwable t) {
        String m = t.getMessage();
        return m == null || m.isBlank() ? t.getClass().getSimpleName().replace("Exception", " error") : m;
    }

    private static boolean has(Throwable t, Class<? extends Throwable> type) {
        for (Throwable c = t; c != null; c = c.getCause()) if (type.isInstance(c)) return true;
        return false;
    }

    private static String seconds(Duration d) {
        return d.toMillis() % 1000 == 0 ? d.toSeconds() + " s" : d.toMillis() + " ms";
    }

    private static long size(Path p) {
        try {
            return Files.isRegularFile(p) ? Files.size(p) : 0;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private static void delete(Path p) {
        try {
            Files.deleteIfExists(p);
        } catch (IOException e) {
            throw new UncheckedIOException("Cannot delete " + p + ": " + e.getMessage(), e);
        }
    }

    private static void sleepBeforeRetry(int attempt) {
        try {
            Thread.sleep(Math.min(200L * attempt, 2000L));
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
