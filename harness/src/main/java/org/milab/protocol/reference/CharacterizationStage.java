package org.milab.protocol.reference;

import org.milab.stats.Decisions;

import org.milab.engine.Capture;
import org.milab.graph.Head;
import org.milab.engine.TokenIds;

import org.milab.lab.ExportedWeights;
import org.milab.stage.StageContext;
import org.milab.stats.Stats;

import org.milab.graph.HookNames;
import org.milab.model.Checkpoint;
import org.milab.prompts.CharacterizationPrompts;
import org.milab.prompts.ExampleSelection;
import org.milab.prompts.PromptRecord;
import org.milab.tables.RecordSchema;
import org.milab.tables.Table;
import org.milab.tables.TableBuilder;
import org.milab.util.UserError;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.function.Function;
import java.util.stream.Collectors;

/**
 * S16 candidate characterization for one seed: the registered held-out candidates x 4 selected records of
 * each characterization family (families alphabetical) x {clean-to-corrupt, zero, mean} x {final,
 * previous_occurrence}, then the per-candidate effect summary, position characterization, attention/effect
 * alignment, OV/QK local margins and the per-seed status. Controls pair with {@code char_symbolic_short_<i>}
 * although their own pool is ordered differently (spec 4.4 / 10.6, reproduced on purpose).
 * Writes characterization/seed<N>/{prompts, candidate_characterization_results, position_characterization_by_candidate,
 * attention_effect_examples, attention_effect_by_candidate, head_circuit_diagnostics_examples,
 * head_circuit_diagnostics_by_candidate, candidate_characterization_by_candidate} + summary json + Markdown.
 */
public final class CharacterizationStage {
    public static final String DIR = "characterization";
    public static final String RESULTS = "candidate_characterization_results";
    public static final String BY_CANDIDATE = "candidate_characterization_by_candidate";
    public static final String POSITION = "position_characterization_by_candidate";
    public static final String ATTENTION_EXAMPLES = "attention_effect_examples";
    public static final String ATTENTION_BY_CANDIDATE = "attention_effect_by_candidate";
    public static final String DIAGNOSTIC_EXAMPLES = "head_circuit_diagnostics_examples";
    public static final String DIAGNOSTIC_BY_CANDIDATE = "head_circuit_diagnostics_by_candidate";
    public static final int GENERATED_PER_FAMILY = 12;
    public static final int SCORED_PER_FAMILY = 4;
    static final List<Intervention> INTERVENTIONS = List.of(Intervention.CLEAN_TO_CORRUPT,
            Intervention.ZERO_ABLATION, Intervention.MEAN_ABLATION);
    static final List<PositionLabel> POSITIONS = List.of(PositionLabel.FINAL, PositionLabel.PREVIOUS_OCCURRENCE);
    static final Set<String> SUPPORTING_POSITIONS = Set.of("destination_specific", "source_specific",
            "both_source_and_destination", "position_nonspecific");

    /** The reference's counts: 12 prompts per family generated, 4 scored (its CLI default). */
    public void run(StageContext ctx, int seed) {
        run(ctx, seed, GENERATED_PER_FAMILY, SCORED_PER_FAMILY);
    }

    public void run(StageContext ctx, int seed, int generatedPerFamily, int scoredPerFamily) {
        long t0 = System.nanoTime();
        List<HeldoutRobustnessStage.Candidate> candidates = HeldoutRobustnessStage.readCandidates(ctx);
        List<PromptRecord> records = CharacterizationPrompts.generate(seed, generatedPerFamily);
        Map<String, PromptRecord> byId = records.stream().collect(Collectors.toMap(PromptRecord::exampleId, Function.identity()));
        List<PromptRecord> selected = ExampleSelection.selectAlphabetical(records, scoredPerFamily, seed);
        ctx.write(DIR, seed, PromptTables.build(records));
        List<HeadPatching.Job> jobs = new ArrayList<>();
        Map<HeadPatching.Job, HeldoutRobustnessStage.Candidate> candidateOf = new LinkedHashMap<>();
        for (HeldoutRobustnessStage.Candidate c : candidates)
            for (PromptRecord r : selected) {
                PromptRecord paired = byId.get(r.pairedPositiveExampleId());
                if (paired == null)
                    throw new UserError("Characterization record " + r.exampleId() + " names a missing paired positive '"
                            + r.pairedPositiveExampleId() + "'.", "Generate at least as many prompts per family as are paired.");
                for (Intervention iv : INTERVENTIONS)
                    for (PositionLabel pos : POSITIONS) {
                        HeadPatching.Job j = new HeadPatching.Job(r, paired, c.candidateId(), c.head(), iv, pos);
                        jobs.add(j);
                        candidateOf.put(j, c);
                    }
            }
        List<HeadPatching.Result> patched = HeadPatching.run(ctx, jobs, "S16 characterization seed " + seed);
        Table results = ctx.write(DIR, seed, HeldoutRobustnessStage.resultsTable(RESULTS, seed, patched, candidateOf));
        Table position = ctx.write(DIR, seed, positionByCandidate(results));
        Table examples = ctx.write(DIR, seed, attentionExamples(ctx, results, byId, candidates));
        Table alignment = ctx.write(DIR, seed, attentionByCandidate(examples));
        List<PromptRecord> ovQkRecords = ExampleSelection.selectPositives(records, ExampleSelection.OV_QK_FAMILIES,
                scoredPerFamily, seed);
        Table diagExamples;
        try (Checkpoint w = ExportedWeights.open(ctx.model().layout().graphDir(), ctx.model().config())) {
            diagExamples = ctx.write(DIR, seed, diagnosticExamples(ctx, new HeadCircuit(w), candidates, ovQkRecords));
        }
        Table diagnostics = ctx.write(DIR, seed, diagnosticsByCandidate(diagExamples, candidates));
        Table byCandidate = ctx.write(DIR, seed, byCandidate(seed, effectSummary(results), alignment, position, diagnostics));

        Map<String, Object> summary = new LinkedHashMap<>();
        summary.put("seed", seed);
        summary.put("n_result_rows", results.rowCount());
        summary.put("n_candidates", byCandidate.rowCount());
        summary.put("examples_per_family", scoredPerFamily);
        summary.put("interventions", INTERVENTIONS.stream().map(Intervention::id).toList());
        summary.put("positions", POSITIONS.stream().map(PositionLabel::id).toList());
        summary.put("primary_metric", HeadPatching.METRIC);
        summary.put("characterization_status_counts", Stats.counts(byCandidate.strings("characterization_seed_status")));
        summary.put("attention_alignment_status_counts", Stats.counts(alignment.strings("alignment_status")));
        summary.put("position_status_counts", Stats.counts(position.strings("position_specificity_status")));
        summary.put("ov_status_counts", Stats.counts(diagnostics.strings("ov_status")));
        summary.put("qk_status_counts", Stats.counts(diagnostics.strings("qk_status")));
        summary.put("interpretation_note", "Candidate characterization combines local diagnostics. It does not establish "
                + "an induction head, a full circuit, or a broad model claim.");
        ctx.writeJson(DIR, seed, "candidate_characterization_summary.json", summary);
        ctx.writeText(DIR, seed, "candidate_characterization.md", markdown(summary, byCandidate));
        ctx.recordTiming(DIR + "/seed" + seed, (System.nanoTime() - t0) / 1e9);
        ctx.summarize(String.format(Locale.ROOT, "- S16 characterization seed %d: %d rows; statuses %s", seed,
                results.rowCount(), org.milab.stats.Num.text(summary.get("characterization_status_counts"))));
    }

    // ---------------------------------------------------------------- effect summary and seed status

    /** Per candidate: mean of the positive family means (all rows of a family pooled) and the max control family mean. */
    static Map<String, Double[]> effectSummary(Table results) {
        Map<String, Double[]> out = new LinkedHashMap<>();
        for (Map.Entry<List<Object>, Table> c : results.groupBy("candidate_id").entrySet()) {
            List<Double> pos = new ArrayList<>(), ctl = new ArrayList<>();
            for (Map.Entry<List<Object>, Table> f : HeadSweepStage.sorted(c.getValue().groupBy("family", "heldout_family_type"))) {
                double m = Stats.mean(f.getValue().doubles("effect_size"));
                if (Double.isNaN(m)) continue;
                ("positive".equals(f.getKey().get(1)) ? pos : ctl).add(m);
            }
            Double positive = pos.isEmpty() ? null : Stats.mean(pos);
            Double maxControl = ctl.isEmpty() ? null : ctl.stream().max(Double::compare).get();
            out.put((String) c.getKey().get(0), new Double[]{positive, maxControl,
                    positive != null && maxControl != null ? positive - maxControl : null});
        }
        return out;
    }

    /** A row of candidate_characterization_by_candidate: one candidate's effects, attention, position and circuit evidence. */
    record CandidateRow(int seed, String candidateId, String candidateGroup, Long layer, Long head, Double meanTrueVsControlEffect,
                        Double maxControlEffect, Double positiveMinusControlGap, Double spearmanAttentionEffectCorr,
                        Double meanSourceAttentionMargin, String positionSpecificityStatus, Double ovCopyMargin, String ovStatus,
                        Double qkSourceMargin, String qkStatus, String characterizationSeedStatus) {}

    static TableBuilder byCandidate(int seed, Map<String, Double[]> effects, Table alignment, Table position, Table diagnostics) {
        Map<String, Table.Row> al = index(alignment), po = index(position), di = index(diagnostics);
        List<CandidateRow> rows = new ArrayList<>();
        for (Table.Row d : diagnostics.rows()) { // every candidate has a diagnostics row, in candidate-set order
            String id = d.getString("candidate_id");
            Double[] e = effects.get(id);
            if (e == null) continue; // no result rows: the reference's merge starts from the effect summary
            Table.Row a = al.get(id), p = po.get(id);
            Double corr = a == null ? null : a.getDouble("spearman_attention_effect_corr");
            Double margin = a == null ? null : a.getDouble("mean_source_attention_margin");
            String ps = p == null ? null : p.getString("position_specificity_status");
            Table.Row dd = di.get(id);
            rows.add(new CandidateRow(seed, id, d.getString("candidate_group"), d.getLong("layer"), d.getLong("head"), e[0], e[1],
                    e[2], corr, margin, ps, dd.getDouble("ov_copy_margin"), dd.getString("ov_status"),
                    dd.getDouble("qk_source_margin"), dd.getString("qk_status"),
                    seedStatus(e[2], e[0], e[1], corr, ps, dd.getString("ov_status"), dd.getString("qk_status"))));
        }
        rows.sort(Decisions.descending(CandidateRow::positiveMinusControlGap));
        return RecordSchema.of(CandidateRow.class).builder(BY_CANDIDATE, rows, "candidate_id");
    }

    private static Map<String, Table.Row> index(Table t) {
        Map<String, Table.Row> m = new HashMap<>();
        for (Table.Row r : t.rows()) m.putIfAbsent(r.getString("candidate_id"), r);
        return m;
    }

    /** {@code classify_characterization_seed_status}, in the reference's order. */
    public static String seedStatus(Double gap, Double positive, Double maxControl, Double corr, String positionStatus,
                                    String ovStatus, String qkStatus) {
        if (gap == null || positive == null) return "insufficient_characterization_data";
        if (maxControl != null && Decisions.atLeast(maxControl, positive)) return "characterization_falsifies";
        if (corr != null && Decisions.nonPositive(corr)) return "characterization_falsifies";
        if ("distractor_like".equals(positionStatus) || "no_position_effect".equals(positionStatus))
            return "characterization_falsifies";
        if ("ov_contradicts_copy".equals(ovStatus) && "qk_contradicts_source_selection".equals(qkStatus))
            return "characterization_falsifies";
        boolean diagnostic = "ov_supports_copy".equals(ovStatus) || "qk_supports_source_selection".equals(qkStatus);
        boolean positionSupport = positionStatus != null && SUPPORTING_POSITIONS.contains(positionStatus);
        if (Decisions.positive(gap) && Decisions.positive(positive) && (corr == null || Decisions.positive(corr))
                && positionSupport && diagnostic)
            return "characterization_supports";
        if (Decisions.positive(gap) || Decisions.positive(positive)) return "characterization_downgrades";
        return "characterization_falsifies";
    }

    // ---------------------------------------------------------------- position characterization

    /** A row of the position characterization: one candidate's mean effect at each patched position. */
    record PositionRow(String candidateId, String candidateGroup, Long layer, Long head, Double finalEffect,
                       Double previousOccurrenceEffect, Double sourcePositionEffect, Double distractorPositionEffect,
                       Double finalMinusSource, Double sourceMinusDistractor, String positionSpecificityStatus) {}

    static TableBuilder positionByCandidate(Table results) {
        List<PositionRow> rows = new ArrayList<>();
        for (Map.Entry<List<Object>, Table> g : HeadSweepStage.sorted(results.groupBy("candidate_id", "candidate_group", "layer", "head"))) {
            Map<List<Object>, Table> byLabel = g.getValue().groupBy("position_label");
            Function<String, Double> mean = label -> {
                Table t = byLabel.get(List.of(label));
                return t == null ? null : Stats.orNull(Stats.mean(t.doubles("effect_size")));
            };
            Double fin = mean.apply("final"), prev = mean.apply("previous_occurrence"),
                    src = mean.apply("source_position"), dis = mean.apply("distractor_position");
            Double sourceLike = src != null ? src : prev;
            List<Object> k = g.getKey();
            rows.add(new PositionRow((String) k.get(0), (String) k.get(1), (Long) k.get(2), (Long) k.get(3), fin, prev, src, dis,
                    fin != null && sourceLike != null ? fin - sourceLike : null,
                    sourceLike != null && dis != null ? sourceLike - dis : null, positionStatus(fin, prev, src, dis)));
        }
        rows.sort(Decisions.descending(PositionRow::finalEffect));
        return RecordSchema.of(PositionRow.class).builder(POSITION, rows, "candidate_id");
    }

    /** {@code classify_position_specificity}. */
    public static String positionStatus(Double fin, Double previous, Double source, Double distractor) {
        boolean finalPos = positive(fin);
        boolean sourcePos = positive(source) || positive(previous);
        Double sourceValue = source != null ? source : previous;
        List<Double> values = new ArrayList<>();
        for (Double v : new Double[]{fin, previous, source}) if (v != null) values.add(v);
        if (values.isEmpty()) return "insufficient_positions";
        if (!finalPos && !sourcePos) return "no_position_effect";
        if (positive(distractor)) {
            double strongest = values.stream().max(Double::compare).get();
            if (Decisions.atLeast(distractor, strongest)) return "distractor_like";
        }
        if (finalPos && sourcePos)
            return sourceValue != null && Math.abs(fin - sourceValue) < 0.05 ? "position_nonspecific" : "both_source_and_destination";
        return finalPos ? "destination_specific" : "source_specific";
    }

    private static boolean positive(Double v) {
        return v != null && !v.isNaN() && Decisions.positive(v);
    }

    // ---------------------------------------------------------------- attention / effect alignment

    /** Attention of the final query row of one example's own prompt, for one head. */
    record Attention(Double toSource, Double bestDistractor, Double margin) {}

    static TableBuilder attentionExamples(StageContext ctx, Table results, Map<String, PromptRecord> byId,
                                          List<HeldoutRobustnessStage.Candidate> candidates) {
        Set<Integer> layers = new java.util.TreeSet<>();
        candidates.forEach(c -> layers.add(c.head().layer()));
        Set<String> hooks = new LinkedHashSet<>();
        layers.forEach(l -> hooks.add(HookNames.hookPattern(l)));
        Set<String> exampleIds = new LinkedHashSet<>(results.strings("example_id"));
        Set<TokenIds> prompts = new LinkedHashSet<>();
        exampleIds.forEach(id -> prompts.add(ctx.tokens(byId.get(id).prompt())));
        Map<TokenIds, Capture> caps = ctx.model().engine().capture(prompts, hooks, "S16 attention/effect alignment");
        Map<List<Object>, Attention> lookup = new HashMap<>();
        for (String id : exampleIds) {
            PromptRecord r = byId.get(id);
            int[] tokens = ctx.tokens(r.prompt()).ids();
            int target = tokens.length - 1;
            Integer source = null;
            if (r.expectedSourcePositionHint() != null) {
                List<int[]> spans = AttentionStage.wordSpans(ctx.model().tokenizer()::encode, tokens, r.promptTokensText(), id);
                source = spans.get(r.expectedSourcePositionHint())[1];
                target = spans.get(spans.size() - 1)[1];
            }
            Capture cap = caps.get(ctx.tokens(r.prompt()));
            for (HeldoutRobustnessStage.Candidate c : candidates) {
                double[] row = new double[target + 1];
                for (int k = 0; k <= target; k++) row[k] = cap.pattern(c.head().layer(), c.head().head(), target, k);
                lookup.put(List.of(id, c.head()), attention(row, target, source));
            }
        }
        List<AttentionExampleRow> rows = new ArrayList<>();
        for (Table.Row x : results.rows()) {
            PromptRecord r = byId.get(x.getString("example_id"));
            Attention a = lookup.get(List.of(r.exampleId(), ReferenceVerdicts.head(x)));
            rows.add(new AttentionExampleRow(x.getLong("seed"), x.getString("candidate_id"), x.getString("candidate_group"),
                    x.getLong("layer"), x.getLong("head"), x.getString("family"), x.getString("heldout_family_type"),
                    x.getString("example_id"), x.getString("intervention"), x.getString("position_label"),
                    x.getDouble("effect_size"), x.getString("effect_size_status"), a.toSource(), a.bestDistractor(), a.margin(),
                    r.trueExpectedNextToken(), r.expectedSourceToken(), x.getString("clean_prompt"), x.getString("corrupt_prompt")));
        }
        return RecordSchema.of(AttentionExampleRow.class).builder(ATTENTION_EXAMPLES, rows, "candidate_id", "example_id",
                "intervention", "position_label");
    }

    /** A row of the attention examples: one characterization result beside the head's attention on its prompt. */
    record AttentionExampleRow(Long seed, String candidateId, String candidateGroup, Long layer, Long head, String family,
                               String heldoutFamilyType, String exampleId, String intervention, String positionLabel,
                               Double effectSize, String effectSizeStatus, Double attentionToExpectedSource,
                               Double attentionToBestDistractor, Double sourceAttentionMargin, String targetToken,
                               String sourceToken, String cleanPrompt, String corruptPrompt) {}


    /** Weight on the source; best other weight excluding BOS, the target and the source; their difference. */
    static Attention attention(double[] row, int target, Integer source) {
        Double toSource = source == null ? null : row[source];
        Double best = null;
        if (target > 0)
            for (int k = 1; k < target; k++)
                if ((source == null || k != source) && (best == null || row[k] > best)) best = row[k];
        return new Attention(toSource, best, toSource == null || best == null ? null : toSource - best);
    }

    /** A row of the attention-effect alignment by candidate: how its attention to the source tracks its effect. */
    record AlignmentRow(String candidateId, String candidateGroup, Long layer, Long head, long nExamples, long nValidExamples,
                        Double meanEffectSize, Double meanAttentionToExpectedSource, Double meanSourceAttentionMargin,
                        Double spearmanAttentionEffectCorr, Double pearsonAttentionEffectCorr, Double positiveFamilyCorr,
                        Double controlFamilyCorr, String alignmentStatus) {}

    static TableBuilder attentionByCandidate(Table examples) {
        List<AlignmentRow> rows = new ArrayList<>();
        for (Map.Entry<List<Object>, Table> g : HeadSweepStage.sorted(examples.groupBy("candidate_id", "candidate_group", "layer", "head"))) {
            Table all = g.getValue();
            Table valid = all.filter(r -> r.getDouble("effect_size") != null && r.getDouble("attention_to_expected_source") != null
                    && r.getDouble("source_attention_margin") != null);
            Table pos = valid.filter(r -> "positive".equals(r.getString("heldout_family_type")));
            Table ctl = valid.filter(r -> "control".equals(r.getString("heldout_family_type")));
            Double posCorr = pearson(pos.doubles("attention_to_expected_source"), pos.doubles("effect_size"));
            Double ctlCorr = pearson(ctl.doubles("attention_to_expected_source"), ctl.doubles("effect_size"));
            Double posMargin = Stats.orNull(Stats.mean(pos.doubles("source_attention_margin")));
            Double ctlMargin = Stats.orNull(Stats.mean(ctl.doubles("source_attention_margin")));
            List<Object> k = g.getKey();
            rows.add(new AlignmentRow((String) k.get(0), (String) k.get(1), (Long) k.get(2), (Long) k.get(3), all.rowCount(),
                    valid.rowCount(), Stats.orNull(Stats.mean(valid.doubles("effect_size"))),
                    Stats.orNull(Stats.mean(valid.doubles("attention_to_expected_source"))),
                    Stats.orNull(Stats.mean(valid.doubles("source_attention_margin"))),
                    spearman(valid.doubles("attention_to_expected_source"), valid.doubles("effect_size")),
                    pearson(valid.doubles("attention_to_expected_source"), valid.doubles("effect_size")), posCorr, ctlCorr,
                    alignmentStatus(posCorr, ctlCorr, posMargin, ctlMargin, valid.rowCount())));
        }
        // sort_values([alignment_status, mean_effect_size], ascending=[True, False], na_position=last); stable here
        rows.sort(Comparator.comparing(AlignmentRow::alignmentStatus).thenComparing(Decisions.descending(AlignmentRow::meanEffectSize)));
        return RecordSchema.of(AlignmentRow.class).builder(ATTENTION_BY_CANDIDATE, rows, "candidate_id");
    }

    /** {@code classify_alignment} with min_valid_examples = 4. */
    public static String alignmentStatus(Double positiveCorr, Double controlCorr, Double positiveMargin,
                                         Double controlMargin, int nValid) {
        if (nValid < 4) return "insufficient_examples";
        if (positiveCorr == null || positiveMargin == null) return "insufficient_examples";
        if (Decisions.nonPositive(positiveCorr) || Decisions.nonPositive(positiveMargin)) return "not_aligned";
        boolean controlMatches = (controlCorr != null && Decisions.atLeast(controlCorr, positiveCorr))
                || (controlMargin != null && Decisions.atLeast(controlMargin, positiveMargin));
        return controlMatches ? "aligned_but_control_like" : "aligned_positive_specific";
    }

    /** Pearson over pairs with both values present; null with < 2 pairs or a constant column (pandas corr). */
    public static Double pearson(List<Double> xs, List<Double> ys) {
        double[][] p = pairs(xs, ys);
        if (p == null) return null;
        return pearson(p[0], p[1]);
    }

    /** Spearman = Pearson of average ranks (pandas rank(method="average")). */
    public static Double spearman(List<Double> xs, List<Double> ys) {
        double[][] p = pairs(xs, ys);
        if (p == null) return null;
        return pearson(averageRanks(p[0]), averageRanks(p[1]));
    }

    private static double[][] pairs(List<Double> xs, List<Double> ys) {
        List<double[]> kept = new ArrayList<>();
        for (int i = 0; i < xs.size(); i++) {
            Double x = xs.get(i), y = ys.get(i);
            // on the tolerance grid: a vector that is constant up to float noise has no correlation
            if (x != null && y != null && !x.isNaN() && !y.isNaN()) kept.add(new double[]{Decisions.rounded(x), Decisions.rounded(y)});
        }
        double[] x = kept.stream().mapToDouble(v -> v[0]).toArray(), y = kept.stream().mapToDouble(v -> v[1]).toArray();
        if (kept.size() < 2 || Arrays.stream(x).distinct().count() < 2 || Arrays.stream(y).distinct().count() < 2) return null;
        return new double[][]{x, y};
    }

    /** numpy's corrcoef order of operations, kept here rather than commons-math so the replica stays bit-exact. */
    private static double pearson(double[] x, double[] y) {
        double mx = Arrays.stream(x).average().orElseThrow(), my = Arrays.stream(y).average().orElseThrow();
        double sxy = 0, sxx = 0, syy = 0;
        for (int i = 0; i < x.length; i++) {
            sxy += (x[i] - mx) * (y[i] - my);
            sxx += (x[i] - mx) * (x[i] - mx);
            syy += (y[i] - my) * (y[i] - my);
        }
        return sxy / Math.sqrt(sxx * syy);
    }

    static double[] averageRanks(double[] v) {
        return org.milab.stats.RankAgreement.ranks(v);
    }

    // ---------------------------------------------------------------- OV / QK local margins

    static TableBuilder diagnosticExamples(StageContext ctx, HeadCircuit circuit, List<HeldoutRobustnessStage.Candidate> candidates,
                                           List<PromptRecord> records) {
        List<DiagnosticExampleRow> rows = new ArrayList<>();
        for (HeldoutRobustnessStage.Candidate c : candidates)
            for (PromptRecord r : records) {
                int l = c.head().layer(), h = c.head().head();
                try {
                    int t = ctx.singleToken(r.trueExpectedNextToken(), r.exampleId() + " true_expected_next_token");
                    int wr = ctx.singleToken(r.wrongOrControlToken(), r.exampleId() + " wrong_or_control_token");
                    int src = sourceTokenId(ctx, r);
                    HeadCircuit.Ov ov = circuit.ov(l, h, src, t, wr);
                    if (r.expectedSourcePositionHint() == null) throw new UserError("Record has no expected source position", null);
                    int[] tokens = ctx.tokens(r.prompt()).ids();
                    int sourcePos = Math.max(tokens.length - r.promptTokensText().size(), 0) + r.expectedSourcePositionHint();
                    HeadCircuit.Qk qk = HeadCircuit.qkMargin(circuit.qkScores(l, h, tokens), sourcePos);
                    rows.add(DiagnosticExampleRow.of(c, r, ov.trueScore(), ov.wrongScore(), ov.margin(), ov.rankOfTrue(),
                            HeadCircuit.ovStatus(ov.margin()), qk.sourceScore(), qk.bestDistractorScore(), qk.margin(),
                            HeadCircuit.qkStatus(qk.margin()), ""));
                } catch (UserError e) { // the reference turns any lookup failure into an unavailable row
                    rows.add(DiagnosticExampleRow.of(c, r, null, null, null, null, "ov_unavailable", null, null, null,
                            "qk_unavailable", e.getMessage()));
                }
            }
        return RecordSchema.of(DiagnosticExampleRow.class).builder(DIAGNOSTIC_EXAMPLES, rows, "candidate_id", "example_id");
    }

    /** A row of the diagnostic examples: one candidate's OV copy margin and QK source margin on one prompt. */
    record DiagnosticExampleRow(String candidateId, String candidateGroup, int layer, int head, String family, String exampleId,
                                String trueExpectedNextToken, String wrongOrControlToken, String prompt,
                                Double ovTrueTokenScore, Double ovWrongTokenScore, Double ovCopyMargin,
                                Integer ovRankOfTrueToken, String ovStatus, Double meanQkExpectedSourceScore,
                                Double meanQkBestDistractorScore, Double qkSourceMargin, String qkStatus, String diagnosticError) {
        static DiagnosticExampleRow of(HeldoutRobustnessStage.Candidate c, PromptRecord r, Double ovTrue, Double ovWrong,
                                       Double ovMargin, Integer ovRank, String ovStatus, Double qkSource, Double qkDistractor,
                                       Double qkMargin, String qkStatus, String error) {
            return new DiagnosticExampleRow(c.candidateId(), c.group(), c.head().layer(), c.head().head(), r.family(),
                    r.exampleId(), r.trueExpectedNextToken(), r.wrongOrControlToken(), r.prompt(), ovTrue, ovWrong, ovMargin,
                    ovRank, ovStatus, qkSource, qkDistractor, qkMargin, qkStatus, error);
        }
    }

    /** id of " " + source token, else of the bare token (the reference's fallback). */
    private static int sourceTokenId(StageContext ctx, PromptRecord r) {
        String s = r.expectedSourceToken();
        if (s == null || s.isEmpty()) throw new UserError("Record has no expected source token", null);
        try {
            return ctx.singleToken(" " + s, r.exampleId() + " expected_source_token");
        } catch (UserError e) {
            return ctx.singleToken(s, r.exampleId() + " expected_source_token");
        }
    }

    /** A row of the diagnostics by candidate: the means of its diagnostic examples and their statuses. */
    record DiagnosticCandidateRow(String candidateId, String candidateGroup, int layer, int head, long nExamples,
                                  Double ovTrueTokenScore, Double ovWrongTokenScore, Double ovCopyMargin,
                                  Double ovRankOfTrueToken, String ovStatus, Double meanQkExpectedSourceScore,
                                  Double meanQkBestDistractorScore, Double qkSourceMargin, String qkStatus) {}

    static TableBuilder diagnosticsByCandidate(Table examples, List<HeldoutRobustnessStage.Candidate> candidates) {
        List<DiagnosticCandidateRow> rows = new ArrayList<>();
        Map<List<Object>, Table> groups = examples.groupBy("candidate_id");
        for (HeldoutRobustnessStage.Candidate c : candidates) {
            Table t = groups.getOrDefault(List.of(c.candidateId()), examples.filter(r -> false));
            Function<String, Double> mean = col -> t.type(col) == org.milab.tables.ColumnType.INT64
                    ? Stats.orNull(Stats.mean(t.longs(col))) : Stats.orNull(Stats.mean(t.doubles(col)));
            Double ov = mean.apply("ov_copy_margin"), qk = mean.apply("qk_source_margin");
            rows.add(new DiagnosticCandidateRow(c.candidateId(), c.group(), c.head().layer(), c.head().head(), t.rowCount(),
                    mean.apply("ov_true_token_score"), mean.apply("ov_wrong_token_score"), ov, mean.apply("ov_rank_of_true_token"),
                    HeadCircuit.ovStatus(ov), mean.apply("mean_qk_expected_source_score"),
                    mean.apply("mean_qk_best_distractor_score"), qk, HeadCircuit.qkStatus(qk)));
        }
        return RecordSchema.of(DiagnosticCandidateRow.class).builder(DIAGNOSTIC_BY_CANDIDATE, rows, "candidate_id");
    }

    // ---------------------------------------------------------------- report

    static String markdown(Map<String, Object> summary, Table byCandidate) {
        StringBuilder sb = new StringBuilder("# Candidate Characterization (seed ").append(summary.get("seed")).append(")\n\n")
                .append("- Result rows: `").append(summary.get("n_result_rows")).append("`\n")
                .append("- Statuses: `").append(summary.get("characterization_status_counts")).append("`\n\n")
                .append("| candidate | head | group | gap | spearman | position | OV | QK | status |\n")
                .append("| --- | --- | --- | --- | --- | --- | --- | --- | --- |\n");
        for (Table.Row r : byCandidate.rows())
            sb.append(String.format(Locale.ROOT, "| %s | L%dH%d | %s | %s | %s | %s | %s | %s | %s |%n", r.getString("candidate_id"),
                    r.getLong("layer"), r.getLong("head"), r.getString("candidate_group"),
                    PyFormat.fixed(r.getDouble("positive_minus_control_gap"), 4),
                    PyFormat.fixed(r.getDouble("spearman_attention_effect_corr"), 4),
                    Objects.toString(r.getString("position_specificity_status"), ""), r.getString("ov_status"),
                    r.getString("qk_status"), r.getString("characterization_seed_status")));
        sb.append("\nLocal diagnostics only: not an induction-head, circuit or broad model claim.\n");
        return sb.toString();
    }
}
