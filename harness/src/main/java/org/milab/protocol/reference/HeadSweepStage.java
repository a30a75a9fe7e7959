package org.milab.protocol.reference;

import org.milab.stats.Decisions;

import org.milab.graph.Head;
import org.milab.stage.StageContext;
import org.milab.stats.Stats;

import org.milab.graph.HookNames;
import org.milab.graph.PatchSite;
import org.milab.prompts.ControlPrompts;
import org.milab.prompts.ExampleSelection;
import org.milab.prompts.PromptRecord;
import org.milab.tables.RecordSchema;
import org.milab.tables.Table;
import org.milab.tables.TableBuilder;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Function;
import java.util.stream.Collectors;

/**
 * S11 head-specific hook_z sweep for one seed: every head of the auto_even_6 layers x the selected
 * examples of four control-set families, clean-to-corrupt patch at the final position, metric
 * true_vs_control_logit_diff. Writes head_sweep/seed<N>/head_specific_patching_{results,by_family,by_head}.
 */
public final class HeadSweepStage {
    public static final String DIR = "head_sweep";
    public static final String RESULTS = "head_specific_patching_results";
    public static final String BY_FAMILY = "head_specific_patching_by_family";
    public static final String BY_HEAD = "head_specific_patching_by_head";
    private static final PatchSite SITE = PatchSite.HOOK_Z;

    public void run(StageContext ctx, int seed) {
        long t0 = System.nanoTime();
        List<PromptRecord> records = ControlPrompts.generate(seed, ctx.config().controlsPerFamily());
        Map<String, PromptRecord> byId = records.stream().collect(Collectors.toMap(PromptRecord::exampleId, Function.identity()));
        List<PromptRecord> selected = ExampleSelection.select(records, ExampleSelection.HEAD_SWEEP_FAMILIES,
                ctx.config().sweepPerFamily(), seed);
        List<Head> heads = new ArrayList<>();
        for (int layer : Layers.autoEven6(ctx.model().config().nLayer()))
            for (int h = 0; h < ctx.model().config().nHead(); h++) heads.add(new Head(layer, h));
        List<HeadPatching.Job> jobs = new ArrayList<>();
        for (Head head : heads)
            for (PromptRecord r : selected)
                jobs.add(new HeadPatching.Job(r, byId.get(r.pairedPositiveExampleId()), null, head,
                        Intervention.CLEAN_TO_CORRUPT, PositionLabel.FINAL));
        List<HeadPatching.Result> results = HeadPatching.run(ctx, jobs, "S11 sweep seed " + seed);
        Table res = ctx.write(DIR, seed, resultsTable(seed, results));
        Table fam = ctx.write(DIR, seed, byFamily(res));
        Table head = ctx.write(DIR, seed, byHead(res, fam));
        Map<String, Object> summary = summary(res, fam, head, heads, ctx, seed);
        ctx.writeJson(DIR, seed, "head_specific_induction_summary.json", summary);
        ctx.recordTiming(DIR + "/seed" + seed, (System.nanoTime() - t0) / 1e9);
        ctx.summarize(String.format(java.util.Locale.ROOT,
                "- S11 head sweep seed %d: %d rows over %d heads; best gap %s; statuses %s", seed, res.rowCount(),
                heads.size(), org.milab.stats.Num.text(summary.get("best_positive_minus_control_effect_gap")), org.milab.stats.Num.text(summary.get("specificity_status_counts"))));
    }

    /** One patched (prompt, head, intervention, position) of head_specific_induction_results. */
    record ResultRow(int seed, String exampleId, String family, String controlFamily, boolean shouldShowInductionBehavior,
                     int layer, int head, String hookName, boolean headSpecificPatch, String actualPatchScope,
                     String intervention, String interventionStatus, String positionLabel, String positionStatus,
                     Integer patchPosition, int meanAblationSourceNExamples, String cleanPrompt, String corruptPrompt,
                     String trueExpectedNextToken, String wrongOrControlToken, String metric, Double cleanScore,
                     Double corruptScore, Double patchedScore, Double effectSize, String effectSizeStatus) {
        static ResultRow of(int seed, HeadPatching.Result x) {
            PromptRecord r = x.job().record();
            Head h = x.job().head();
            return new ResultRow(seed, r.exampleId(), r.family(), r.controlFamily(), r.shouldShowInductionBehavior(),
                    h.layer(), h.head(), HookNames.hookZ(h.layer()), SITE.headSpecific(), SITE.actualPatchScope(),
                    x.job().intervention().id(), x.interventionStatus(), x.job().position().id(), x.positionStatus(),
                    x.patchPosition(), x.meanAblationSourceN(), x.cleanPrompt(), x.corruptPrompt(),
                    r.trueExpectedNextToken(), r.wrongOrControlToken(), HeadPatching.METRIC, x.cleanScore(),
                    x.corruptScore(), x.patchedScore(), x.effectSize(), x.effectSizeStatus());
        }
    }

    /** The reference's columns minus its run_id: run identity lives in the provenance, so reruns diff as identical. */
    static TableBuilder resultsTable(int seed, List<HeadPatching.Result> results) {
        return RecordSchema.of(ResultRow.class).builder(RESULTS, results.stream().map(x -> ResultRow.of(seed, x)).toList(),
                "example_id", "layer", "head", "intervention", "position_label");
    }

    private static final String[] FAMILY_KEYS = {"seed", "family", "layer", "head", "hook_name", "head_specific_patch",
            "actual_patch_scope", "intervention", "intervention_status", "metric", "position_label"};
    private static final String[] HEAD_KEYS = {"seed", "layer", "head", "hook_name", "head_specific_patch",
            "actual_patch_scope", "intervention", "intervention_status", "metric", "position_label"};

    /** A row of head_specific_induction_by_family: one (head, intervention, position) on one family. */
    record FamilyRow(Long seed, String family, Long layer, Long head, String hookName, Boolean headSpecificPatch,
                     String actualPatchScope, String intervention, String interventionStatus, String metric,
                     String positionLabel, long nExamples, Double meanEffectSize, Double medianEffectSize,
                     long nDenominatorZero, double fractionPositiveEffect, Boolean shouldShowInductionBehavior) {
        /** {@code k}: the group's {@link #FAMILY_KEYS} values, in order. */
        static FamilyRow of(List<Object> k, long nExamples, Double mean, Double median, long nZero, double positive,
                            Boolean shouldShow) {
            return new FamilyRow((Long) k.get(0), (String) k.get(1), (Long) k.get(2), (Long) k.get(3), (String) k.get(4),
                    (Boolean) k.get(5), (String) k.get(6), (String) k.get(7), (String) k.get(8), (String) k.get(9),
                    (String) k.get(10), nExamples, mean, median, nZero, positive, shouldShow);
        }
    }

    /** A row of head_specific_induction_by_head: positives against the hardest control family, and the verdict. */
    record HeadRow(Long seed, Long layer, Long head, String hookName, Boolean headSpecificPatch, String actualPatchScope,
                   String intervention, String interventionStatus, String metric, String positionLabel,
                   Double positiveMeanEffectSize, Double maxControlMeanEffectSize, Double positiveMinusControlEffectGap,
                   String hardestControlFamily, long nPositiveExamples, long nControlExamples, String specificityStatus) {
        /** {@code k}: the group's {@link #HEAD_KEYS} values, in order. */
        static HeadRow of(List<Object> k, Double positive, Double maxControl, Double gap, String hardest, long nPositive,
                          long nControl, String status) {
            return new HeadRow((Long) k.get(0), (Long) k.get(1), (Long) k.get(2), (String) k.get(3), (Boolean) k.get(4),
                    (String) k.get(5), (String) k.get(6), (String) k.get(7), (String) k.get(8), (String) k.get(9),
                    positive, maxControl, gap, hardest, nPositive, nControl, status);
        }
    }

    static TableBuilder byFamily(Table res) {
        List<FamilyRow> rows = new ArrayList<>();
        for (Map.Entry<List<Object>, Table> g : sorted(res.groupBy(FAMILY_KEYS))) {
            Table t = g.getValue();
            List<Double> eff = t.doubles("effect_size").stream().filter(java.util.Objects::nonNull).toList();
            rows.add(FamilyRow.of(g.getKey(), t.strings("example_id").stream().distinct().count(),
                    Stats.orNull(Stats.mean(eff)), Stats.orNull(Stats.median(eff)),
                    t.strings("effect_size_status").stream().filter("denominator_zero"::equals).count(),
                    eff.isEmpty() ? 0.0 : (double) eff.stream().filter(Decisions::positive).count() / eff.size(),
                    t.bools("should_show_induction_behavior").get(0)));
        }
        return RecordSchema.of(FamilyRow.class).builder(BY_FAMILY, rows, "family", "layer", "head", "intervention",
                "intervention_status", "position_label");
    }

    static TableBuilder byHead(Table res, Table fam) {
        Map<List<Object>, Table> headResults = res.groupBy(HEAD_KEYS);
        List<HeadRow> rows = new ArrayList<>();
        for (Map.Entry<List<Object>, Table> g : sorted(fam.groupBy(HEAD_KEYS))) {
            Table t = g.getValue();
            Table pos = t.filter(r -> r.getBool("should_show_induction_behavior"));
            Table ctl = t.filter(r -> !r.getBool("should_show_induction_behavior"));
            Double positive = pos.rowCount() == 0 ? null : Stats.orNull(Stats.mean(pos.doubles("mean_effect_size")));
            Table.Row hardest = null;
            for (Table.Row r : ctl.rows()) // first maximum, as a stable descending sort would pick
                if (r.getDouble("mean_effect_size") != null && (hardest == null
                        || Decisions.greater(r.getDouble("mean_effect_size"), hardest.getDouble("mean_effect_size"))))
                    hardest = r;
            Double maxControl = hardest == null ? null : hardest.getDouble("mean_effect_size");
            Double gap = positive != null && maxControl != null ? positive - maxControl : null;
            Table hr = headResults.get(g.getKey());
            long nZero = hr.strings("effect_size_status").stream().filter("denominator_zero"::equals).count();
            String status = specificity((Boolean) g.getKey().get(4), hr.rowCount(), nZero, positive, maxControl, gap,
                    "head_specific_positive_candidate");
            rows.add(HeadRow.of(g.getKey(), positive, maxControl, gap, hardest == null ? "" : hardest.getString("family"),
                    pos.longs("n_examples").stream().mapToLong(Long::longValue).sum(),
                    ctl.longs("n_examples").stream().mapToLong(Long::longValue).sum(), status));
        }
        // the reference sorts by gap, descending, missing last
        rows.sort(Decisions.descending(HeadRow::positiveMinusControlEffectGap));
        return RecordSchema.of(HeadRow.class).builder(BY_HEAD, rows, "layer", "head", "intervention", "intervention_status",
                "position_label");
    }

    /**
     * The specificity cascade of S9/S11 (spec section 6): not head-specific; no rows; denominator-zero rows
     * >= max(1, rows // 2); missing means; positive <= 0; max control >= positive; gap > 0 -> success label.
     * Comparisons are up to {@link Decisions#TOLERANCE}.
     */
    public static String specificity(boolean headSpecific, int nRows, long nDenominatorZero, Double positive,
                                     Double maxControl, Double gap, String successLabel) {
        if (!headSpecific) return "not_head_specific";
        if (nRows == 0) return "insufficient_examples";
        if (nDenominatorZero >= Math.max(1, nRows / 2)) return "denominator_problem";
        if (positive == null || maxControl == null) return "insufficient_examples";
        if (Decisions.nonPositive(positive)) return "no_positive_effect";
        if (Decisions.atLeast(maxControl, positive)) return "nonspecific_moves_controls";
        if (gap != null && Decisions.positive(gap)) return successLabel;
        return "insufficient_examples";
    }

    private static Map<String, Object> summary(Table res, Table fam, Table head, List<Head> heads, StageContext ctx, int seed) {
        Map<String, Object> s = new LinkedHashMap<>();
        s.put("seed", seed);
        s.put("n_result_rows", res.rowCount());
        s.put("families", ExampleSelection.HEAD_SWEEP_FAMILIES);
        s.put("n_heads", heads.size());
        s.put("layers", Layers.autoEven6(ctx.model().config().nLayer()));
        s.put("metric", HeadPatching.METRIC);
        s.put("head_specific_patch", res.bools("head_specific_patch").stream().allMatch(Boolean::booleanValue));
        s.put("actual_patch_scopes", res.strings("actual_patch_scope").stream().distinct().sorted().toList());
        s.put("positive_mean_effect_size", Stats.orNull(Stats.mean(
                fam.filter(r -> r.getBool("should_show_induction_behavior")).doubles("mean_effect_size"))));
        s.put("max_control_mean_effect_size", fam.filter(r -> !r.getBool("should_show_induction_behavior"))
                .doubles("mean_effect_size").stream().filter(java.util.Objects::nonNull).max(Double::compare).orElse(null));
        s.put("best_positive_minus_control_effect_gap", head.doubles("positive_minus_control_effect_gap").stream()
                .filter(java.util.Objects::nonNull).max(Double::compare).orElse(null));
        Map<String, Long> counts = Stats.counts(head.strings("specificity_status"));
        s.put("specificity_status_counts", counts);
        s.put("interpretation_note", "Head-specific patching tests selected heads under selected prompts, controls, "
                + "position, intervention, and metric. It is not a circuit claim.");
        return s;
    }

    /** Groups in the order pandas' groupby (sort=True) yields them: by key values. */
    static List<Map.Entry<List<Object>, Table>> sorted(Map<List<Object>, Table> groups) {
        List<Map.Entry<List<Object>, Table>> out = new ArrayList<>(groups.entrySet());
        out.sort((a, b) -> compareKeys(a.getKey(), b.getKey()));
        return out;
    }

    @SuppressWarnings({"unchecked", "rawtypes"})
    static int compareKeys(List<Object> a, List<Object> b) {
        for (int i = 0; i < a.size(); i++) {
            Object x = a.get(i), y = b.get(i);
            if (x == null || y == null) {
                if (x != y) return x == null ? 1 : -1;
                continue;
            }
            int c = ((Comparable) x).compareTo(y);
            if (c != 0) return c;
        }
        return 0;
    }
}
