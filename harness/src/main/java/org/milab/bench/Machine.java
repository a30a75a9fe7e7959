package org.milab.bench;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;

/** Process and machine probes (Linux /proc; elsewhere they report 0 or "unknown"). */
public final class Machine {
    private Machine() {}

    /** /proc/loadavg: load averages over 1, 5 and 15 minutes, running/all tasks, last pid. */
    public static String loadAverage() {
        try {
            return Files.readString(Path.of("/proc/loadavg")).trim();
        } catch (IOException e) {
            return "unknown";
        }
    }

    /** The 1-minute load average, or NaN when unknown. */
    public static double load1() {
        try {
            return Double.parseDouble(loadAverage().split("\\s+")[0]);
        } catch (NumberFormatException e) {
            return Double.NaN;
        }
    }

    /** Lets the JVM return freed heap, then restarts the kernel's peak-RSS mark from the current RSS. */
    public static void resetPeakRss() {
        System.gc();
        try {
            Files.writeString(Path.of("/proc/self/clear_refs"), "5");
        } catch (IOException | UnsupportedOperationException | SecurityException e) {
            // not Linux, or not allowed: peaks then cover the whole process lifetime (bench.json says so)
        }
    }

    /** Peak resident set size since the last {@link #resetPeakRss()} (VmHWM), in bytes. */
    public static long peakRss() {
        try {
            for (String line : Files.readAllLines(Path.of("/proc/self/status")))
                if (line.startsWith("VmHWM:")) return Long.parseLong(line.replaceAll("[^0-9]", "")) * 1024;
        } catch (IOException | NumberFormatException e) {
            return 0;
        }
        return 0;
    }

    public static Path tempDir(String prefix) {
        try {
            return Files.createTempDirectory(prefix);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** Counter increments since {@code before}. */
    public static Map<String, Long> since(Map<String, Long> now, Map<String, Long> before) {
        Map<String, Long> d = new LinkedHashMap<>();
        now.forEach((k, v) -> d.put(k, v - before.getOrDefault(k, 0L)));
        return d;
    }
}
