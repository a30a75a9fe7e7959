package org.milab.circuit;

import org.milab.lab.LabModel;
import org.milab.planted.PlantedSuccessorModel;
import org.milab.util.UserError;

import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;
import java.util.SplittableRandom;

/**
 * Tasks the lab ships, generated in the task-file format (token ids, so positions are token positions for any
 * tokenizer): {@code induction} - clean {@code r + r[:-1]}, corrupt {@code s + r[:-1]} with {@code r}, {@code s}
 * disjoint random token sequences; at the final token {@code r[n-2]} an induction circuit predicts
 * {@code r[n-1]} (answer), contrast {@code s[n-1]}; the corrupt prompt has no earlier occurrence to copy from.
 * {@code successor} - the same prompts, answer {@code successor(r[n-1])} and contrast {@code successor(s[n-1])} (the
 * next token id, {@link PlantedSuccessorModel#successor}; for the planted-successor model), with no successor in
 * either prompt (so counting context tokens cannot score).
 */
public final class BuiltinTasks {
    private BuiltinTasks() {}

    public static final List<String> NAMES = List.of("induction", "successor");

    public static boolean isBuiltin(String name) {
        return NAMES.contains(name);
    }

    public static CircuitTask get(String name, LabModel model, int examples, int length, long seed) {
        if (!isBuiltin(name))
            throw new UserError("Unknown built-in task '" + name + "'.", "Use one of " + NAMES + " or a path to a .jsonl task file.");
        return induction(model, examples, length, seed, name.equals("successor"));
    }

    static CircuitTask induction(LabModel model, int examples, int n, long seed, boolean successor) {
        if (examples < 1) throw new UserError("A task needs >= 1 example (got " + examples + ").", "Pass --examples 1 or more.");
        if (n < 3) throw new UserError("The repeated sequence needs >= 3 tokens (got " + n + ").", "Pass --length 3 or more.");
        if (2 * n > model.config().nPositions())
            throw new UserError("Prompts of 2 x " + n + " tokens exceed the model's " + model.config().nPositions() + " positions.",
                    "Pass a --length of at most " + model.config().nPositions() / 2 + ".");
        var tok = model.tokenizer();
        Set<Integer> banned = new LinkedHashSet<>(List.of(tok.bosId()));
        if (tok.isSingleToken("<unk>")) banned.add(tok.singleTokenId("<unk>"));
        int vocab = model.config().vocabSize();
        if (vocab - banned.size() < 2 * n) throw new UserError("The vocabulary has fewer than 2 x " + n + " ordinary tokens.", "Pass a smaller --length.");
        SplittableRandom rng = new SplittableRandom(seed);
        List<CircuitTask.Example> out = new ArrayList<>();
        for (int e = 0; e < examples; e++) {
            Set<Integer> drawn = new LinkedHashSet<>();
            while (drawn.size() < 2 * n) {
                int t = rng.nextInt(vocab);
                if (!banned.contains(t) && (!successor || PlantedSuccessorModel.hasSuccessor(t, vocab))) drawn.add(t);
                if (successor && drawn.size() == 2 * n) {
                    int[] d = drawn.stream().mapToInt(Integer::intValue).toArray();
                    if (drawn.contains(PlantedSuccessorModel.successor(d[n - 1])) || drawn.contains(PlantedSuccessorModel.successor(d[2 * n - 1])))
                        drawn.clear(); // a successor in the prompt: draw the example again
                }
            }
            int[] t = drawn.stream().mapToInt(Integer::intValue).toArray();
            int[] clean = new int[2 * n - 1], corrupt = new int[2 * n - 1];
            for (int i = 0; i < n; i++) {
                clean[i] = t[i];
                corrupt[i] = t[n + i];
            }
            for (int i = 0; i < n - 1; i++) clean[n + i] = corrupt[n + i] = t[i];
            int answer = successor ? PlantedSuccessorModel.successor(t[n - 1]) : t[n - 1];
            int contrast = successor ? PlantedSuccessorModel.successor(t[2 * n - 1]) : t[2 * n - 1];
            out.add(new CircuitTask.Example(e + 2, null, null, null, null, clean, corrupt, answer, contrast));
        }
        return new CircuitTask(successor ? "successor" : "induction", CircuitMetric.LOGIT_DIFF, List.copyOf(out));
    }
}
