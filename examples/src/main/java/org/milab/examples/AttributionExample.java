package org.milab.examples;

import org.milab.api.Attribution;
import org.milab.api.AttributionTask;
import org.milab.api.HookedModel;

import java.io.PrintStream;
import java.util.Comparator;
import java.util.List;
import java.util.Locale;

/** Attribution patching (AtP and AtP-IG) of every node for one clean/corrupt pair: the top five nodes. Args: [model]. */
public final class AttributionExample {
    private AttributionExample() {}

    public static void main(String[] args) {
        run(System.out, args);
    }

    static void run(PrintStream out, String... args) {
        try (HookedModel model = HookedModel.open(args.length > 0 ? args[0] : "planted-induction")) {
            int[] clean = model.toTokens("A B C D A B C"), corrupt = model.toTokens("E F G H A B C");
            AttributionTask task = new AttributionTask(List.of(new AttributionTask.Pair(clean, corrupt,
                    model.toSingleToken(" D"), model.toSingleToken(" H"))), 8);
            Attribution atp = model.attribute(task);
            out.printf(Locale.ROOT, "metric clean %.3f, corrupt %.3f; top nodes by |AtP| (denoising):%n",
                    atp.cleanMetric()[0], atp.corruptMetric()[0]);
            atp.nodes().stream().sorted(Comparator.comparingDouble((Attribution.NodeScore n) -> -Math.abs(n.denoising()))).limit(5)
                    .forEach(n -> out.printf(Locale.ROOT, "  %-12s AtP %8.3f  AtP-IG %8.3f%n", n.id(), n.denoising(), n.integrated()));
        }
    }
}
