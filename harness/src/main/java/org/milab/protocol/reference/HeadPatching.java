package org.milab.protocol.reference;

import org.milab.stage.RunConfig;
import org.milab.stage.StageContext;

import org.milab.graph.HookNames;
import org.milab.graph.PatchSite;
import org.milab.prompts.PromptRecord;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import org.milab.graph.Head;
import org.milab.engine.RecomputePath;
import org.milab.engine.Capture;
import org.milab.engine.PatchRow;
import org.milab.engine.SitePatch;
import org.milab.engine.TokenIds;

/**
 * Runs a matrix of head-level hook_z interventions (S11, S14, S16) the reference's way, batched: clean and
 * corrupt prompts are captured once; every intervention becomes one row of a batched patch_z call; the
 * clean and corrupt scores come from the same graph without a patch, so a no-op patch scores exactly like
 * the corrupt run. Metric: true_vs_control_logit_diff = L[true] - L[wrong] at the final position.
 */
public final class HeadPatching {
    public static final String METRIC = "true_vs_control_logit_diff";

    /** One cell of the matrix: a record (with its paired positive) x head x intervention x position. */
    public record Job(PromptRecord record, PromptRecord pairedPositive, String candidateId, Head head,
                      Intervention intervention, PositionLabel position) {}

    /** The outcome of a job in the reference's vocabulary (statuses, nullable scores). */
    public record Result(Job job, String cleanPrompt, String corruptPrompt, String interventionStatus,
                         String positionStatus, Integer patchPosition, int meanAblationSourceN, Double cleanScore,
                         Double corruptScore, Double patchedScore, Double effectSize, String effectSizeStatus) {}

    private HeadPatching() {}

    /** Clean prompt for the record: its own prompt if positive, else its paired positive's prompt. */
    public static String cleanPrompt(PromptRecord r, PromptRecord paired) {
        return r.positiveInductionExample() ? r.prompt() : paired.prompt();
    }

    /** Corrupt prompt: a positive's control prompt, else the control record's own prompt. */
    public static String corruptPrompt(PromptRecord r, PromptRecord paired) {
        return r.positiveInductionExample() ? r.controlPrompt() : r.prompt();
    }

    public static List<Result> run(StageContext ctx, List<Job> jobs, String label) {
        return run(ctx, jobs, label, RecomputePath.REFERENCE);
    }

    /** As {@link #run(StageContext, List, String)} with the engine's recompute strategy for this request. */
    public static List<Result> run(StageContext ctx, List<Job> jobs, String label, RecomputePath path) {
        int nLayer = ctx.model().config().nLayer();
        boolean rawZero = RunConfig.FRAME_RAW.equals(ctx.config().zeroAblationFrame());
        // 1. prompts, tokens and positions
        List<Resolved> resolved = new ArrayList<>(jobs.size());
        Set<TokenIds> prompts = new LinkedHashSet<>();
        Set<String> hooks = new LinkedHashSet<>();
        for (Job j : jobs) {
            Resolved r = Resolved.of(ctx, j);
            resolved.add(r);
            prompts.add(r.clean);
            prompts.add(r.corrupt);
            if (j.head().layer() < 0 || j.head().layer() >= nLayer || j.head().head() < 0
                    || j.head().head() >= ctx.model().config().nHead())
                throw new org.milab.util.UserError("Head " + j.head() + " does not exist in model "
                        + ctx.model().id() + ".", "Use heads within the model's layers and heads.");
            hooks.add(HookNames.hookZ(j.head().layer()));
        }
        boolean suffix = path.readsCaches();
        Map<TokenIds, Capture> caps = suffix ? captureWithCaches(ctx, resolved, prompts, hooks, label, path)
                : ctx.model().engine().capture(prompts, hooks, label + ": capture");
        // 2. mean-ablation references: (layer, head, label, clean position) -> mean clean z, with repeats
        Map<List<Object>, double[]> sums = new HashMap<>();
        Map<List<Object>, Integer> counts = new HashMap<>();
        for (Resolved r : resolved) {
            if (r.job.intervention() != Intervention.MEAN_ABLATION || r.cleanPos == null) continue;
            List<Object> key = r.meanKey();
            float[] z = caps.get(r.clean).z(r.job.head().layer(), r.cleanPos, r.job.head().head());
            double[] s = sums.computeIfAbsent(key, k -> new double[z.length]);
            for (int i = 0; i < z.length; i++) s[i] += z[i];
            counts.merge(key, 1, Integer::sum);
        }
        // 3. one patch row per applicable job, plus one unpatched row per (prompt, tokens) for the baselines
        List<PatchRow> rows = new ArrayList<>();
        Map<List<Object>, Integer> baselineRow = new HashMap<>();
        int[] patchedRow = new int[resolved.size()];
        for (int i = 0; i < resolved.size(); i++) {
            Resolved r = resolved.get(i);
            for (TokenIds p : List.of(r.clean, r.corrupt))
                baselineRow.computeIfAbsent(List.of(p, r.trueId, r.wrongId), k -> {
                    rows.add(new PatchRow(p, List.of(), new int[]{r.trueId, r.wrongId}));
                    return rows.size() - 1;
                });
            patchedRow[i] = -1;
            if (!r.available()) continue;
            Head h = r.job.head();
            float[] donor = switch (r.job.intervention()) {
                case CLEAN_TO_CORRUPT -> caps.get(r.clean).z(h.layer(), r.cleanPos, h.head());
                case ZERO_ABLATION -> rawZero ? new float[ctx.model().config().dHead()]
                        : ctx.model().valueBiasEffective(h.layer(), h.head());
                case MEAN_ABLATION -> mean(sums.get(r.meanKey()), counts.get(r.meanKey()));
            };
            rows.add(new PatchRow(r.corrupt, List.of(new SitePatch(h.layer(), r.corruptPos, h.head(), donor)),
                    new int[]{r.trueId, r.wrongId}));
            patchedRow[i] = rows.size() - 1;
        }
        float[][] logits = ctx.model().engine().patch(PatchSite.HOOK_Z, rows, label + ": patch_z", suffix ? caps : null, path);
        // 4. scores and effects
        List<Result> out = new ArrayList<>(resolved.size());
        for (int i = 0; i < resolved.size(); i++) {
            Resolved r = resolved.get(i);
            if (!r.available()) {
                out.add(new Result(r.job, r.cleanText, r.corruptText, "skipped_position_unavailable",
                        "unavailable_for_family", null, 0, null, null, null, null, "position_unavailable"));
                continue;
            }
            double clean = diff(logits[baselineRow.get(List.of(r.clean, r.trueId, r.wrongId))]);
            double corrupt = diff(logits[baselineRow.get(List.of(r.corrupt, r.trueId, r.wrongId))]);
            double patched = diff(logits[patchedRow[i]]);
            // Identical token ids make clean == corrupt by construction: decided on ids, never on floats.
            boolean zero = r.clean.equals(r.corrupt) || clean == corrupt;
            Double effect = zero ? null : (patched - corrupt) / (clean - corrupt);
            int n = r.job.intervention() == Intervention.MEAN_ABLATION ? counts.getOrDefault(r.meanKey(), 0) : 0;
            out.add(new Result(r.job, r.cleanText, r.corruptText, "ok", "ok", r.corruptPos, n, clean, corrupt,
                    patched, effect, zero ? "denominator_zero" : "ok"));
        }
        return out;
    }

    /**
     * Captures with the caches the engine's cached paths read: prompts that patched rows run on hold those of
     * the blocks from the earliest patched layer on; the others (unpatched baseline rows only) hold less.
     */
    private static Map<TokenIds, Capture> captureWithCaches(StageContext ctx, List<Resolved> resolved, Set<TokenIds> prompts,
                                                            Set<String> hooks, String label, RecomputePath path) {
        var engine = ctx.model().engine();
        int none = ctx.model().config().nLayer();
        Map<TokenIds, Integer> firstLayer = new java.util.LinkedHashMap<>();
        for (TokenIds p : prompts) firstLayer.put(p, none);
        for (Resolved r : resolved)
            if (r.available()) firstLayer.merge(r.corrupt, r.job.head().layer(), Math::min);
        Map<Integer, List<TokenIds>> byLayer = new java.util.TreeMap<>();
        firstLayer.forEach((p, l) -> byLayer.computeIfAbsent(l, k -> new ArrayList<>()).add(p));
        Map<TokenIds, Capture> caps = new HashMap<>();
        byLayer.forEach((layer, ps) -> {
            Set<String> h = new LinkedHashSet<>(hooks);
            h.addAll(path.cacheHooks(ctx.model().config(), layer));
            caps.putAll(engine.capture(ps, h, label + ": capture"));
        });
        return caps;
    }

    private static double diff(float[] metricLogits) {
        return (double) metricLogits[0] - metricLogits[1];
    }

    private static float[] mean(double[] sum, int n) {
        float[] out = new float[sum.length];
        for (int i = 0; i < sum.length; i++) out[i] = (float) (sum[i] / n);
        return out;
    }

    /** A job with its prompts, tokens and positions resolved. */
    private record Resolved(Job job, String cleanText, String corruptText, TokenIds clean, TokenIds corrupt,
                            int trueId, int wrongId, Integer cleanPos, Integer corruptPos) {
        static Resolved of(StageContext ctx, Job j) {
            PromptRecord r = j.record();
            String cleanText = cleanPrompt(r, Objects.requireNonNull(j.pairedPositive(), "paired positive"));
            String corruptText = corruptPrompt(r, j.pairedPositive());
            TokenIds clean = ctx.tokens(cleanText), corrupt = ctx.tokens(corruptText);
            int t = ctx.singleToken(r.trueExpectedNextToken(), r.exampleId() + " true_expected_next_token");
            int w = ctx.singleToken(r.wrongOrControlToken(), r.exampleId() + " wrong_or_control_token");
            Integer pc = bounded(j.position().resolve(r, clean.length()), clean.length());
            Integer pr = bounded(j.position().resolve(r, corrupt.length()), corrupt.length());
            return new Resolved(j, cleanText, corruptText, clean, corrupt, t, w, pc, pr);
        }

        boolean available() {
            return cleanPos != null && corruptPos != null;
        }

        List<Object> meanKey() {
            return List.of(job.head().layer(), job.head().head(), job.position().id(), cleanPos);
        }

        /** An index past the prompt cannot be patched: treated as unavailable rather than crashing. */
        private static Integer bounded(Integer pos, int length) {
            return pos == null || pos >= length ? null : pos;
        }
    }
}
