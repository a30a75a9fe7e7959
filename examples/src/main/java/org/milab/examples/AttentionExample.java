package org.milab.examples;

import org.milab.api.HookedModel;
import org.milab.api.Tensor;
import org.milab.graph.Head;

import java.io.PrintStream;
import java.util.Locale;

/** Where one head attends from the last position of a prompt. Args: [model] [head, e.g. L1H2]. */
public final class AttentionExample {
    private AttentionExample() {}

    public static void main(String[] args) {
        run(System.out, args);
    }

    static void run(PrintStream out, String... args) {
        Head head = Head.parse(args.length > 1 ? args[1] : "L1H0");
        int layer = head.layer(), h = head.head();
        try (HookedModel model = HookedModel.open(args.length > 0 ? args[0] : "planted-induction")) {
            int[] tokens = model.toTokens("A B C D A B C");
            String hook = "blocks." + layer + ".attn.hook_pattern";
            Tensor pattern = model.runWithCache(tokens, hook).get(hook);    // [head, query_pos, key_pos]
            int q = tokens.length - 1;
            out.println(head + " attention from position " + q + " ('" + model.toString(tokens[q]) + "'):");
            for (int k = 0; k <= q; k++)
                out.printf(Locale.ROOT, "  key %d %-15s %.3f%n", k, "'" + model.toString(tokens[k]) + "'", pattern.get(h, q, k));
        }
    }
}
