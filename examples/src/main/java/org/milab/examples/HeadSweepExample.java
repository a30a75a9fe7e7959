package org.milab.examples;

import org.milab.api.ActivationCache;
import org.milab.api.HookedModel;
import org.milab.api.Patch;
import org.milab.api.PatchResults;
import org.milab.api.PatchValue;
import org.milab.api.PatchedRun;

import java.io.PrintStream;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * Every head patched from the corrupt run, one run per head, all in ONE runWithPatches call: the change of
 * logit(' D') - logit(' H') per head. Args: [model].
 */
public final class HeadSweepExample {
    private HeadSweepExample() {}

    public static void main(String[] args) {
        run(System.out, args);
    }

    static void run(PrintStream out, String... args) {
        try (HookedModel model = HookedModel.open(args.length > 0 ? args[0] : "planted-induction")) {
            int[] clean = model.toTokens("A B C D A B C"), corrupt = model.toTokens("E F G H A B C");
            int d = model.toSingleToken(" D"), wrong = model.toSingleToken(" H");
            int layers = model.config().nLayer(), heads = model.config().nHead();
            List<String> names = new ArrayList<>();
            for (int l = 0; l < layers; l++) names.add("blocks." + l + ".attn.hook_z");
            ActivationCache corruptCache = model.runWithCache(corrupt, names.toArray(String[]::new));
            List<PatchedRun> runs = new ArrayList<>(List.of(PatchedRun.of(clean)));
            for (int l = 0; l < layers; l++)
                for (int h = 0; h < heads; h++) runs.add(PatchedRun.of(clean, Patch.head(l, h, -1, PatchValue.from(corruptCache, 0))));
            PatchResults res = model.runWithPatches(runs);
            double base = res.logitDiff(0, d, wrong);
            out.printf(Locale.ROOT, "clean logit difference %.3f; change when each head is patched:%n", base);
            for (int l = 0; l < layers; l++) {
                StringBuilder row = new StringBuilder("L" + l + ":");
                for (int h = 0; h < heads; h++)
                    row.append(String.format(Locale.ROOT, " %8.3f", noNegativeZero(res.logitDiff(1 + l * heads + h, d, wrong) - base)));
                out.println(row);
            }
        }
    }

    /** A change that rounds to 0 prints as 0.000, never -0.000 (float noise must not flip a printed sign). */
    static double noNegativeZero(double x) {
        return Math.abs(x) < 0.0005 ? 0.0 : x;
    }
}
