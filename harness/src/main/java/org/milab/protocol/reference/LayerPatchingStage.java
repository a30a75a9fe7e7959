package org.milab.protocol.reference;

import org.milab.stats.Decisions;

import org.milab.engine.PatchRow;
import org.milab.engine.SitePatch;
import org.milab.stats.Stats;

import org.milab.engine.Capture;
import org.milab.engine.TokenIds;
import org.milab.stage.StageContext;

import org.milab.graph.PatchSite;
import org.milab.prompts.ControlPrompts;
import org.milab.prompts.ExampleSelection;
import org.milab.prompts.PromptRecord;
import org.milab.tables.RecordSchema;
import org.milab.tables.Table;
import org.milab.tables.TableBuilder;
import org.milab.util.UserError;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.function.Function;
import java.util.stream.Collectors;

/**
 * S9 controlled layer-level patching ({@code run_controlled_patching.py}): for the first
 * {@code maxCandidates} S8 candidates and the selected control-set examples, patch the corrupt prompt's
 * final-position attention output of the candidate's whole layer with the clean prompt's, and score the
 * target logit of {@code expected_next_token}. Not head-specific: {@code head} is carried but irrelevant.
 * Writes controlled_patching_results / _by_family / _by_candidate, controlled_patching_summary.json and
 * controlled_patching_notes.md under {@code layer_patching/seed<N>/}.
 */
public final class LayerPatchingStage {
    public static final String DIR = "layer_patching";
    public static final String CANDIDATES = "controlled_patching_candidates";
    public static final String RESULTS = "controlled_patching_results";
    public static final String BY_FAMILY = "controlled_patching_by_family";
    public static final String BY_CANDIDATE = "controlled_patching_by_candidate";
    public static final String METRIC = "target_logit";
    public static final String POSITION = "final";
    static final String POSITIVE_FAMILY = "positive_repeat_sequence";

    /** One row of the S8 candidate table that this stage uses. */
    public record Candidate(String id, String source, int layer, Integer head, String component) {}

    /** One (candidate, example) cell with its reference pairing. */
    record Job(PromptRecord record, Candidate candidate, String cleanPrompt, String corruptPrompt, String context) {}

    /** The controls set of {@code seed}, regenerated exactly as S3 wrote it. */
    public void run(StageContext ctx, int seed) {
        run(ctx, seed, ControlPrompts.generate(seed, ctx.config().controlsPerFamily()));
    }

    public void run(StageContext ctx, int seed, List<PromptRecord> controlRecords) {
        long t0 = System.nanoTime();
        List<Candidate> candidates = candidates(ctx.read(DIR, seed, CANDIDATES));
        List<Job> jobs = jobs(controlRecords, candidates, ExampleSelection.CONTROLLED_PATCHING_FAMILIES,
                ctx.config().layerPatchPerFamily(), ctx.config().maxCandidates(), seed);
        Table results = ctx.write(DIR, seed, score(ctx, jobs, "S9 seed " + seed));
        Table byFamily = ctx.write(DIR, seed, byFamily(results));
        Table byCandidate = ctx.write(DIR, seed, byCandidate(results, byFamily, candidates));
        Map<String, Object> summary = summary(results, byFamily, byCandidate, ExampleSelection.CONTROLLED_PATCHING_FAMILIES);
        summary.put("seed", seed);
        summary.put("examples_per_family", ctx.config().layerPatchPerFamily());
        summary.put("max_candidates", ctx.config().maxCandidates());
        ctx.writeJson(DIR, seed, "controlled_patching_summary.json", summary);
        ctx.writeText(DIR, seed, "controlled_patching_notes.md", notes(summary));
        ctx.summarize(String.format(Locale.ROOT, "- S9 layer patching seed %d: %d rows, statuses %s", seed,
                results.rowCount(), org.milab.stats.Num.text(summary.get("specificity_status_counts"))));
        ctx.recordTiming(DIR + "/seed" + seed, (System.nanoTime() - t0) / 1e9);
    }

    /** The columns S9 reads of an S8 candidate table (a layer-level candidate has no head). */
    record Picked(String candidateId, String source, int layer, Integer head, String component) {}

    static List<Candidate> candidates(Table t) {
        return RecordSchema.of(Picked.class).read(t).stream()
                .map(p -> new Candidate(p.candidateId(), p.source(), p.layer(), p.head(), p.component())).toList();
    }

    /** build_patching_jobs: candidates (first {@code maxCandidates}) x the seeded example selection. */
    static List<Job> jobs(List<PromptRecord> records, List<Candidate> candidates, List<String> families,
                          int perFamily, int maxCandidates, long seed) {
        Map<String, PromptRecord> byId = records.stream()
                .collect(Collectors.toMap(PromptRecord::exampleId, Function.identity(), (a, b) -> a));
        List<PromptRecord> selected = ExampleSelection.select(records, families, perFamily, seed);
        List<Job> jobs = new ArrayList<>();
        for (Candidate c : candidates.subList(0, Math.min(maxCandidates, candidates.size())))
            for (PromptRecord r : selected) {
                PromptRecord positive = byId.get(r.pairedPositiveExampleId());
                if (positive == null)
                    throw new IllegalStateException("Record " + r.exampleId() + " references missing paired positive '"
                            + r.pairedPositiveExampleId() + "'");
                String[] pair = cleanCorrupt(r, positive);
                jobs.add(new Job(r, c, pair[0], pair[1], pair[2]));
            }
        return jobs;
    }

    /**
     * The layer-level pairing (reference {@code _clean_corrupt_for_record}), decided by family name: the
     * positive family -> (positive prompt, positive control prompt); any other -> (positive prompt, own prompt).
     * Returns clean, corrupt and the positive_minus_control_context label.
     */
    static String[] cleanCorrupt(PromptRecord r, PromptRecord positive) {
        if (r.family().equals(POSITIVE_FAMILY))
            return new String[]{positive.prompt(), positive.controlPrompt(), "positive_vs_builtin_control_prompt"};
        if (r.family().equals("random_expected_token_control"))
            return new String[]{positive.prompt(), r.prompt(), "same_prompt_wrong_target_token"};
        return new String[]{positive.prompt(), r.prompt(), "positive_vs_" + r.family()};
    }

    /** The reference's wrong_or_control_token fallback for records that leave it empty. */
    static String wrongOrControl(PromptRecord r) {
        if (!r.wrongOrControlToken().isEmpty()) return r.wrongOrControlToken();
        return r.expectedNextToken().equals(r.trueExpectedNextToken()) ? "" : r.expectedNextToken();
    }

    static PatchSite site(String component) {
        return switch (component) {
            case "attn_out" -> PatchSite.ATTN_OUT;
            case "resid_post" -> PatchSite.RESID_POST;
            default -> throw new UserError("Candidate component '" + component + "' cannot be patched at layer level.",
                    "Use attn_out or resid_post in the controlled_patching_candidates table.");
        };
    }

    /**
     * Runs every job batched: each distinct clean prompt is captured once; per patch site one patch call holds
     * an unpatched row per (prompt, target) -- the clean and corrupt scores -- and one patched row per job.
     */
    static TableBuilder score(StageContext ctx, List<Job> jobs, String label) {
        int nLayer = ctx.model().config().nLayer();
        Map<PatchSite, List<Integer>> bySite = new LinkedHashMap<>();
        Set<TokenIds> cleanPrompts = new LinkedHashSet<>();
        Set<String> hooks = new LinkedHashSet<>();
        for (int i = 0; i < jobs.size(); i++) {
            Job j = jobs.get(i);
            if (j.candidate().layer() < 0 || j.candidate().layer() >= nLayer)
                throw new UserError("Candidate " + j.candidate().id() + " names layer " + j.candidate().layer()
                        + " but model " + ctx.model().id() + " has " + nLayer + " layers.", "Re-run S8 for this model.");
            PatchSite site = site(j.candidate().component());
            bySite.computeIfAbsent(site, s -> new ArrayList<>()).add(i);
            cleanPrompts.add(ctx.tokens(j.cleanPrompt()));
            hooks.add(site.hook(j.candidate().layer()));
        }
        Map<TokenIds, Capture> caps = ctx.model().engine().capture(cleanPrompts, hooks, label + ": capture");
        double[][] scores = new double[jobs.size()][]; // clean, corrupt, patched
        for (Map.Entry<PatchSite, List<Integer>> e : bySite.entrySet()) {
            PatchSite site = e.getKey();
            List<PatchRow> rows = new ArrayList<>();
            Map<List<Object>, Integer> baseline = new HashMap<>();
            int[][] rowOf = new int[jobs.size()][];
            for (int i : e.getValue()) {
                Job j = jobs.get(i);
                TokenIds clean = ctx.tokens(j.cleanPrompt()), corrupt = ctx.tokens(j.corruptPrompt());
                int t = target(ctx, j.record());
                int[] idx = new int[3];
                idx[0] = baseline.computeIfAbsent(List.of(clean, t), k -> add(rows, new PatchRow(clean, List.of(), new int[]{t})));
                idx[1] = baseline.computeIfAbsent(List.of(corrupt, t), k -> add(rows, new PatchRow(corrupt, List.of(), new int[]{t})));
                int layer = j.candidate().layer();
                float[] donor = caps.get(clean).vector(site.hook(layer), clean.length() - 1);
                idx[2] = add(rows, new PatchRow(corrupt, List.of(new SitePatch(layer, corrupt.length() - 1, 0, donor)), new int[]{t}));
                rowOf[i] = idx;
            }
            float[][] logits = ctx.model().engine().patch(site, rows, label + ": patch " + site.actualPatchScope());
            for (int i : e.getValue())
                scores[i] = new double[]{logits[rowOf[i][0]][0], logits[rowOf[i][1]][0], logits[rowOf[i][2]][0]};
        }
        TableBuilder b = resultsBuilder();
        for (int i = 0; i < jobs.size(); i++) {
            Job j = jobs.get(i);
            PromptRecord r = j.record();
            TokenIds clean = ctx.tokens(j.cleanPrompt()), corrupt = ctx.tokens(j.corruptPrompt());
            double cs = scores[i][0], xs = scores[i][1], ps = scores[i][2];
            // Identical token ids give clean == corrupt by construction: decided on ids (spec 1.5), the
            // reference's 1e-12 guard kept for the rest.
            boolean zero = clean.equals(corrupt) || Math.abs(cs - xs) < 1e-12;
            RESULT_ROWS.add(b, new ResultRow(r.exampleId(), r.family(), r.controlFamily(), r.shouldShowInductionBehavior(),
                    j.candidate().id(), j.candidate().source(), j.candidate().layer(), j.candidate().head(),
                    j.candidate().component(), POSITION, corrupt.length() - 1, false,
                    site(j.candidate().component()).actualPatchScope(), j.cleanPrompt(), j.corruptPrompt(),
                    r.expectedNextToken(), r.trueExpectedNextToken(), wrongOrControl(r), METRIC, cs, xs, ps,
                    zero ? null : (ps - xs) / (cs - xs), zero ? "denominator_zero" : "ok", j.context()));
        }
        return b;
    }

    private static int target(StageContext ctx, PromptRecord r) {
        return ctx.singleToken(r.expectedNextToken(), r.exampleId() + " expected_next_token");
    }

    private static int add(List<PatchRow> rows, PatchRow row) {
        rows.add(row);
        return rows.size() - 1;
    }

    /** One (prompt, candidate) of layer_patching_results: the layer's site patched from clean into corrupt. */
    record ResultRow(String exampleId, String family, String controlFamily, boolean shouldShowInductionBehavior,
                     String candidateId, String candidateSource, int layer, Integer head, String component,
                     String positionLabel, int patchPosition, boolean headSpecificPatch, String actualPatchScope,
                     String cleanPrompt, String corruptPrompt, String targetToken, String trueExpectedNextToken,
                     String wrongOrControlToken, String metric, double cleanScore, double corruptScore, double patchedScore,
                     Double effectSize, String effectSizeStatus, String positiveMinusControlContext) {}

    private static final RecordSchema<ResultRow> RESULT_ROWS = RecordSchema.of(ResultRow.class);

    static TableBuilder resultsBuilder() {
        return RESULT_ROWS.builder(RESULTS, "candidate_id", "example_id");
    }

    /** Groups in pandas' sorted key order (family, candidate_id, layer, head, component). */
    /** A row of layer_patching_by_family: one candidate (a head or a layer's component) on one family. */
    record FamilyRow(String family, String candidateId, Long layer, Long head, String component, long nExamples,
                     Double meanEffectSize, Double medianEffectSize, long nDenominatorZero, double fractionPositiveEffect,
                     Boolean shouldShowInductionBehavior) {}

    static TableBuilder byFamily(Table results) {
        List<FamilyRow> rows = new ArrayList<>();
        List<Map.Entry<List<Object>, Table>> groups =
                new ArrayList<>(results.groupBy("family", "candidate_id", "layer", "head", "component").entrySet());
        groups.sort(Map.Entry.comparingByKey(KEY_ORDER));
        for (Map.Entry<List<Object>, Table> g : groups) {
            Table f = g.getValue();
            List<Double> effects = f.doubles("effect_size");
            long valid = effects.stream().filter(d -> d != null && !d.isNaN()).count();
            long positive = effects.stream().filter(d -> d != null && Decisions.positive(d)).count();
            List<Object> k = g.getKey();
            rows.add(new FamilyRow((String) k.get(0), (String) k.get(1), (Long) k.get(2), (Long) k.get(3), (String) k.get(4),
                    f.strings("example_id").stream().distinct().count(), Stats.orNull(Stats.mean(effects)),
                    Stats.orNull(Stats.median(effects)), f.strings("effect_size_status").stream().filter("denominator_zero"::equals).count(),
                    valid == 0 ? 0.0 : (double) positive / valid, f.bools("should_show_induction_behavior").get(0)));
        }
        return RecordSchema.of(FamilyRow.class).builder(BY_FAMILY, rows, "family", "candidate_id");
    }

    /** Lexicographic order of group keys (strings and numbers; null first), like pandas' sorted groupby. */
    @SuppressWarnings({"unchecked", "rawtypes"})
    static final Comparator<List<Object>> KEY_ORDER = (a, b) -> {
        for (int i = 0; i < a.size(); i++) {
            Object x = a.get(i), y = b.get(i);
            if (x == null || y == null) {
                if (x != y) return x == null ? -1 : 1;
                continue;
            }
            int c = ((Comparable) x).compareTo(y);
            if (c != 0) return c;
        }
        return 0;
    };

    /**
     * One row per candidate (sorted by id, then by gap descending with missing gaps last, stable): positive
     * mean = mean of positive-family means; max control = the control family with the highest mean (first in
     * family order on ties); status from {@link #specificityStatus}.
     */
    static TableBuilder byCandidate(Table results, Table byFamily, List<Candidate> candidates) {
        Map<String, String> sources = new HashMap<>();
        candidates.forEach(c -> sources.putIfAbsent(c.id(), c.source()));
        List<CandidateRow> rows = new ArrayList<>();
        // by candidate id in sorted order, each candidate's family rows in table order (pandas' groupby)
        Map<String, List<FamilyRow>> perCandidate = new TreeMap<>();
        for (FamilyRow f : RecordSchema.of(FamilyRow.class).read(byFamily))
            perCandidate.computeIfAbsent(f.candidateId(), k -> new ArrayList<>()).add(f);
        for (Map.Entry<String, List<FamilyRow>> e : perCandidate.entrySet()) {
            String id = e.getKey();
            List<FamilyRow> sub = e.getValue();
            List<FamilyRow> pos = sub.stream().filter(FamilyRow::shouldShowInductionBehavior).toList();
            List<FamilyRow> ctl = sub.stream().filter(f -> !f.shouldShowInductionBehavior()).toList();
            Double positive = Stats.orNull(Stats.mean(pos.stream().map(FamilyRow::meanEffectSize).toList()));
            FamilyRow hardest = null;
            for (FamilyRow r : ctl) {
                Double m = r.meanEffectSize();
                if (m != null && (hardest == null || Decisions.greater(m, hardest.meanEffectSize()))) hardest = r;
            }
            Double maxControl = hardest == null ? null : hardest.meanEffectSize();
            Double gap = positive != null && maxControl != null ? positive - maxControl : null;
            Table total = results.filter(r -> r.getString("candidate_id").equals(id));
            int nZero = (int) total.strings("effect_size_status").stream().filter("denominator_zero"::equals).count();
            FamilyRow first = sub.get(0);
            rows.add(new CandidateRow(id, sources.getOrDefault(id, ""), first.layer(), first.head(), first.component(), positive,
                    maxControl, gap, hardest == null ? "" : hardest.family(), sum(pos.stream().map(FamilyRow::nExamples).toList()),
                    sum(ctl.stream().map(FamilyRow::nExamples).toList()), specificityStatus(total.rowCount(), nZero, positive, maxControl, gap)));
        }
        rows.sort(Decisions.descending(CandidateRow::positiveMinusControlEffectGap));
        return RecordSchema.of(CandidateRow.class).builder(BY_CANDIDATE, rows, "candidate_id");
    }

    /** One candidate of layer_patching_by_candidate: positive against hardest control family, and the status. */
    record CandidateRow(String candidateId, String source, long layer, Long head, String component,
                        Double positiveMeanEffectSize, Double maxControlMeanEffectSize, Double positiveMinusControlEffectGap,
                        String hardestControlFamily, long nPositiveExamples, long nControlExamples, String specificityStatus) {}

    private static long sum(List<Long> xs) {
        return xs.stream().mapToLong(Long::longValue).sum();
    }

    /**
     * The reference's specificity cascade ({@code classify_candidate_specificity}), in order, comparing up to
     * {@link Decisions#TOLERANCE}. Missing means (no rows, or all NaN) are null.
     */
    public static String specificityStatus(int nRows, int nDenominatorZero, Double positiveMean, Double maxControlMean,
                                           Double gap) {
        if (nRows == 0) return "insufficient_examples";
        if (nDenominatorZero >= Math.max(1, nRows / 2)) return "denominator_problem";
        if (positiveMean == null || maxControlMean == null) return "insufficient_examples";
        if (Decisions.nonPositive(positiveMean)) return "no_positive_effect";
        if (Decisions.atLeast(maxControlMean, positiveMean)) return "nonspecific_moves_controls";
        if (gap != null && Decisions.positive(gap)) return "positive_specific_candidate";
        return "insufficient_examples";
    }

    /** layer_patching_summary.json, in the reference's key order. */
    record Summary(int nResultRows, List<String> families, long nCandidates, boolean headSpecificPatch,
                   String actualPatchScope, List<String> actualPatchScopes, Double positiveMeanEffectSize,
                   Double maxControlMeanEffectSize, Double bestPositiveMinusControlEffectGap,
                   Map<String, Long> specificityStatusCounts, String interpretationNote) {}

    static Map<String, Object> summary(Table results, Table byFamily, Table byCandidate, List<String> families) {
        List<String> scopes = results.strings("actual_patch_scope").stream().distinct().sorted().toList();
        double positive = Stats.mean(byFamily.filter(r -> r.getBool("should_show_induction_behavior")).doubles("mean_effect_size"));
        double maxControl = byFamily.filter(r -> !r.getBool("should_show_induction_behavior")).doubles("mean_effect_size")
                .stream().filter(d -> d != null && !d.isNaN()).mapToDouble(Double::doubleValue).max().orElse(Double.NaN);
        double bestGap = byCandidate.doubles("positive_minus_control_effect_gap").stream().filter(d -> d != null)
                .mapToDouble(Double::doubleValue).max().orElse(Double.NaN);
        return RecordSchema.treeMap(new Summary(results.rowCount(), families,
                results.strings("candidate_id").stream().distinct().count(), false,
                scopes.size() == 1 ? scopes.get(0) : "mixed_patch_scopes", scopes, Stats.orNull(positive),
                Stats.orNull(maxControl), Stats.orNull(bestGap), valueCounts(byCandidate.strings("specificity_status")),
                "Controlled patching asks whether causal effects separate positives from controls. "
                        + "This is tiny causal practice, not a mechanism claim."));
    }

    /** pandas value_counts: count descending, ties in order of first appearance. */
    static Map<String, Long> valueCounts(List<String> values) {
        Map<String, Long> counts = new LinkedHashMap<>();
        values.forEach(v -> counts.merge(v, 1L, Long::sum));
        Map<String, Long> out = new LinkedHashMap<>();
        counts.entrySet().stream().sorted(Map.Entry.<String, Long>comparingByValue().reversed())
                .forEach(e -> out.put(e.getKey(), e.getValue()));
        return out;
    }

    private static String notes(Map<String, Object> s) {
        return String.join("\n", "# Controlled Patching Notes", "",
                "Controlled patching asks whether causal effects separate positives from controls.",
                "Layer-level attn_out patching is not head-specific.", "",
                "Candidates patched: " + s.get("n_candidates"),
                "Positive mean effect size: " + s.get("positive_mean_effect_size"),
                "Max control mean effect size: " + s.get("max_control_mean_effect_size"),
                "Best positive-minus-control effect gap: " + s.get("best_positive_minus_control_effect_gap"),
                "Specificity statuses: " + s.get("specificity_status_counts"), "",
                "This is tiny causal practice, not induction-head discovery.") + "\n";
    }
}
