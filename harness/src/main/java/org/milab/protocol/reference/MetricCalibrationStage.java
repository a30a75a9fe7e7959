package org.milab.protocol.reference;

import org.milab.stats.Decisions;

import org.milab.engine.Capture;
import org.milab.engine.TokenIds;
import org.milab.stats.Scores;
import org.milab.stats.Stats;

import org.milab.stage.StageContext;

import org.milab.prompts.CalibrationBank;
import org.milab.prompts.CalibrationPrompt;
import org.milab.tables.RecordSchema;
import org.milab.tables.Table;
import org.milab.tables.TableBuilder;
import org.milab.tokenizer.Tokenizer;

import java.util.ArrayList;
import java.util.Collection;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;

/**
 * S19 metric calibration ({@code metric_calibration.py}): the deterministic 72-row bank, each row validated
 * (both tokens single tokens with different ids, prompt not empty; a failure is a recorded
 * {@code tokenization_error} row, never a skip), the valid rows scored at the final position from one
 * batched clean capture, per-family summaries and the reference's status rule. Writes
 * {@code calibration/metric_calibration_by_example}, {@code _by_family}, {@code metric_calibration_summary.json}
 * and {@code metric_calibration.md}. Needs only the model, no earlier stage.
 */
public final class MetricCalibrationStage {
    public static final String DIR = "calibration";
    public static final String BY_EXAMPLE = "metric_calibration_by_example";
    public static final String BY_FAMILY = "metric_calibration_by_family";
    public static final String SUMMARY_JSON = "metric_calibration_summary.json";

    public static final double MIN_GAP = 0.25;
    public static final double MIN_POSITIVE_FRACTION = 0.80;
    public static final double MAX_CONTROL_FRACTION = 0.20;

    public static final String OK = "ok";
    public static final String TOKENIZATION_ERROR = "tokenization_error";
    public static final String NOT_SCORED = "not_scored";
    public static final String BLOCKED_TOKENIZATION = "blocked_tokenization";
    public static final String METRIC_NEEDS_REVISION = "metric_needs_revision";
    public static final String PROMPT_BANK_NEEDS_REVISION = "prompt_bank_needs_revision";
    public static final String CALIBRATED = "metric_calibrated_for_next_spec";

    /** A row's validation: ids found so far (the reference keeps the true id when the control fails), status, error text. */
    public record Validation(Integer trueId, Integer controlId, String status, String error) {
        public boolean ok() {
            return OK.equals(status);
        }
    }

    /** One family's row of {@code metric_calibration_by_family}, as the status rule needs it. */
    public record FamilyMean(String family, boolean positive, double meanDiff, double fractionDiffPositive) {}

    /** What a run produced. */
    public record Result(Table byExample, Table byFamily, Map<String, Object> summary) {}

    public Result run(StageContext ctx) {
        return run(ctx, CalibrationBank.build());
    }

    public Result run(StageContext ctx, List<CalibrationPrompt> bank) {
        long t0 = System.nanoTime();
        Tokenizer tok = ctx.model().tokenizer();
        List<Validation> validations = bank.stream().map(p -> validate(tok, p)).toList();
        // one batched clean pass over the distinct prompts of the valid rows (positives share prompts with controls)
        Set<TokenIds> prompts = new LinkedHashSet<>();
        for (int i = 0; i < bank.size(); i++)
            if (validations.get(i).ok()) prompts.add(ctx.tokens(bank.get(i).prompt()));
        Map<TokenIds, Capture> captures = ctx.model().engine().capture(prompts, Set.of(), "S19 calibration");

        List<ExampleRow> ex = new ArrayList<>();
        for (int i = 0; i < bank.size(); i++) {
            CalibrationPrompt p = bank.get(i);
            Validation v = validations.get(i);
            if (v.ok()) {
                float[] l = captures.get(ctx.tokens(p.prompt())).logits();
                int t = v.trueId(), c = v.controlId();
                double pt = Scores.probability(l, t), pc = Scores.probability(l, c);
                ex.add(ExampleRow.of(p, v, OK, Scores.logit(l, t), Scores.logit(l, c), Scores.logit(l, t) - Scores.logit(l, c),
                        pt, pc, pt - pc, (long) Scores.rank(l, t), (long) Scores.rank(l, c)));
            } else {
                ex.add(ExampleRow.of(p, v, NOT_SCORED, null, null, null, null, null, null, null, null));
            }
        }
        Table byExample = ctx.write(DIR, null, RecordSchema.of(ExampleRow.class).builder(BY_EXAMPLE, ex, "example_id"));
        Table byFamily = ctx.write(DIR, null, byFamily(byExample));
        Map<String, Object> summary = summary(byExample, byFamily);
        summary.put("model", ctx.model().id());
        ctx.writeJson(DIR, null, SUMMARY_JSON, summary);
        ctx.writeText(DIR, null, "metric_calibration.md", markdown(summary, byFamily));
        ctx.summarize(String.format(Locale.ROOT, "- S19 metric calibration: %d rows, status `%s`, search_allowed %s",
                byExample.rowCount(), summary.get("status"), summary.get("search_allowed")));
        ctx.recordTiming(DIR, (System.nanoTime() - t0) / 1e9);
        return new Result(byExample, byFamily, summary);
    }

    /**
     * {@code validate_calibration_prompt_bank} for one row: true token, control token, distinct ids, non-empty
     * prompt, in that order; the first failure's text is recorded. One addition that is a no-op for GPT-2's
     * byte-level BPE (a single token always decodes back to its text): a token that decodes to something
     * else, i.e. a word-level vocabulary's unknown token, is not a valid single token either.
     */
    public static Validation validate(Tokenizer tok, CalibrationPrompt p) {
        Integer trueId = null, controlId = null;
        try {
            trueId = singleToken(tok, p.trueExpectedNextToken());
            controlId = singleToken(tok, p.wrongOrControlToken());
            if (trueId.equals(controlId))
                throw new IllegalArgumentException("expected and control tokens resolve to the same token id");
            if (tok.encode(p.prompt()).length == 0)
                throw new IllegalArgumentException("prompt tokenized to an empty sequence");
            // a word-level tokenizer reads unknown words as one unknown token: recorded, never scored (GPT-2 has none)
            List<String> unknown = tok.unknownWords(p.prompt());
            if (!unknown.isEmpty())
                throw new IllegalArgumentException("prompt words not in the vocabulary: " + String.join(", ", unknown));
        } catch (RuntimeException e) {
            return new Validation(trueId, controlId, TOKENIZATION_ERROR, String.valueOf(e.getMessage()));
        }
        return new Validation(trueId, controlId, OK, "");
    }

    private static int singleToken(Tokenizer tok, String text) {
        int id = tok.singleTokenId(text);
        String back = tok.tokenText(id);
        if (!back.strip().equals(text.strip()))
            throw new IllegalArgumentException("Expected token '" + text + "' is not in the vocabulary (it encodes to '"
                    + back + "', id " + id + ")");
        return id;
    }

    /** A row of metric_calibration_by_example: the prompt's columns, its token validation, its scores when scored. */
    record ExampleRow(String exampleId, String task, String family, String prompt, String trueExpectedNextToken,
                      String wrongOrControlToken, String expectedNextToken, String tokenDomain, String sequenceLengthBucket,
                      boolean shouldShowInductionBehavior, String expectedBehavior, String controlRationale,
                      Integer trueTokenId, Integer controlTokenId, String validationStatus, String validationError,
                      String metricStatus, Double targetLogit, Double controlLogit, Double trueVsControlLogitDiff,
                      Double targetProbability, Double controlProbability, Double probabilityGap, Long targetRank,
                      Long controlRank) {
        static ExampleRow of(CalibrationPrompt p, Validation v, String metricStatus, Double targetLogit, Double controlLogit,
                             Double diff, Double targetProbability, Double controlProbability, Double gap, Long targetRank,
                             Long controlRank) {
            return new ExampleRow(p.exampleId(), p.task(), p.family(), p.prompt(), p.trueExpectedNextToken(),
                    p.wrongOrControlToken(), p.expectedNextToken(), p.tokenDomain(), p.sequenceLengthBucket(),
                    p.shouldShowInductionBehavior(), p.expectedBehavior(), p.controlRationale(), v.trueId(), v.controlId(),
                    v.status(), v.error(), metricStatus, targetLogit, controlLogit, diff, targetProbability, controlProbability,
                    gap, targetRank, controlRank);
        }
    }

    /** {@code aggregate_metric_calibration_by_family}: scored rows only, families in sorted order. */
    static TableBuilder byFamily(Table byExample) {
        List<FamilyRow> rows = new ArrayList<>();
        Table valid = byExample.filter(r -> OK.equals(r.getString("metric_status")));
        for (Map.Entry<List<Object>, Table> g : PandasRules.groupBySorted(valid, "family").entrySet()) {
            Table f = g.getValue();
            List<Double> diffs = f.doubles("true_vs_control_logit_diff");
            long positive = diffs.stream().filter(d -> d != null && Decisions.positive(d)).count();
            rows.add(new FamilyRow((String) g.getKey().get(0), f.rowCount(), sortedUnique(f, "token_domain"),
                    sortedUnique(f, "sequence_length_bucket"), f.bools("should_show_induction_behavior").get(0),
                    Stats.orNull(Stats.mean(diffs)), Stats.orNull(Stats.median(diffs)), (double) positive / f.rowCount(),
                    Stats.orNull(Stats.mean(f.doubles("probability_gap"))), Stats.orNull(Stats.median(f.longs("target_rank")))));
        }
        return RecordSchema.of(FamilyRow.class).builder(BY_FAMILY, rows, "family");
    }

    /** One family of metric_calibration_by_family (scored rows only). */
    record FamilyRow(String family, int nExamples, List<String> tokenDomains, List<String> sequenceLengthBuckets,
                     boolean shouldShowInductionBehavior, Double meanTrueVsControlLogitDiff,
                     Double medianTrueVsControlLogitDiff, double fractionDiffPositive, Double meanProbabilityGap,
                     Double medianTargetRank) {}

    private static List<String> sortedUnique(Table t, String column) {
        TreeSet<String> values = new TreeSet<>();
        for (String s : t.strings(column)) if (s != null) values.add(s);
        return List.copyOf(values);
    }

    /**
     * The reference's status rule, in its exact order: any tokenization error -> blocked_tokenization; no
     * family rows -> metric_needs_revision; no positive or no control family -> prompt_bank_needs_revision;
     * any positive per-domain or per-bucket row mean <= 0 -> prompt_bank_needs_revision; gap (mean of
     * positive family means - max control family mean) <= 0.25, or max control >= weakest positive family
     * mean, or mean positive fraction(diff > 0) < 0.80, or max control fraction > 0.20 ->
     * metric_needs_revision; else metric_calibrated_for_next_spec. NaN means are skipped as pandas does, and
     * a NaN comparison is false as in Python.
     */
    public static String status(long tokenizationErrors, List<FamilyMean> families,
                                Collection<Double> positiveDomainMeans, Collection<Double> positiveLengthMeans) {
        if (tokenizationErrors > 0) return BLOCKED_TOKENIZATION;
        if (families.isEmpty()) return METRIC_NEEDS_REVISION;
        Separation s = Separation.of(families);
        if (!s.hasPositives() || !s.hasControls()) return PROMPT_BANK_NEEDS_REVISION;
        if (positiveDomainMeans.stream().anyMatch(v -> Decisions.nonPositive(v))
                || positiveLengthMeans.stream().anyMatch(v -> Decisions.nonPositive(v)))
            return PROMPT_BANK_NEEDS_REVISION;
        if (s.positiveMean() - s.maxControl() <= MIN_GAP || Decisions.atLeast(s.maxControl(), s.weakestPositive())
                || s.positiveFraction() < MIN_POSITIVE_FRACTION || s.maxControlFraction() > MAX_CONTROL_FRACTION)
            return METRIC_NEEDS_REVISION;
        return CALIBRATED;
    }

    /** Positive-versus-control aggregates over family rows (pandas mean/max/min: NaN skipped, NaN when none). */
    record Separation(boolean hasPositives, boolean hasControls, double positiveMean, double maxControl,
                      double weakestPositive, String weakestPositiveFamily, double positiveFraction,
                      double maxControlFraction) {
        static Separation of(List<FamilyMean> families) {
            List<FamilyMean> pos = families.stream().filter(FamilyMean::positive).toList();
            List<FamilyMean> ctl = families.stream().filter(f -> !f.positive()).toList();
            double weakest = Double.NaN;
            String weakestFamily = null;
            for (FamilyMean f : pos)
                if (!Double.isNaN(f.meanDiff()) && (Double.isNaN(weakest) || f.meanDiff() < weakest)) {
                    weakest = f.meanDiff();
                    weakestFamily = f.family();
                }
            return new Separation(!pos.isEmpty(), !ctl.isEmpty(), Stats.mean(pos.stream().map(FamilyMean::meanDiff).toList()),
                    Stats.maxIgnoringNaN(ctl.stream().mapToDouble(FamilyMean::meanDiff).toArray()), weakest, weakestFamily,
                    Stats.mean(pos.stream().map(FamilyMean::fractionDiffPositive).toList()),
                    Stats.maxIgnoringNaN(ctl.stream().mapToDouble(FamilyMean::fractionDiffPositive).toArray()));
        }
    }

    static List<FamilyMean> familyMeans(Table byFamily) {
        return byFamily.rows().stream().map(r -> new FamilyMean(r.getString("family"),
                r.getBool("should_show_induction_behavior"), nan(r.getDouble("mean_true_vs_control_logit_diff")),
                nan(r.getDouble("fraction_diff_positive")))).toList();
    }

    private static double nan(Double d) {
        return d == null ? Double.NaN : d;
    }

    /** {@code _group_mean(positive_only=True)}: mean diff of scored positive rows per value, keys sorted. */
    static Map<String, Double> positiveRowMeans(Table byExample, String column) {
        Table pos = byExample.filter(r -> r.getBool("should_show_induction_behavior") && OK.equals(r.getString("metric_status")));
        Map<String, Double> out = new LinkedHashMap<>();
        for (Map.Entry<List<Object>, Table> g : PandasRules.groupBySorted(pos, column).entrySet())
            out.put(String.valueOf(g.getKey().get(0)), Stats.mean(g.getValue().doubles("true_vs_control_logit_diff")));
        return out;
    }

    /** metric_calibration_summary.json, in the reference's key order. */
    record Summary(String model, String primaryMetric, int nExamples, Map<String, Long> validationCounts,
                   Map<String, Long> metricCounts, Double positiveMeanTrueVsControlLogitDiff,
                   Double maxControlMeanTrueVsControlLogitDiff, Double weakestPositiveFamilyMean,
                   String weakestPositiveFamily, Double positiveMinusMaxControlGap, Double positiveMeanFractionDiffPositive,
                   Double maxControlFractionDiffPositive, HardestControl hardestControlFamily,
                   Map<String, Double> positiveDomainMeans, Map<String, Double> positiveLengthMeans, Thresholds thresholds,
                   String status, boolean searchAllowed, List<String> refusedClaims) {}

    /** The control family with the highest mean diff. */
    record HardestControl(String family, Double meanTrueVsControlLogitDiff, Double fractionDiffPositive) {}

    /** The status rule's thresholds, as the summary records them. */
    record Thresholds(double minPositiveMinusMaxControlGap, double minPositiveFractionDiffPositive,
                      double maxControlFractionDiffPositive) {}

    /** {@code summarize_metric_calibration} (plus the fractions and the weakest family's name the rule uses). */
    static Map<String, Object> summary(Table byExample, Table byFamily) {
        Map<String, Long> validation = counts(byExample.strings("validation_status"));
        List<FamilyMean> families = familyMeans(byFamily);
        Map<String, Double> domains = positiveRowMeans(byExample, "token_domain");
        Map<String, Double> lengths = positiveRowMeans(byExample, "sequence_length_bucket");
        String status = status(validation.getOrDefault(TOKENIZATION_ERROR, 0L), families, domains.values(), lengths.values());
        Separation s = Separation.of(families);
        return RecordSchema.treeMap(new Summary(null, "true_vs_control_logit_diff", byExample.rowCount(), validation,
                counts(byExample.strings("metric_status")), Stats.orNull(s.positiveMean()), Stats.orNull(s.maxControl()),
                Stats.orNull(s.weakestPositive()), s.weakestPositiveFamily(), Stats.orNull(s.positiveMean() - s.maxControl()),
                Stats.orNull(s.positiveFraction()), Stats.orNull(s.maxControlFraction()), hardestControl(byFamily),
                nullForNaN(domains), nullForNaN(lengths), new Thresholds(MIN_GAP, MIN_POSITIVE_FRACTION, MAX_CONTROL_FRACTION),
                status, CALIBRATED.equals(status), List.of("This does not show an induction head.",
                "This does not show a circuit.", "This does not establish a broad GPT-2 property.",
                "Calibration success would only permit a tighter next spec.")));
    }

    /** {@code hardest_metric_control_family}: the control family with the highest mean diff (first on ties). */
    static HardestControl hardestControl(Table byFamily) {
        List<Table.Row> controls = byFamily.rows().stream().filter(r -> !r.getBool("should_show_induction_behavior")).toList();
        if (controls.isEmpty()) return null;
        Table.Row top = PandasRules.sortDescending(controls, r -> r.getDouble("mean_true_vs_control_logit_diff")).get(0);
        return new HardestControl(top.getString("family"), top.getDouble("mean_true_vs_control_logit_diff"),
                top.getDouble("fraction_diff_positive"));
    }

    private static Map<String, Long> counts(List<String> values) {
        Map<String, Long> out = new LinkedHashMap<>();
        for (String v : values) out.merge(String.valueOf(v), 1L, Long::sum);
        return out;
    }

    private static Map<String, Double> nullForNaN(Map<String, Double> in) {
        Map<String, Double> out = new LinkedHashMap<>();
        in.forEach((k, v) -> out.put(k, Stats.orNull(v)));
        return out;
    }

    private static String markdown(Map<String, Object> summary, Table byFamily) {
        StringBuilder sb = new StringBuilder("# Induction metric calibration\n\n");
        sb.append("Primary metric: `true_vs_control_logit_diff` at the final position.\n\n| threshold | value |\n|---|---|\n");
        ((Map<?, ?>) summary.get("thresholds")).forEach((k, v) -> sb.append("| ").append(k).append(" | ").append(v).append(" |\n"));
        sb.append("\n- Positive mean: `").append(summary.get("positive_mean_true_vs_control_logit_diff"))
                .append("`\n- Max control mean: `").append(summary.get("max_control_mean_true_vs_control_logit_diff"))
                .append("`\n- Positive-minus-max-control gap: `").append(summary.get("positive_minus_max_control_gap"))
                .append("`\n- Weakest positive family mean: `").append(summary.get("weakest_positive_family_mean"))
                .append("` (").append(summary.get("weakest_positive_family")).append(")\n- Hardest control family: `")
                .append(summary.get("hardest_control_family")).append("`\n- Positive domain means: `")
                .append(summary.get("positive_domain_means")).append("`\n- Positive length means: `")
                .append(summary.get("positive_length_means")).append("`\n\n")
                .append("| family | positive | mean diff | fraction diff > 0 | median target rank |\n|---|---|---|---|---|\n");
        for (Table.Row r : byFamily.rows())
            sb.append("| ").append(r.getString("family")).append(" | ").append(r.getBool("should_show_induction_behavior"))
                    .append(" | ").append(PyFormat.fixed(r.getDouble("mean_true_vs_control_logit_diff"), 4)).append(" | ")
                    .append(PyFormat.fixed(r.getDouble("fraction_diff_positive"), 3)).append(" | ")
                    .append(PyFormat.fixed(r.getDouble("median_target_rank"), 1)).append(" |\n");
        sb.append("\nFinal status: `").append(summary.get("status")).append("`. Search allowed: `")
                .append(summary.get("search_allowed")).append("`.\n\nThis does not show an induction head, a circuit, or a ")
                .append("broad model property; it only tests whether one local behaviour metric separates positives from controls.\n");
        return sb.toString();
    }
}
