package org.milab.protocol.reference;

import org.milab.stats.Decisions;

import org.milab.graph.Head;
import org.milab.stage.StageContext;
import org.milab.stats.Stats;

import org.milab.graph.PatchSite;
import org.milab.prompts.ExampleSelection;
import org.milab.prompts.HeldoutPrompts;
import org.milab.prompts.PromptRecord;
import org.milab.tables.RecordSchema;
import org.milab.tables.Table;
import org.milab.tables.TableBuilder;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.function.Function;
import java.util.stream.Collectors;

/**
 * S14 held-out robustness for one seed: the pre-registered candidates x 12 selected records of each
 * held-out family x {clean-to-corrupt, zero, mean} x {final, previous_occurrence} (6912 rows for GPT-2's
 * 16 candidates), batched. The candidate set is S13's, refused if it changed since it was registered. Writes heldout/seed<N>/heldout_robustness_{results,by_family,by_candidate}.
 */
public final class HeldoutRobustnessStage {
    public static final String DIR = "heldout";
    public static final String RESULTS = "heldout_robustness_results";
    public static final String BY_FAMILY = "heldout_robustness_by_family";
    public static final String BY_CANDIDATE = "heldout_robustness_by_candidate";
    private static final PatchSite SITE = PatchSite.HOOK_Z;
    private static final List<Intervention> INTERVENTIONS = List.of(Intervention.CLEAN_TO_CORRUPT,
            Intervention.ZERO_ABLATION, Intervention.MEAN_ABLATION);
    private static final List<PositionLabel> POSITIONS = List.of(PositionLabel.FINAL, PositionLabel.PREVIOUS_OCCURRENCE);

    /** A pre-registered candidate as S14 uses it. */
    public record Candidate(String candidateId, String group, Head head) {}

    /** The registered S13 set (refused if it changed since registration), include_in_main rows only. */
    public static List<Candidate> readCandidates(StageContext ctx) {
        return HeldoutCandidateStage.load(ctx).stream().filter(HeldoutCandidateStage.Candidate::includeInMain)
                .map(c -> new Candidate(c.candidateId(), c.group(), c.head())).toList();
    }

    public void run(StageContext ctx, int seed) {
        long t0 = System.nanoTime();
        List<Candidate> candidates = readCandidates(ctx);
        List<PromptRecord> records = HeldoutPrompts.generate(seed, ctx.config().heldoutGenerated());
        Map<String, PromptRecord> byId = records.stream().collect(Collectors.toMap(PromptRecord::exampleId, Function.identity()));
        List<PromptRecord> selected = ExampleSelection.select(records, ExampleSelection.HELDOUT_FAMILIES,
                ctx.config().heldoutScored(), seed);
        List<HeadPatching.Job> jobs = new ArrayList<>();
        Map<HeadPatching.Job, Candidate> candidateOf = new LinkedHashMap<>();
        for (Candidate c : candidates)
            for (PromptRecord r : selected)
                for (Intervention iv : INTERVENTIONS)
                    for (PositionLabel pos : POSITIONS) {
                        HeadPatching.Job j = new HeadPatching.Job(r, byId.get(r.pairedPositiveExampleId()),
                                c.candidateId(), c.head(), iv, pos);
                        jobs.add(j);
                        candidateOf.put(j, c);
                    }
        List<HeadPatching.Result> results = HeadPatching.run(ctx, jobs, "S14 held-out seed " + seed);
        Table res = ctx.write(DIR, seed, resultsTable(seed, results, candidateOf));
        Table fam = ctx.write(DIR, seed, byFamily(res));
        Table cand = ctx.write(DIR, seed, byCandidate(fam));
        Map<String, Object> summary = new LinkedHashMap<>();
        summary.put("seed", seed);
        summary.put("n_result_rows", res.rowCount());
        summary.put("n_candidates", candidates.size());
        summary.put("families", ExampleSelection.HELDOUT_FAMILIES);
        summary.put("interventions", INTERVENTIONS.stream().map(Intervention::id).toList());
        summary.put("positions", POSITIONS.stream().map(PositionLabel::id).toList());
        summary.put("metric", HeadPatching.METRIC);
        summary.put("head_specific_patch", true);
        summary.put("survival_status_counts", Stats.counts(cand.strings("survival_status")));
        ctx.writeJson(DIR, seed, "heldout_robustness_summary.json", summary);
        ctx.recordTiming(DIR + "/seed" + seed + "/robustness", (System.nanoTime() - t0) / 1e9);
        ctx.summarize(String.format(java.util.Locale.ROOT, "- S14 held-out seed %d: %d rows; slice statuses %s",
                seed, res.rowCount(), org.milab.stats.Num.text(summary.get("survival_status_counts"))));
    }

    static TableBuilder resultsTable(int seed, List<HeadPatching.Result> results, Map<HeadPatching.Job, Candidate> cands) {
        return resultsTable(RESULTS, seed, results, cands);
    }

    /** One patched (candidate, prompt, intervention, position) of the held-out results (S14; S16 writes the same). */
    record ResultRow(int seed, String candidateId, String candidateGroup, int layer, int head, String family,
                     String exampleId, String heldoutFamilyType, String intervention, String interventionStatus,
                     String positionLabel, String positionStatus, boolean headSpecificPatch, String actualPatchScope,
                     String metric, Double cleanScore, Double corruptScore, Double patchedScore, Double effectSize,
                     String effectSizeStatus, String trueExpectedNextToken, String wrongOrControlToken, String cleanPrompt,
                     String corruptPrompt) {
        static ResultRow of(int seed, HeadPatching.Result x, Candidate c) {
            PromptRecord r = x.job().record();
            return new ResultRow(seed, c.candidateId(), c.group(), c.head().layer(), c.head().head(), r.family(), r.exampleId(),
                    r.heldoutFamilyType(), x.job().intervention().id(), x.interventionStatus(), x.job().position().id(),
                    x.positionStatus(), SITE.headSpecific(), SITE.actualPatchScope(), HeadPatching.METRIC,
                    x.cleanScore(), x.corruptScore(), x.patchedScore(), x.effectSize(), x.effectSizeStatus(),
                    r.trueExpectedNextToken(), r.wrongOrControlToken(), x.cleanPrompt(), x.corruptPrompt());
        }
    }

    /** The held-out results schema under another table name (S16 writes the same columns). */
    static TableBuilder resultsTable(String name, int seed, List<HeadPatching.Result> results, Map<HeadPatching.Job, Candidate> cands) {
        return RecordSchema.of(ResultRow.class).builder(name,
                results.stream().map(x -> ResultRow.of(seed, x, cands.get(x.job()))).toList(),
                "candidate_id", "example_id", "intervention", "position_label");
    }

    private static final String[] FAMILY_KEYS = {"seed", "candidate_id", "candidate_group", "layer", "head", "family",
            "heldout_family_type", "intervention", "position_label", "head_specific_patch", "actual_patch_scope", "metric"};
    private static final String[] CANDIDATE_KEYS = {"seed", "candidate_id", "candidate_group", "layer", "head",
            "intervention", "position_label", "head_specific_patch", "actual_patch_scope", "metric"};

    /** One (seed, candidate, family, intervention, position) slice of heldout_robustness_by_family. */
    record FamilyRow(long seed, String candidateId, String candidateGroup, long layer, long head, String family,
                     String heldoutFamilyType, String intervention, String positionLabel, boolean headSpecificPatch,
                     String actualPatchScope, String metric, long nExamples, long nValidExamples, Double meanEffectSize,
                     Double medianEffectSize, long nPositionUnavailable, long nDenominatorZero) {}

    static TableBuilder byFamily(Table res) {
        List<FamilyRow> rows = new ArrayList<>();
        for (Map.Entry<List<Object>, Table> g : HeadSweepStage.sorted(res.groupBy(FAMILY_KEYS))) {
            Table t = g.getValue();
            List<Object> k = g.getKey();
            List<Double> eff = t.doubles("effect_size").stream().filter(Objects::nonNull).toList();
            rows.add(new FamilyRow((Long) k.get(0), (String) k.get(1), (String) k.get(2), (Long) k.get(3), (Long) k.get(4),
                    (String) k.get(5), (String) k.get(6), (String) k.get(7), (String) k.get(8), (Boolean) k.get(9),
                    (String) k.get(10), (String) k.get(11), t.strings("example_id").stream().distinct().count(), eff.size(),
                    Stats.orNull(Stats.mean(eff)), Stats.orNull(Stats.median(eff)),
                    t.strings("position_status").stream().filter("unavailable_for_family"::equals).count(),
                    t.strings("effect_size_status").stream().filter("denominator_zero"::equals).count()));
        }
        return RecordSchema.of(FamilyRow.class).builder(BY_FAMILY, rows, "candidate_id", "family", "intervention", "position_label");
    }

    /** One (seed, candidate, intervention, position) slice of heldout_robustness_by_candidate, with its survival. */
    record CandidateRow(long seed, String candidateId, String candidateGroup, long layer, long head, String intervention,
                        String positionLabel, boolean headSpecificPatch, String actualPatchScope, String metric,
                        long nFamilies, long nExamples, Double positiveFamilyMeanEffect, Double maxControlFamilyMeanEffect,
                        Double positiveMinusControlGap, long nPositiveFamiliesWithGapGt_0, long nControlFamiliesMoving,
                        String survivalStatus) {}

    static TableBuilder byCandidate(Table fam) {
        List<CandidateRow> rows = new ArrayList<>();
        for (Map.Entry<List<Object>, Table> g : HeadSweepStage.sorted(fam.groupBy(CANDIDATE_KEYS))) {
            Table t = g.getValue();
            List<Object> k = g.getKey();
            List<Double> pos = t.filter(r -> "positive".equals(r.getString("heldout_family_type")))
                    .doubles("mean_effect_size").stream().filter(Objects::nonNull).toList();
            List<Double> ctl = t.filter(r -> "control".equals(r.getString("heldout_family_type")))
                    .doubles("mean_effect_size").stream().filter(Objects::nonNull).toList();
            Double positive = pos.isEmpty() ? null : Stats.mean(pos);
            Double maxControl = ctl.isEmpty() ? null : ctl.stream().max(Double::compare).get();
            Double gap = positive != null && maxControl != null ? positive - maxControl : null;
            long nPos = pos.stream().filter(Decisions::positive).count(), nCtl = ctl.stream().filter(Decisions::positive).count();
            rows.add(new CandidateRow((Long) k.get(0), (String) k.get(1), (String) k.get(2), (Long) k.get(3), (Long) k.get(4),
                    (String) k.get(5), (String) k.get(6), (Boolean) k.get(7), (String) k.get(8), (String) k.get(9),
                    t.strings("family").stream().distinct().count(), t.longs("n_examples").stream().mapToLong(Long::longValue).sum(),
                    positive, maxControl, gap, nPos, nCtl, survival((Boolean) k.get(7), positive, maxControl, gap, nPos)));
        }
        rows.sort(Decisions.descending(CandidateRow::positiveMinusControlGap));
        return RecordSchema.of(CandidateRow.class).builder(BY_CANDIDATE, rows, "candidate_id", "intervention", "position_label");
    }

    /** The per-seed slice rule of S14 ({@code classify_heldout_seed_status}). */
    public static String survival(boolean headSpecific, Double positive, Double maxControl, Double gap,
                                  long nPositiveFamiliesAboveZero) {
        if (!headSpecific) return "not_head_specific";
        if (positive == null || maxControl == null || gap == null) return "insufficient_valid_examples";
        if (Decisions.nonPositive(positive)) return "falsified_no_positive_effect";
        if (Decisions.atLeast(maxControl, positive)) return "falsified_controls_move";
        if (Decisions.positive(gap) && nPositiveFamiliesAboveZero >= 2) return "heldout_survives_seed";
        if (Decisions.positive(gap)) return "downgraded_weak_family_specific";
        return "falsified_sign_flip";
    }

}
