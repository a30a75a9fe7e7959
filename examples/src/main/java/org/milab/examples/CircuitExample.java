package org.milab.examples;

import org.milab.api.AttributionTask;
import org.milab.api.Circuit;
import org.milab.api.EdgeAttribution;
import org.milab.api.Faithfulness;
import org.milab.api.FaithfulnessCurve;
import org.milab.api.FaithfulnessOptions;
import org.milab.api.HookedModel;

import java.io.PrintStream;
import java.nio.file.Path;
import java.util.Locale;

/**
 * A circuit from edge scores, measured exactly: EAP-IG (8 steps) ranks every edge on the four repeated-sequence pairs of
 * {@link EdgeAttributionExample}; the faithfulness sweep patches the top-k circuit for every size of the default grid
 * (every edge outside the circuit carries the corrupt run's value) and prints the curve with 95% intervals over the pairs,
 * CPR, CMD and the smallest circuit keeping 0.9, pruned as MIB prunes and measured again on its own.
 * Args: [model] [circuit.json to write].
 */
public final class CircuitExample {
    private CircuitExample() {}

    public static void main(String[] args) {
        run(System.out, args);
    }

    static void run(PrintStream out, String... args) {
        try (HookedModel model = HookedModel.open(args.length > 0 ? args[0] : "planted-induction")) {
            AttributionTask task = new AttributionTask(EdgeAttributionExample.pairs(model), 8);
            EdgeAttribution scores = model.attributeEdges(task);
            FaithfulnessOptions options = FaithfulnessOptions.defaults();
            FaithfulnessCurve curve = model.faithfulnessSweep(task, scores, EdgeAttribution.Method.EAP_IG, options);
            out.printf(Locale.ROOT, "%d edges ranked by |EAP-IG|; exact faithfulness of the top-k circuit (%s, %d pairs):%n",
                    curve.edgesTotal(), curve.metric(), task.pairs().size());
            for (FaithfulnessCurve.Point p : curve.grid())
                out.printf(Locale.ROOT, "  k=%-4d %6.1f%%  %6.3f [%6.3f, %6.3f]%n", p.size(), 100 * p.fraction(),
                        p.faithfulness().value(), p.faithfulness().low(), p.faithfulness().high());
            out.printf(Locale.ROOT, "CPR %.3f [%.3f, %.3f]  CMD %.3f [%.3f, %.3f]%n", curve.cpr().value(), curve.cpr().low(),
                    curve.cpr().high(), curve.cmd().value(), curve.cmd().low(), curve.cmd().high());
            if (curve.smallest() == null) {
                out.printf(Locale.ROOT, "no circuit keeps %.2f%n", curve.threshold());
                return;
            }
            Circuit pruned = model.prune(curve.smallestCircuit());
            Faithfulness alone = model.faithfulness(task, pruned, options);
            out.printf(Locale.ROOT, "smallest circuit keeping %.2f: %d edges (%.3f); pruned: %d edges, faithfulness %.3f [%.3f, %.3f]%n",
                    curve.threshold(), curve.smallest().size(), curve.smallest().faithfulness().value(), pruned.size(),
                    alone.faithfulness().value(), alone.faithfulness().low(), alone.faithfulness().high());
            for (String e : pruned.edges()) out.printf(Locale.ROOT, "  %s%n", e);
            if (args.length > 1) {
                model.writeCircuit(pruned, Path.of(args[1])); // MIB's graph JSON
                out.println("wrote " + args[1]);
            }
        }
    }
}
