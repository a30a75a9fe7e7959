package org.milab.util;

import java.io.PrintStream;
import java.util.Locale;

/**
 * A progress bar on stderr with rate and ETA. On a terminal it redraws one line (clearing what a longer
 * earlier drawing left behind); elsewhere (CI, pipes) it prints a line at most every few seconds so logs
 * stay short. Thread-confined: call from one thread. {@link StepCounter} gives the overall "step i of n".
 */
public final class ProgressBar implements AutoCloseable {
    private static final long LOG_INTERVAL_NANOS = 5_000_000_000L;
    private static final long TTY_INTERVAL_NANOS = 200_000_000L;
    /** Carriage return, the line, then "erase to end of line": no stray characters from a longer drawing. */
    static final String CLEAR_TO_EOL = "\033[K";

    private final String label;
    private final long total;
    private final String unit;
    private final PrintStream out;
    private final boolean tty;
    private final long start = System.nanoTime();
    private long done;
    private long lastDraw;
    private long lastDrawnValue = -1;
    private boolean closed;

    public ProgressBar(String label, long total, String unit) {
        this(label, total, unit, System.err, System.console() != null);
    }

    public ProgressBar(String label, long total, String unit, PrintStream out, boolean tty) {
        this.label = label;
        this.total = Math.max(total, 0);
        this.unit = unit;
        this.out = out;
        this.tty = tty;
        this.lastDraw = start - LOG_INTERVAL_NANOS; // draw at the first step
    }

    public void step(long n) {
        set(done + n);
    }

    public void set(long value) {
        done = value;
        long now = System.nanoTime();
        if (now - lastDraw >= (tty ? TTY_INTERVAL_NANOS : LOG_INTERVAL_NANOS)) {
            lastDraw = now;
            draw(now, false);
        }
    }

    public long done() {
        return done;
    }

    /** The line as it would be drawn now; public for tests. */
    public String render(long nowNanos) {
        double secs = Math.max((nowNanos - start) / 1e9, 1e-9);
        double rate = done / secs;
        StringBuilder sb = new StringBuilder(label).append(' ');
        if (total > 0) {
            double frac = Math.min(1.0, (double) done / total);
            int width = 24, fill = (int) Math.round(frac * width);
            sb.append('[').append("#".repeat(fill)).append(".".repeat(width - fill)).append("] ");
            sb.append(String.format(Locale.ROOT, "%5.1f%% %s/%s %s", 100 * frac, human(done), human(total), unit));
            if (done > 0 && done < total) sb.append(" ETA ").append(duration((total - done) / rate));
        } else {
            sb.append(human(done)).append(' ').append(unit);
        }
        String r = rate < 10 ? String.format(Locale.ROOT, "%.1f", rate) : human((long) rate);
        sb.append(String.format(Locale.ROOT, " (%s %s/s, %s elapsed)", r, unit, duration(secs)));
        return sb.toString();
    }

    private void draw(long now, boolean last) {
        lastDrawnValue = done;
        String line = render(now);
        if (tty) {
            out.print("\r" + line + CLEAR_TO_EOL + (last ? "\n" : ""));
        } else {
            out.println(line);
        }
        out.flush();
    }

    @Override
    public void close() {
        if (closed) return;
        closed = true;
        if (tty || done != lastDrawnValue) draw(System.nanoTime(), true);
    }

    static String human(long v) {
        if (v >= 10_000_000_000L) return String.format(Locale.ROOT, "%.1fG", v / 1e9);
        if (v >= 10_000_000L) return String.format(Locale.ROOT, "%.1fM", v / 1e6);
        if (v >= 100_000L) return String.format(Locale.ROOT, "%.1fk", v / 1e3);
        return Long.toString(v);
    }

    static String duration(double secs) {
        if (!Double.isFinite(secs)) return "?";
        long s = Math.round(secs);
        if (s >= 3600) return String.format(Locale.ROOT, "%dh%02dm", s / 3600, (s % 3600) / 60);
        if (s >= 60) return String.format(Locale.ROOT, "%dm%02ds", s / 60, s % 60);
        return s + "s";
    }
}
