package org.milab.examples;

import org.milab.api.ActivationCache;
import org.milab.api.HookedModel;
import org.milab.api.Tensor;

import java.io.PrintStream;
import java.util.Arrays;
import java.util.Locale;

/** Open a model, run it with a cache, read shapes and the top next token. Args: [model] (default planted-induction). */
public final class CacheExample {
    private CacheExample() {}

    public static void main(String[] args) {
        run(System.out, args);
    }

    static void run(PrintStream out, String... args) {
        try (HookedModel model = HookedModel.open(args.length > 0 ? args[0] : "planted-induction")) {
            int[] tokens = model.toTokens("A B C D A B C");
            ActivationCache cache = model.runWithCache(tokens, "blocks.0.attn.hook_z", "blocks.1.attn.hook_pattern",
                    "blocks.1.hook_resid_post");
            for (String hook : cache.names())
                out.println(hook + " " + cache.axes(hook) + " " + Arrays.toString(cache.get(hook).shape()));
            Tensor logits = model.run(tokens);                 // [pos, d_vocab]
            int last = tokens.length - 1, top = logits.argmax(last);
            out.printf(Locale.ROOT, "top next token: '%s' (logit %.3f)%n", model.toString(top), logits.get(last, top));
        }
    }
}
