package org.milab.planted;

import org.milab.model.Gpt2Tensors;
import org.milab.model.ReferenceGpt2.Patches;
import org.milab.model.ReferenceGpt2.Trace;
import org.milab.model.ReferenceGpt2.ZPatch;
import org.milab.planted.GroundTruth.HeadTruth;
import org.milab.planted.GroundTruth.Role;
import org.milab.planted.PlantedPrompts.PatchPair;
import org.milab.planted.PlantedPrompts.Prompt;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.EnumSet;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.Set;

/**
 * The planted model's behavioural contract, runnable against any forward pass: the plain-Java reference
 * ({@code ReferenceGpt2::run}) or the exported ONNX graphs wrapped as a {@link Runner}. It holds for every
 * {@link PlantedLayout}: heads are found through the model's {@link GroundTruth} (never from constants),
 * prompts come from {@link PlantedPrompts}.
 *
 * <p>With a backup induction head the answer is written by two heads in proportion to their OV gains, so
 * each head's final-position patch must reach {@link #MIN_INDUCTION_EFFECT} times its share of the summed
 * gain, the backup's effect must be smaller than the main head's, patching both must restore the answer
 * fully, and ablating both (their corrupt z into the clean run) must hurt more than ablating either alone.
 *
 * <p>A REACTIVE backup ({@link PlantedLayout#reactive()}) is checked for what makes it reactive instead: it
 * attends to the source less than the main head on clean runs, its single ablation removes on average at most
 * {@link #MAX_DECOY_EFFECT} of the answer (no more than a decoy may), and its contribution rises when the main
 * head's output is absent: with the main head ablated, ablating it too removes on average at least
 * {@link #MIN_JOINT_EXCESS_DROP} more than its single ablation (the per-pair minimum is reported). The main head's
 * share stays 1 / (1 + gain): on some prompts the backup's partial clean attention writes part of the answer.
 */
public final class PlantedChecks {
    private PlantedChecks() {}

    public static final double MIN_TOP1_ACCURACY = 0.95;
    public static final double MIN_MEAN_PROBABILITY = 0.8;
    public static final double MAX_NO_REPEAT_PROBABILITY = 0.2;
    public static final double MIN_INDUCTION_EFFECT = 0.8;
    public static final double MAX_DECOY_EFFECT = 0.05;
    /** Noise, sink and previous-token heads at the final position. */
    public static final double MAX_NULL_HEAD_EFFECT = 0.1;
    /**
     * Heads outside the circuit, whose final-position patch must do (almost) nothing. The previous-token
     * head is in the circuit: at the final position it writes the previous-token entry that the induction
     * head's own key reads, so its effect there is real (about 0.1) and is reported, not bounded.
     */
    private static final Set<Role> NULL_AT_FINAL_POSITION = EnumSet.of(Role.NOISE, Role.ATTENTION_SINK);
    public static final double MIN_DUPLICATE_ATTENTION = 0.5;
    public static final double MIN_SINK_ATTENTION = 0.9;
    public static final double MIN_PREVIOUS_TOKEN_ATTENTION = 0.9;
    public static final double MIN_INDUCTION_ATTENTION = 0.9;
    /** Pairs whose |clean - corrupt| metric is below this many logits have no meaningful normalised effect. */
    public static final double MIN_DENOMINATOR = 1.0;
    /** Every head is patched on every n-th pair; the induction and duplicate-token heads on all pairs. */
    public static final int ALL_HEADS_EVERY_NTH_PAIR = 4;
    /**
     * How much more the joint ablation of the main and backup induction heads must remove (as a fraction of
     * clean - corrupt) than the larger single ablation, on every pair: the same margin as
     * {@link #MAX_NULL_HEAD_EFFECT}, more than any head outside the circuit moves the metric.
     */
    public static final double MIN_JOINT_EXCESS_DROP = 0.1;

    /**
     * One forward pass with optional z patches (raw Hugging Face frame, as {@code ReferenceGpt2}).
     * Implementations must fill {@link Trace#z()}, {@link Trace#pattern()} and the final row of
     * {@link Trace#logits()} (see {@link #partialTrace}); other fields may be null. For patched runs only
     * the final logits are read. {@code ReferenceGpt2::run} is one.
     */
    @FunctionalInterface
    public interface Runner {
        Trace run(int[] ids, Patches patches);
    }

    /** One criterion: {@code value op threshold}, over {@code n} prompts or pairs; never passes with n = 0. */
    public record Check(String name, double value, String op, double threshold, int n, boolean passed) {
        static Check atLeast(String name, double value, double threshold, int n) {
            return new Check(name, value, ">=", threshold, n, n > 0 && value >= threshold);
        }

        static Check atMost(String name, double value, double threshold, int n) {
            return new Check(name, value, "<=", threshold, n, n > 0 && value <= threshold);
        }

        static Check below(String name, double value, double threshold, int n) {
            return new Check(name, value, "<", threshold, n, n > 0 && value < threshold);
        }
    }

    /** All checks plus descriptive statistics (margins) that have no threshold. */
    public record Report(List<Check> checks, Map<String, Double> stats) {
        public boolean passed() {
            return checks.stream().allMatch(Check::passed);
        }

        public Check check(String name) {
            return checks.stream().filter(c -> c.name().equals(name)).findFirst()
                    .orElseThrow(() -> new IllegalArgumentException("no check " + name));
        }

        public String render() {
            StringBuilder sb = new StringBuilder();
            for (Check c : checks)
                sb.append(String.format(Locale.ROOT, "%-4s %-48s %9.4f %s %-6s (n=%d)%n", c.passed() ? "ok" : "FAIL",
                        c.name(), c.value(), c.op(), c.threshold(), c.n()));
            stats.forEach((k, v) -> sb.append(String.format(Locale.ROOT, "     %-48s %9.4f%n", k, v)));
            return sb.toString();
        }
    }

    /**
     * A trace holding only what the checks read, for runners built on another engine (e.g. the ONNX
     * graphs): z [layer][pos][head][d_head], pattern [layer][head][query][key] and the final-position logits.
     */
    public static Trace partialTrace(double[][][][] z, double[][][][] pattern, double[] finalLogits) {
        int length = z[0].length;
        double[][] logits = new double[length][];
        logits[length - 1] = finalLogits;
        return new Trace(length, null, null, null, z, pattern, null, logits);
    }

    public static Report run(Planted model, Runner runner) {
        return run(model, runner, 1);
    }

    /**
     * As {@link #run(Planted, Runner)} on every {@code stride}-th prompt and pair of each list (starting with
     * the first), for quick checks of many models; thresholds are unchanged, n in each check says how many
     * prompts it saw.
     */
    public static Report run(Planted model, Runner runner, int stride) {
        if (stride < 1) throw new IllegalArgumentException("stride " + stride);
        return new Checker(model, runner, stride).run();
    }

    private static final class Checker {
        final Planted model;
        final Runner runner;
        final int stride;
        final GroundTruth truth;
        final HeadTruth induction;
        final Optional<HeadTruth> backup, negative;
        /** The backup takes over only when the main head's output is absent (the layout says so, not the data). */
        final boolean reactive;
        final Map<String, Trace> cache = new HashMap<>();
        final List<Check> checks = new ArrayList<>();
        final Map<String, Double> stats = new LinkedHashMap<>();

        Checker(Planted model, Runner runner, int stride) {
            this.model = model;
            this.runner = runner;
            this.stride = stride;
            this.truth = model.groundTruth();
            this.induction = truth.head(Role.INDUCTION);
            this.backup = truth.backup();
            this.reactive = model.spec().layout().reactive() != null;
            List<HeadTruth> neg = truth.heads(Role.NEGATIVE_COPY);
            this.negative = neg.isEmpty() ? Optional.empty() : Optional.of(neg.get(0));
        }

        <T> List<T> sample(List<T> all) {
            List<T> out = new ArrayList<>();
            for (int i = 0; i < all.size(); i += stride) out.add(all.get(i));
            return out;
        }

        /** A head's share of the answer: its OV gain over the summed gain of the answer-copying induction heads. */
        double share(HeadTruth h) {
            return h.ovGain() / (induction.ovGain() + backup.map(HeadTruth::ovGain).orElse(0.0));
        }

        Report run() {
            positives();
            noRepeat();
            patching();
            frequencyTraps();
            return new Report(List.copyOf(checks), stats);
        }

        void positives() {
            HeadTruth prev = truth.head(Role.PREVIOUS_TOKEN), sink = truth.head(Role.ATTENTION_SINK);
            List<Prompt> prompts = sample(PlantedPrompts.inductionPositives());
            int top1 = 0;
            double sumP = 0, minP = 1, minPrev = 1, minSink = 1, minInduction = 1, sumInduction = 0, sumBackup = 0, sumNegative = 0;
            for (Prompt p : prompts) {
                Trace t = trace(p.words());
                double[] probs = softmax(t.finalLogits());
                int answer = model.id(p.trueWord());
                if (argmax(probs) == answer) top1++;
                sumP += probs[answer];
                minP = Math.min(minP, probs[answer]);
                int last = t.length() - 1;
                for (int q = 1; q <= last; q++) {
                    minPrev = Math.min(minPrev, attention(t, prev, q, q - 1));
                    minSink = Math.min(minSink, attention(t, sink, q, 0));
                }
                // the induction head should attend to the position right after the earlier occurrence
                int source = earlierOccurrence(p.words()) + 2;
                double a = attention(t, induction, last, source);
                minInduction = Math.min(minInduction, a);
                sumInduction += a;
                if (backup.isPresent()) sumBackup += attention(t, backup.get(), last, source);
                if (negative.isPresent()) sumNegative += attention(t, negative.get(), last, source);
            }
            int n = prompts.size();
            checks.add(Check.atLeast("induction_top1_accuracy", (double) top1 / n, MIN_TOP1_ACCURACY, n));
            checks.add(Check.atLeast("induction_mean_probability", sumP / n, MIN_MEAN_PROBABILITY, n));
            checks.add(Check.atLeast("previous_token_head_min_attention_to_previous", minPrev, MIN_PREVIOUS_TOKEN_ATTENTION, n));
            checks.add(Check.atLeast("sink_head_min_attention_to_bos", minSink, MIN_SINK_ATTENTION, n));
            checks.add(Check.atLeast("induction_head_mean_attention_to_source", sumInduction / n, MIN_INDUCTION_ATTENTION, n));
            if (backup.isPresent() && reactive) {
                checks.add(Check.below("reactive_backup_minus_induction_head_mean_attention_to_source",
                        (sumBackup - sumInduction) / n, 0, n));
                stats.put("reactive_backup_mean_attention_to_source", sumBackup / n);
            } else if (backup.isPresent())
                checks.add(Check.atLeast("backup_head_mean_attention_to_source", sumBackup / n, MIN_INDUCTION_ATTENTION, n));
            if (negative.isPresent())
                checks.add(Check.atLeast("negative_head_mean_attention_to_source", sumNegative / n, MIN_INDUCTION_ATTENTION, n));
            stats.put("induction_min_probability", minP);
            stats.put("induction_head_min_attention_to_source", minInduction);
        }

        void noRepeat() {
            List<Prompt> prompts = sample(PlantedPrompts.noRepeatControls());
            double sum = 0, max = 0;
            for (Prompt p : prompts) {
                double pr = softmax(trace(p.words()).finalLogits())[model.id(p.trueWord())];
                sum += pr;
                max = Math.max(max, pr);
            }
            checks.add(Check.atMost("no_repeat_mean_probability", sum / prompts.size(), MAX_NO_REPEAT_PROBABILITY, prompts.size()));
            stats.put("no_repeat_max_probability", max);
        }

        /**
         * Final-position hook_z patching, clean into corrupt, of every head; effect = (patched-corrupt)/(clean-corrupt).
         * With a backup head also the pair patched together, and the ablations (corrupt z into the clean run,
         * drop = (clean-patched)/(clean-corrupt)) of each and of both.
         */
        void patching() {
            HeadTruth duplicate = truth.head(Role.DUPLICATE_TOKEN_NULL_OV);
            Set<HeadTruth> everyPair = new HashSet<>(List.of(induction, duplicate));
            backup.ifPresent(everyPair::add);
            negative.ifPresent(everyPair::add);
            Map<HeadTruth, double[]> effects = new LinkedHashMap<>(); // head -> {sum, min, max |effect|, n}
            for (HeadTruth h : truth.heads()) effects.put(h, new double[] {0, Double.POSITIVE_INFINITY, 0, 0});
            double minDupAttention = 1, minJoint = Double.POSITIVE_INFINITY, minExcessDrop = Double.POSITIVE_INFINITY;
            double[] dropSums = new double[3]; // main, backup, both
            double minRise = Double.POSITIVE_INFINITY, sumRise = 0, sumAttentionAblated = 0;
            int used = 0, degenerate = 0;
            List<PatchPair> pairs = sample(PlantedPrompts.patchPairs());
            for (int pi = 0; pi < pairs.size(); pi++) {
                PatchPair pair = pairs.get(pi);
                Trace clean = trace(pair.clean()), corrupt = trace(pair.corrupt());
                int yes = model.id(pair.trueWord()), no = model.id(pair.wrongWord());
                double cleanScore = diff(clean, yes, no), corruptScore = diff(corrupt, yes, no);
                double denominator = cleanScore - corruptScore;
                minDupAttention = Math.min(minDupAttention, attention(clean, duplicate, clean.length() - 1, pair.earlierOccurrence() + 1));
                if (Math.abs(denominator) < MIN_DENOMINATOR) {
                    degenerate++;
                    continue;
                }
                used++;
                boolean allHeads = pi % ALL_HEADS_EVERY_NTH_PAIR == 0;
                for (Map.Entry<HeadTruth, double[]> e : effects.entrySet()) {
                    HeadTruth h = e.getKey();
                    if (!allHeads && !everyPair.contains(h)) continue;
                    double effect = (diff(patched(pair.corrupt(), clean, List.of(h)), yes, no) - corruptScore) / denominator;
                    double[] acc = e.getValue();
                    acc[0] += effect;
                    acc[1] = Math.min(acc[1], effect);
                    acc[2] = Math.max(acc[2], Math.abs(effect));
                    acc[3]++;
                }
                if (backup.isPresent()) {
                    List<HeadTruth> both = List.of(induction, backup.get());
                    minJoint = Math.min(minJoint, (diff(patched(pair.corrupt(), clean, both), yes, no) - corruptScore) / denominator);
                    double[] drop = new double[3];
                    List<List<HeadTruth>> ablated = List.of(List.of(induction), List.of(backup.get()), both);
                    for (int i = 0; i < 3; i++) {
                        drop[i] = (cleanScore - diff(patched(pair.clean(), corrupt, ablated.get(i)), yes, no)) / denominator;
                        dropSums[i] += drop[i];
                    }
                    minExcessDrop = Math.min(minExcessDrop, drop[2] - Math.max(drop[0], drop[1]));
                    // the backup's contribution with the main head ablated (both minus main) against without (its own drop)
                    minRise = Math.min(minRise, drop[2] - drop[0] - drop[1]);
                    sumRise += drop[2] - drop[0] - drop[1];
                    if (reactive) sumAttentionAblated += backupAttentionWithMainAblated(pair, corrupt);
                }
            }
            double[] ind = effects.get(induction), dup = effects.get(duplicate);
            checks.add(Check.atLeast("induction_head_min_patch_effect", ind[1], MIN_INDUCTION_EFFECT * share(induction), used));
            if (backup.isPresent() && reactive) {
                int u = Math.max(used, 1);
                checks.add(Check.below("reactive_backup_mean_single_ablation_drop", dropSums[1] / u, MAX_DECOY_EFFECT, used));
                checks.add(Check.atLeast("reactive_backup_mean_contribution_rise_when_main_ablated", sumRise / u,
                        MIN_JOINT_EXCESS_DROP, used));
                stats.put("reactive_backup_min_contribution_rise_when_main_ablated", minRise);
                String[] names = {"induction_head", "backup_head", "joint"};
                for (int i = 0; i < 3; i++) stats.put(names[i] + "_mean_ablation_drop", dropSums[i] / Math.max(used, 1));
                if (!Double.isNaN(sumAttentionAblated))
                    stats.put("reactive_backup_mean_attention_to_source_main_ablated", sumAttentionAblated / Math.max(used, 1));
            } else if (backup.isPresent()) {
                double[] b = effects.get(backup.get());
                checks.add(Check.atLeast("backup_head_min_patch_effect", b[1], MIN_INDUCTION_EFFECT * share(backup.get()), used));
                checks.add(Check.below("backup_minus_induction_head_mean_patch_effect", (b[0] - ind[0]) / Math.max(used, 1), 0, used));
                checks.add(Check.atLeast("induction_heads_joint_min_patch_effect", minJoint, MIN_INDUCTION_EFFECT, used));
                checks.add(Check.atLeast("joint_ablation_min_excess_drop", minExcessDrop, MIN_JOINT_EXCESS_DROP, used));
                String[] names = {"induction_head", "backup_head", "joint"};
                for (int i = 0; i < 3; i++) stats.put(names[i] + "_mean_ablation_drop", dropSums[i] / Math.max(used, 1));
            }
            // the negative head's clean output LOWERS the answer: patched into the corrupt run, its mean effect is negative
            if (negative.isPresent()) {
                double[] n = effects.get(negative.get());
                checks.add(Check.below("negative_head_mean_patch_effect", n[0] / Math.max(n[3], 1), 0, used));
            }
            checks.add(Check.below("duplicate_head_max_abs_patch_effect", dup[2], MAX_DECOY_EFFECT, used));
            checks.add(Check.atLeast("duplicate_head_min_attention_to_earlier_occurrence", minDupAttention,
                    MIN_DUPLICATE_ATTENTION, used + degenerate));
            // heads that should do nothing at the final position (the frequency and previous-token heads
            // legitimately move the metric a little: reported only, see NULL_AT_FINAL_POSITION)
            double nullMax = 0;
            int nullN = 0;
            for (Map.Entry<HeadTruth, double[]> e : effects.entrySet()) {
                double[] acc = e.getValue();
                stats.put(e.getKey().name() + "_mean_patch_effect", acc[0] / Math.max(acc[3], 1));
                stats.put(e.getKey().name() + "_max_abs_patch_effect", acc[2]);
                if (NULL_AT_FINAL_POSITION.contains(e.getKey().role())) {
                    nullMax = Math.max(nullMax, acc[2]);
                    nullN = (int) acc[3];
                }
            }
            checks.add(Check.below("null_heads_max_abs_patch_effect", nullMax, MAX_NULL_HEAD_EFFECT, nullN));
            stats.put("patch_pairs_degenerate", (double) degenerate);
        }

        /**
         * The reactive backup's final-position attention to the clean prompt's source with the main head's z taken
         * from the corrupt run; NaN when the runner gives no attention pattern for patched runs (graphs).
         */
        double backupAttentionWithMainAblated(PatchPair pair, Trace corrupt) {
            Trace t = patched(pair.clean(), corrupt, List.of(induction));
            if (t.pattern() == null) return Double.NaN;
            return attention(t, backup.get(), t.length() - 1, pair.earlierOccurrence() + 2);
        }

        /** A run of {@code target} with the final-position z of {@code heads} taken from {@code source}. */
        Trace patched(List<String> target, Trace source, List<HeadTruth> heads) {
            int[] ids = model.idsWithBos(target);
            int from = source.length() - 1, to = ids.length - 1;
            ZPatch[] z = heads.stream().map(h -> new ZPatch(h.layer(), to, h.head(), toFloat(source.z()[h.layer()][from][h.head()])))
                    .toArray(ZPatch[]::new);
            return runner.run(ids, Patches.ofZ(z));
        }

        /** The frequency head's direct logit attribution must peak on the repeated token. */
        void frequencyTraps() {
            HeadTruth freq = truth.head(Role.FREQUENCY);
            double[][] ou = headToLogits(freq);
            List<Prompt> prompts = sample(PlantedPrompts.frequencyTraps());
            int favoured = 0;
            double minMargin = Double.POSITIVE_INFINITY;
            for (Prompt p : prompts) {
                Trace t = trace(p.words());
                double[] z = t.z()[freq.layer()][t.length() - 1][freq.head()];
                double[] dla = new double[ou[0].length];
                for (int i = 0; i < z.length; i++)
                    for (int v = 0; v < dla.length; v++) dla[v] += z[i] * ou[i][v];
                int rep = model.id(p.trueWord());
                double best = Double.NEGATIVE_INFINITY;
                for (int v = 0; v < dla.length; v++) if (v != rep) best = Math.max(best, dla[v]);
                if (dla[rep] > best) favoured++;
                minMargin = Math.min(minMargin, dla[rep] - best);
            }
            checks.add(Check.atLeast("frequency_head_favours_repeated_token", (double) favoured / prompts.size(), 1.0,
                    prompts.size()));
            stats.put("frequency_head_min_direct_logit_margin", minMargin);
        }

        /** W_O[head] * lm_head^T: [d_head][vocab], the head's direct path to the (unnormalised) logits. */
        double[][] headToLogits(HeadTruth h) {
            var ckpt = model.checkpoint();
            int d = ckpt.config().dModel(), dh = ckpt.config().dHead(), vocab = ckpt.config().vocabSize();
            float[] wo = ckpt.raw(Gpt2Tensors.projW(h.layer()));
            float[] wu = ckpt.raw(ckpt.unembeddingName());
            double[][] out = new double[dh][vocab];
            for (int i = 0; i < dh; i++)
                for (int v = 0; v < vocab; v++) {
                    double acc = 0;
                    for (int j = 0; j < d; j++) acc += (double) wo[(h.head() * dh + i) * d + j] * wu[v * d + j];
                    out[i][v] = acc;
                }
            return out;
        }

        Trace trace(List<String> words) {
            int[] ids = model.idsWithBos(words);
            return cache.computeIfAbsent(Arrays.toString(ids), k -> runner.run(ids, Patches.none()));
        }
    }

    /** Word index of the last earlier occurrence of the final word (the protocol's hint). */
    static int earlierOccurrence(List<String> words) {
        String last = words.get(words.size() - 1);
        for (int i = words.size() - 2; i >= 0; i--) if (words.get(i).equals(last)) return i;
        throw new IllegalArgumentException("final word of " + words + " does not occur earlier");
    }

    static double attention(Trace t, HeadTruth h, int query, int key) {
        return t.pattern()[h.layer()][h.head()][query][key];
    }

    static double diff(Trace t, int yes, int no) {
        double[] l = t.finalLogits();
        return l[yes] - l[no];
    }

    static double[] softmax(double[] logits) {
        double max = Arrays.stream(logits).max().orElseThrow();
        double[] p = new double[logits.length];
        double sum = 0;
        for (int i = 0; i < p.length; i++) sum += (p[i] = Math.exp(logits[i] - max));
        for (int i = 0; i < p.length; i++) p[i] /= sum;
        return p;
    }

    static int argmax(double[] a) {
        int best = 0;
        for (int i = 1; i < a.length; i++) if (a[i] > a[best]) best = i;
        return best;
    }

    private static float[] toFloat(double[] a) {
        float[] out = new float[a.length];
        for (int i = 0; i < a.length; i++) out[i] = (float) a[i];
        return out;
    }
}
