package org.milab.cli;

import org.milab.engine.FlopCount;
import org.milab.model.ModelConfig;
import org.milab.util.UserError;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;

/**
 * What a command's counts would cost, estimated from the model's shape before anything runs, and refused when
 * it cannot fit: memory above this JVM's heap, or time above {@link #maxHours()}. Every estimate is a LOWER
 * bound (only the largest structure a stage must hold; forward passes at the machine's nominal MatMul
 * ceiling; bootstrap draws at one per nanosecond), so a count it refuses can never have worked, while one it
 * accepts may still be slow. {@code ResourceEstimateTest} checks it stays below measured runs.
 */
final class ResourceEstimate {
    /** The nominal fp32 MatMul ceiling of the README's benchmark machine (2 threads), an upper bound of any pass. */
    static final double FLOPS_PER_SECOND = 400e9;
    /** Bootstrap draws per second: one resampled index and one addition take more than a nanosecond. */
    static final double DRAWS_PER_SECOND = 1e9;
    /** Longest run accepted unless {@code MILAB_MAX_HOURS} says otherwise. */
    static final double DEFAULT_MAX_HOURS = 72;
    static final String MAX_HOURS_ENV = "MILAB_MAX_HOURS";

    /** One stage's cost: the most memory it must hold at once, its FLOPs and its bootstrap draws. */
    record Need(double bytes, double flops, double draws) {
        Need plus(Need o) {
            return new Need(Math.max(bytes, o.bytes), flops + o.flops, draws + o.draws);
        }

        double seconds() {
            return flops / FLOPS_PER_SECOND + draws / DRAWS_PER_SECOND;
        }
    }

    /** A count option as given, beside its default: the one furthest above its default is named first. */
    record Count(String flag, long value, long byDefault) {}

    private ResourceEstimate() {}

    /** The exported model's shape, or null when it is not exported (opening it then says so). */
    static ModelConfig configOf(Path root, String model) {
        Path cfg = root.resolve("graphs").resolve(model).resolve("config.json");
        if (!Files.isRegularFile(cfg)) return null;
        try {
            return ModelConfig.read(cfg);
        } catch (IllegalArgumentException e) {
            return null; // a damaged export: opening the model names the file
        }
    }

    static double maxHours() {
        String env = System.getenv(MAX_HOURS_ENV);
        if (env == null || env.isBlank()) return DEFAULT_MAX_HOURS;
        try {
            double h = Double.parseDouble(env.trim());
            if (h > 0) return h;
        } catch (NumberFormatException ignored) {
            // falls through to the message below
        }
        throw new UserError(MAX_HOURS_ENV + "=" + env + " is not a positive number of hours.", "Unset it or set e.g. "
                + MAX_HOURS_ENV + "=168.");
    }

    /** Refuses {@code need} when it cannot fit, naming the counts (largest relative to its default first). */
    static void require(String command, ModelConfig c, Need need, Count... counts) {
        double heap = Runtime.getRuntime().maxMemory(), hours = need.seconds() / 3600, limit = maxHours();
        boolean memory = need.bytes() > heap, time = hours > limit;
        if (!memory && !time) return;
        Count worst = counts[0];
        for (Count k : counts)
            if ((double) k.value() / Math.max(1, k.byDefault()) > (double) worst.value() / Math.max(1, worst.byDefault())) worst = k;
        StringBuilder given = new StringBuilder();
        for (Count k : counts) given.append(given.length() == 0 ? "" : ", ").append(k.flag()).append(' ').append(k.value());
        String estimate = String.format(Locale.ROOT, "by an estimate that is a lower bound (model %d layers x %d heads, "
                        + "d_model %d), it needs at least %s of memory at once and at least %s", c.nLayer(), c.nHead(),
                c.dModel(), bytes(need.bytes()), duration(need.seconds()));
        String limits = String.format(Locale.ROOT, "this JVM may use %s (-Xmx, JAVA_OPTS) and runs may take %s (%s)",
                bytes(heap), duration(limit * 3600), MAX_HOURS_ENV);
        throw new UserError(worst.flag() + " " + worst.value() + " is too large for " + command + " here: " + estimate
                + "; " + limits + ". Counts: " + given + ".",
                "Lower " + worst.flag() + " (default " + worst.byDefault() + ")"
                        + (time && !memory ? ", or allow a longer run with " + MAX_HOURS_ENV + "=<hours>" : "")
                        + (memory ? ", or give the JVM more memory (JAVA_OPTS=-Xmx...)" : "") + ".");
    }

    /** Tokens of the longest prompt a stage captures, as far as the model reads. */
    private static int tokens(ModelConfig c, int wanted) {
        return Math.max(2, Math.min(c.nPositions(), wanted));
    }

    /** A cached clean run: every layer's hook_z and residual stream at every position, plus the final logits. */
    static double captureBytes(ModelConfig c, int tokens) {
        return 4.0 * ((double) tokens * c.nLayer() * c.dModel() * 2 + c.vocabSize());
    }

    /** A patched row recomputed from the middle layer on, at every position (about half a forward). */
    static double rowFlops(ModelConfig c, int tokens) {
        return FlopCount.minimalRow(c, c.nLayer() / 2, 1, tokens, 2);
    }

    /**
     * Protocol v2: per seed and family, the captures of each pair's clean, corrupt and donor prompts and the
     * patch rows of every head x 4 single-head interventions (each holding one head's z at every position); the
     * attention probes of one length and seed (every head's pattern); every causal test's bootstrap.
     */
    static Need v2(ModelConfig c, int seeds, long prompts, long probes, long resamples) {
        // the "longer" family's sequences are 24 tokens, so its prompts have at least 24
        int families = 5, interventions = 4, t = tokens(c, 24);
        double heads = (double) c.nLayer() * c.nHead();
        double pairs = (double) families * prompts * seeds;
        double group = 3.0 * prompts * captureBytes(c, t) + prompts * heads * interventions * 4.0 * t * c.dHead();
        double probeSet = (double) probes * heads * t * t * 4;
        double bootstrap = 16.0 * resamples;
        double flops = pairs * 3 * FlopCount.capture(c, t) + pairs * heads * interventions * rowFlops(c, t)
                + 3.0 * probes * seeds * FlopCount.capture(c, t);
        double draws = (double) resamples * pairs * heads * interventions;
        return new Need(Math.max(group, Math.max(probeSet, bootstrap)), flops, draws);
    }

    /**
     * The reference chain: six families per prompt set, each prompt and its control captured (counted: only
     * their final logits, at only 8 tokens each); the head sweep patches every head on every swept example; the
     * held-out pass every head (at most) on every scored example, in two frames. Counts that a command does not
     * run are passed as 0.
     */
    static Need reference(ModelConfig c, int controlSeeds, long controlsPerFamily, long sweepPerFamily,
                          int heldoutSeeds, long heldoutGenerated, long heldoutScored) {
        int families = 6, t = tokens(c, 8);
        double heads = (double) c.nLayer() * c.nHead();
        double perPrompt = 4.0 * c.vocabSize();
        double set = 2.0 * families * Math.max(controlsPerFamily, heldoutGenerated) * perPrompt;
        double captures = 2.0 * families * ((double) controlSeeds * controlsPerFamily + (double) heldoutSeeds * heldoutGenerated);
        double rows = (double) families * heads * ((double) controlSeeds * sweepPerFamily + 2.0 * heldoutSeeds * heldoutScored);
        return new Need(set, captures * FlopCount.capture(c, t) + rows * rowFlops(c, t), 0);
    }

    /**
     * Attribution patching: every pair's clean and corrupt forward and backward (about three forwards) at every
     * integrated-gradient step; every node's attribution at every position in both directions kept for the
     * tables; the exact verification patches every head at every position of the verified pairs.
     */
    static Need attribution(ModelConfig c, long pairs, int length, long verifyPairs, long resamples, long igSteps, boolean star) {
        int t = tokens(c, 2 * length + 1);
        double heads = (double) c.nLayer() * c.nHead(), nodes = heads + 2.0 * c.nLayer() + 1;
        double table = pairs * nodes * t * 2 * (igSteps > 0 ? 2 : 1) * 8.0;
        double flops = pairs * 2.0 * (1 + igSteps) * 3 * FlopCount.capture(c, t) + verifyPairs * heads * t * rowFlops(c, t)
                + (star ? pairs * starFlops(c, t, nodes) : 0);
        return new Need(Math.max(table, 16.0 * resamples), flops, (double) resamples * pairs * heads);
    }

    /**
     * AtP*'s QK fix per pair (Java arithmetic, no pass): q, k, v and W_Q k, W_K q per block (5 t d^2 multiply-adds), then per
     * node, position, later block (about half the blocks on average) and head a logit shift of t dot products of d_model.
     */
    static double starFlops(ModelConfig c, int t, double nodes) {
        double d = c.dModel();
        return 2 * (c.nLayer() * 5.0 * t * d * d + nodes * t * (c.nLayer() / 2.0) * c.nHead() * t * d);
    }

    static String bytes(double b) {
        String[] units = {"B", "KB", "MB", "GB", "TB", "PB", "EB"};
        int u = 0;
        while (b >= 1024 && u < units.length - 1) {
            b /= 1024;
            u++;
        }
        return String.format(Locale.ROOT, b >= 100 || u == 0 ? "%.0f %s" : "%.1f %s", b, units[u]);
    }

    static String duration(double seconds) {
        Map<String, Double> units = new LinkedHashMap<>();
        units.put("years", 365.25 * 86400);
        units.put("days", 86400.0);
        units.put("hours", 3600.0);
        units.put("minutes", 60.0);
        for (Map.Entry<String, Double> u : units.entrySet())
            if (seconds >= 2 * u.getValue()) return String.format(Locale.ROOT, "%.3g %s", seconds / u.getValue(), u.getKey());
        return String.format(Locale.ROOT, "%.3g seconds", seconds);
    }
}
