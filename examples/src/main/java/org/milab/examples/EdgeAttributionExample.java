package org.milab.examples;

import org.milab.api.AttributionTask;
import org.milab.api.EdgeAttribution;
import org.milab.api.HookedModel;

import java.io.PrintStream;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * Edge attribution (EAP and EAP-IG, 8 steps) of every edge between heads, MLPs, the input and the logits, for four
 * repeated-sequence pairs: the five edges with the largest |EAP-IG|, with 95% bootstrap intervals over the pairs.
 * Args: [model].
 */
public final class EdgeAttributionExample {
    private EdgeAttributionExample() {}

    public static void main(String[] args) {
        run(System.out, args);
    }

    /** Four repeated-sequence pairs; the answer is the sequence's 4th token, the wrong token the corrupt one's. */
    static List<AttributionTask.Pair> pairs(HookedModel model) {
        // clean: a sequence, then its start again (the next token is the sequence's 4th); corrupt: another start
        String[][] seqs = {{"A B C D", "E F G H"}, {"I J K L", "M N O P"}, {"Q R S T", "U V W X"}, {"D C B A", "H G F E"}};
        List<AttributionTask.Pair> pairs = new ArrayList<>();
        for (String[] s : seqs) {
            String repeat = s[0].substring(0, 5);
            pairs.add(new AttributionTask.Pair(model.toTokens(s[0] + " " + repeat), model.toTokens(s[1] + " " + repeat),
                    model.toSingleToken(" " + s[0].substring(6)), model.toSingleToken(" " + s[1].substring(6))));
        }
        return pairs;
    }

    static void run(PrintStream out, String... args) {
        try (HookedModel model = HookedModel.open(args.length > 0 ? args[0] : "planted-induction")) {
            List<AttributionTask.Pair> pairs = pairs(model);
            EdgeAttribution edges = model.attributeEdges(new AttributionTask(pairs, 8));
            out.printf(Locale.ROOT, "%d edges; top 5 by |EAP-IG| (mean over %d pairs [95%% interval]):%n", edges.edges().size(), pairs.size());
            for (EdgeAttribution.EdgeScore e : edges.top(5, EdgeAttribution.Method.EAP_IG))
                out.printf(Locale.ROOT, "  %-18s EAP %7.3f  EAP-IG %7.3f [%7.3f, %7.3f]%n", e.name(), e.eap(), e.eapIg(),
                        e.eapIgLow(), e.eapIgHigh());
        }
    }
}
