package org.milab.catalog;

import org.milab.planted.PlantedInductionModel;
import org.milab.planted.PlantedLayout;
import org.milab.util.UserError;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Comparator;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;
import java.util.stream.Stream;

/**
 * The model names a user can mean: the ones this lab exports by name (GPT-2 and the planted presets) and the
 * ones exported under a root. Used for the message of a mistyped {@code MODEL}: it lists both, closest first,
 * and suggests {@code make export MODEL=...} only for a name that export can actually make (so a typo such as
 * {@code planted} never leads to a GPT-2 download under that name).
 */
public final class ModelNames {
    private ModelNames() {}

    /**
     * Names {@code make export} builds without WEIGHTS: gpt2, each planted preset, the second planted behaviour
     * and the trained zoo models committed under {@code root/zoo/}.
     */
    public static List<String> known(Path root) {
        List<String> out = builtIn();
        out.addAll(ZooModels.names(root.resolve(ZooModels.DIR)));
        return out;
    }

    /** gpt2, the planted presets and the second planted behaviour, in the lab's own order (the default first). */
    private static List<String> builtIn() {
        List<String> out = new ArrayList<>(List.of(ModelExports.GPT2));
        for (String preset : PlantedLayout.PRESETS.keySet())
            out.add(preset.equals(PlantedLayout.DEFAULT) ? PlantedInductionModel.MODEL_ID : PlantedLayout.MODEL_PREFIX + preset);
        out.add(org.milab.planted.PlantedSuccessorModel.MODEL_ID);
        return out;
    }

    /** True when {@code make export MODEL=id} can build it without a checkpoint of the user's. */
    public static boolean exportableByName(String id) {
        return id.equals(ModelExports.GPT2) || PlantedLayout.isPlanted(id) || ZooModels.isZoo(id);
    }

    /** Models exported under root (graphs/<id>/config.json and its tokenizer present), sorted by name. */
    public static List<String> exported(Path root) {
        Path graphs = root.resolve("graphs");
        if (!Files.isDirectory(graphs)) return List.of();
        try (Stream<Path> s = Files.list(graphs)) {
            return s.filter(d -> Files.isRegularFile(d.resolve("config.json")) && Files.isRegularFile(d.resolve(ModelLayout.TOKENIZER_FILE)))
                    .map(d -> d.getFileName().toString()).sorted().toList();
        } catch (IOException e) {
            throw new UncheckedIOException("Cannot list " + graphs, e);
        }
    }

    /**
     * {@code names} with the likeliest meant name first: names that extend or shorten the typed one
     * ({@code planted} -> {@code planted-*}), then by edit distance, then by name.
     */
    public static List<String> closestFirst(String name, Collection<String> names) {
        String typed = name.toLowerCase(java.util.Locale.ROOT);
        List<String> known = builtIn();
        return names.stream().distinct().sorted(Comparator.comparingInt((String n) -> {
            String m = n.toLowerCase(java.util.Locale.ROOT);
            if (!(m.startsWith(typed) || typed.startsWith(m))) return Integer.MAX_VALUE;
            // among extensions of the typed name, the lab's own order: planted -> planted-induction (the default) first
            int k = known.indexOf(n);
            return k < 0 ? known.size() : k;
        }).thenComparingInt(n -> distance(name, n)).thenComparing(n -> n)).toList();
    }

    /**
     * The error for a MODEL that is neither exported under root nor exportable by name: what is exported, what
     * is known, the closest match first; the fix names that match or a WEIGHTS export of the user's own checkpoint.
     */
    public static UserError unknown(Path root, String id) {
        List<String> exported = exported(root);
        Set<String> all = new LinkedHashSet<>(exported);
        List<String> known = known(root);
        all.addAll(known);
        List<String> ranked = closestFirst(id, all);
        String best = ranked.get(0);
        return new UserError("Model '" + id + "' has not been exported here, and it is not a model this lab can export by name. "
                + "Exported here: " + (exported.isEmpty() ? "none" : String.join(", ", closestFirst(id, exported)))
                + "; known: " + String.join(", ", closestFirst(id, known)) + ".",
                (close(id, best) ? "Did you mean MODEL=" + best + "?" + (exported.contains(best) ? "" : " (export it first: 'make export MODEL="
                        + best + "')") : "Use one of the names above.")
                        + " For a checkpoint of your own: 'make export MODEL=" + id + " WEIGHTS=/path/model.safetensors'.");
    }

    /** A likely typo of {@code candidate}: one extends the other, or at most two edits apart. */
    static boolean close(String typed, String candidate) {
        String a = typed.toLowerCase(java.util.Locale.ROOT), b = candidate.toLowerCase(java.util.Locale.ROOT);
        return a.startsWith(b) || b.startsWith(a) || distance(a, b) <= 2;
    }

    /** Levenshtein distance, case-insensitive. */
    static int distance(String a, String b) {
        String x = a.toLowerCase(java.util.Locale.ROOT), y = b.toLowerCase(java.util.Locale.ROOT);
        int[] prev = new int[y.length() + 1], cur = new int[y.length() + 1];
        for (int j = 0; j <= y.length(); j++) prev[j] = j;
        for (int i = 1; i <= x.length(); i++) {
            cur[0] = i;
            for (int j = 1; j <= y.length(); j++)
                cur[j] = Math.min(Math.min(cur[j - 1] + 1, prev[j] + 1), prev[j - 1] + (x.charAt(i - 1) == y.charAt(j - 1) ? 0 : 1));
            int[] t = prev;
            prev = cur;
            cur = t;
        }
        return prev[y.length()];
    }
}
