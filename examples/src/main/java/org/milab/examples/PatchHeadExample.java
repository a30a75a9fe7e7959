package org.milab.examples;

import org.milab.api.ActivationCache;
import org.milab.api.HookedModel;
import org.milab.api.Patch;
import org.milab.api.PatchValue;
import org.milab.graph.Head;

import java.io.PrintStream;
import java.util.Locale;

/**
 * Activation patching of one head: its output (hook_z, every position) from a corrupt prompt into the clean
 * one, and the logit difference ' D' - ' H' before and after. Args: [model] [head, e.g. L1H2].
 */
public final class PatchHeadExample {
    private PatchHeadExample() {}

    public static void main(String[] args) {
        run(System.out, args);
    }

    static void run(PrintStream out, String... args) {
        Head head = Head.parse(args.length > 1 ? args[1] : "L1H0");
        int layer = head.layer(), h = head.head();
        try (HookedModel model = HookedModel.open(args.length > 0 ? args[0] : "planted-induction")) {
            int[] clean = model.toTokens("A B C D A B C"), corrupt = model.toTokens("E F G H A B C");
            int d = model.toSingleToken(" D"), wrong = model.toSingleToken(" H");
            ActivationCache corruptCache = model.runWithCache(corrupt, "blocks." + layer + ".attn.hook_z");
            double before = model.runWithPatches(clean).logitDiff(0, d, wrong);
            double after = model.runWithPatches(clean, Patch.head(layer, h, -1, PatchValue.from(corruptCache, 0))).logitDiff(0, d, wrong);
            out.printf(Locale.ROOT, "logit(' D') - logit(' H'): clean %.3f, %s patched from the corrupt run %.3f (change %.3f)%n",
                    before, head, after, after - before);
        }
    }
}
