package org.milab.model.download;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;

import java.io.IOException;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * An HTTP server on 127.0.0.1 (ephemeral port) for download tests. It records each request's Range header,
 * and stops itself after {@link #MAX_LIFETIME_SECONDS} even if a test forgets to close it.
 */
final class LoopbackServer implements AutoCloseable {
    static final int MAX_LIFETIME_SECONDS = 60;
    private static final Pattern RANGE = Pattern.compile("bytes=(\\d+)-");

    /** Answers request number {@code n} (0-based). */
    interface Handler {
        void handle(HttpExchange ex, int n) throws IOException;
    }

    private final HttpServer server;
    private final ExecutorService pool = Executors.newFixedThreadPool(4, r -> {
        Thread t = new Thread(r, "loopback-http");
        t.setDaemon(true);
        return t;
    });
    private final List<String> ranges = new ArrayList<>();
    /** Released on close; the reaper thread waits on it. */
    private final CountDownLatch closing = new CountDownLatch(1);

    LoopbackServer(Handler handler) throws IOException {
        server = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 0);
        server.createContext("/", ex -> {
            int n;
            synchronized (ranges) {
                n = ranges.size();
                ranges.add(ex.getRequestHeaders().getFirst("Range"));
            }
            try {
                handler.handle(ex, n);
            } catch (IOException ignored) {
                // the client went away (as time-out tests intend)
            } finally {
                ex.close();
            }
        });
        server.setExecutor(pool);
        server.start();
        Thread reaper = new Thread(() -> {
            try {
                if (!closing.await(MAX_LIFETIME_SECONDS, TimeUnit.SECONDS)) close();
            } catch (InterruptedException ignored) {
                // exit
            }
        }, "loopback-reaper");
        reaper.setDaemon(true);
        reaper.start();
    }

    String endpoint() {
        return "http://127.0.0.1:" + server.getAddress().getPort();
    }

    /** The Range header of each request so far (null where absent). */
    List<String> ranges() {
        synchronized (ranges) {
            return new ArrayList<>(ranges);
        }
    }

    @Override
    public void close() {
        closing.countDown();
        server.stop(0);
        pool.shutdownNow();
    }

    /** A bounded stall inside a handler; {@link #close} interrupts it. */
    static void sleep(long millis) {
        try {
            Thread.sleep(millis);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    // ---- canned behaviours

    /** Serves {@code data}, honouring {@code Range: bytes=N-} with a 206. */
    static void serve(HttpExchange ex, byte[] data, boolean honourRange) throws IOException {
        String range = ex.getRequestHeaders().getFirst("Range");
        Matcher m = range == null ? null : RANGE.matcher(range);
        int from = 0;
        if (honourRange && m != null && m.matches()) {
            from = Integer.parseInt(m.group(1));
            ex.getResponseHeaders().add("Content-Range", "bytes " + from + "-" + (data.length - 1) + "/" + data.length);
            ex.sendResponseHeaders(206, data.length - from);
        } else {
            ex.sendResponseHeaders(200, data.length);
        }
        try (OutputStream out = ex.getResponseBody()) {
            out.write(data, from, data.length - from);
        }
    }

    /** Announces the full length, sends only {@code sent} bytes, then drops the connection. */
    static void serveCut(HttpExchange ex, byte[] data, int sent) throws IOException {
        ex.sendResponseHeaders(200, data.length);
        OutputStream out = ex.getResponseBody();
        out.write(data, 0, sent);
        out.flush();
        // an exception escaping the handler makes HttpServer close the socket: the client sees a short body
        throw new CutConnection();
    }

    /** Thrown by a handler to drop the connection mid-response. */
    static final class CutConnection extends RuntimeException {
        CutConnection() {
            super("connection cut on purpose", null, false, false);
        }
    }
}
