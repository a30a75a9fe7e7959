package org.milab.cli;

import org.milab.util.UserError;

import java.util.Arrays;
import java.util.List;

/**
 * The one place option values are checked: integer ranges, seed lists (distinct, 0..1e9), and, through
 * {@link ResourceEstimate}, the memory and time a command's counts would take. Every command calls these
 * before it opens a model or touches a run folder, so a bad value costs nothing and names its flag.
 */
final class OptionChecks {
    private OptionChecks() {}

    /** Bounds of the numeric options: beyond them a run cannot work (int overflow, memory, seed range). */
    static final int MAX_THREADS = 1024, MAX_BATCH_ROWS = 4096, MAX_PER_FAMILY = 10_000, MAX_SEED = 1_000_000_000,
            MAX_SEEDS = 100;

    /** {@code value} in [{@code min}, {@code max}], else a message naming {@code flag} and the range. */
    static void bounded(String flag, long value, long min, long max) {
        bounded(flag, value, min, max, null);
    }

    /** The same, with the reason for the range ({@code why}, e.g. what the protocol needs) in the message. */
    static void bounded(String flag, long value, long min, long max, String why) {
        if (value < min || value > max)
            throw new UserError(flag + " " + value + " is out of range: it must be between " + min + " and " + max
                    + (why == null ? "." : " (" + why + ")."),
                    "Pass a value in that range" + (flag.equals("--batch-rows") ? " (default 128)." : "."));
    }

    /** An on|off switch: true for on; anything else is a message naming {@code flag} and what each value does. */
    static boolean onOff(String flag, String value, String on, String off) {
        if (!value.equals("on") && !value.equals("off"))
            throw new UserError(flag + " '" + value + "' is neither on nor off.",
                    "Pass " + flag + " on (" + on + ") or off (" + off + ").");
        return value.equals("on");
    }

    /**
     * A comma-separated seed list: integers, 1 to {@link #MAX_SEEDS} of them, each once (a repeated seed would
     * score the same prompts twice and make every interval too narrow), each in 0..{@link #MAX_SEED}.
     */
    static List<Integer> seeds(String flag, String text, String example) {
        List<Integer> seeds;
        try {
            seeds = Arrays.stream(text.split(",")).map(String::trim).filter(x -> !x.isEmpty()).map(Integer::parseInt).toList();
        } catch (NumberFormatException e) {
            throw new UserError(flag + " '" + text + "' is not a comma-separated list of integers.", "e.g. " + example);
        }
        if (seeds.isEmpty() || seeds.size() > MAX_SEEDS)
            throw new UserError(flag + " '" + text + "' must list between 1 and " + MAX_SEEDS + " seeds.", "e.g. " + example);
        if (seeds.stream().distinct().count() != seeds.size())
            throw new UserError(flag + " '" + text + "' repeats a seed: its prompts would be scored twice and every "
                    + "interval would come out too narrow.", "List each seed once, e.g. " + example);
        for (int seed : seeds) bounded(flag + " seed", seed, 0, MAX_SEED);
        return seeds;
    }

    /**
     * A folder a command will create or write into: refused when a file stands where the folder or one of its
     * parents must be (it would fail only after the work is done).
     */
    static void outputFolder(String flag, java.nio.file.Path folder) {
        java.nio.file.Path existing = folder.toAbsolutePath();
        while (existing != null && !java.nio.file.Files.exists(existing)) existing = existing.getParent();
        if (existing != null && !java.nio.file.Files.isDirectory(existing))
            throw new UserError(flag + " " + folder + " cannot be a folder: " + existing + " is a file.",
                    "Pass a folder (it is created when missing).");
    }
}
