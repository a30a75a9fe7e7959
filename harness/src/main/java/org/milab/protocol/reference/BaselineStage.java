package org.milab.protocol.reference;

import org.milab.stats.Decisions;

import org.milab.stage.StageContext;
import org.milab.stats.Scores;
import org.milab.stats.Stats;

import org.milab.prompts.PromptRecord;
import org.milab.tables.Inline;
import org.milab.tables.RecordSchema;
import org.milab.tables.Table;
import org.milab.tables.TableBuilder;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * S3 baseline behaviour: score each record's prompt and control prompt at the final position for its
 * {@code expected_next_token}; per-family summaries and the reference's worth-running rule.
 * Writes prompts, baseline_by_example, baseline_by_family, baseline_metrics.json and notes.md.
 */
public final class BaselineStage {
    public static final String BY_EXAMPLE = "baseline_by_example";
    public static final String BY_FAMILY = "baseline_by_family";

    public void run(StageContext ctx, PromptSet set) {
        long t0 = System.nanoTime();
        ctx.write(set.dataset(), set.seed(), PromptTables.build(set.records()));
        List<ExampleRow> rows = new ArrayList<>();
        for (PromptRecord r : set.records()) {
            int t = ctx.singleToken(r.expectedNextToken(), r.exampleId() + " expected_next_token");
            float[] lp = set.capture(ctx.tokens(r.prompt())).logits();
            float[] lc = set.capture(ctx.tokens(r.controlPrompt())).logits();
            double p = Scores.probability(lp, t), pc = Scores.probability(lc, t);
            rows.add(new ExampleRow(r.exampleId(), r.task(), r.family(), r.controlFamily(), r.positiveInductionExample(),
                    r.shouldShowInductionBehavior(), r.prompt(), r.expectedNextToken(), t, Scores.logit(lp, t), p,
                    Scores.rank(lp, t), r.controlPrompt(), Scores.logit(lc, t), pc, Scores.rank(lc, t),
                    Scores.logit(lp, t) - Scores.logit(lc, t), p - pc));
        }
        TableBuilder ex = RecordSchema.of(ExampleRow.class).builder(BY_EXAMPLE, rows, "example_id");
        Table byExample = ctx.write(set.dataset(), set.seed(), ex);
        Table byFamily = ctx.write(set.dataset(), set.seed(), byFamily(byExample));
        Metrics metrics = metrics(ctx, set, byExample, byFamily);
        ctx.writeJson(set.dataset(), set.seed(), "baseline_metrics.json", RecordSchema.treeMap(metrics));
        ctx.writeText(set.dataset(), set.seed(), "notes.md", notes(set, byFamily, metrics));
        ctx.recordTiming(set.dataset() + "/seed" + set.seed() + "/baseline", (System.nanoTime() - t0) / 1e9);
    }

    /** One prompt of baseline_by_example: the expected token scored on the prompt and on its control prompt. */
    record ExampleRow(String exampleId, String task, String family, String controlFamily,
                      boolean isPositiveInductionExample, boolean shouldShowInductionBehavior, String prompt,
                      String expectedNextToken, int expectedTokenId, double expectedLogit, double expectedProbability,
                      int expectedRank, String controlPrompt, double controlExpectedLogit,
                      double controlExpectedProbability, int controlExpectedRank, double logitDiffVsControl,
                      double probabilityDiffVsControl) {}

    /** One family of baseline_by_family. */
    record FamilyRow(String family, int nExamples, double meanExpectedProbability, double medianExpectedRank,
                     double meanLogitDiffVsControl, double meanProbabilityDiffVsControl, long nRankAtMost_10,
                     double fractionRankAtMost_10, boolean shouldShowInductionBehavior) {}

    static TableBuilder byFamily(Table byExample) {
        List<FamilyRow> rows = new ArrayList<>();
        for (Map.Entry<List<Object>, Table> g : byExample.groupBy("family").entrySet()) {
            Table f = g.getValue();
            long hits = f.longs("expected_rank").stream().filter(r -> r <= 10).count();
            rows.add(new FamilyRow((String) g.getKey().get(0), f.rowCount(), Stats.mean(f.doubles("expected_probability")),
                    Stats.median(f.longs("expected_rank")), Stats.mean(f.doubles("logit_diff_vs_control")),
                    Stats.mean(f.doubles("probability_diff_vs_control")), hits, (double) hits / f.rowCount(),
                    f.bools("should_show_induction_behavior").get(0)));
        }
        return RecordSchema.of(FamilyRow.class).builder(BY_FAMILY, rows, "family");
    }

    /** baseline_metrics.json, in the reference's key order (the summary's fields sit at the top level). */
    record Metrics(String model, String task, int seed, @Inline Summary summary, List<FailingExample> failingExamples,
                   Summary positiveSummary, Summary controlSummary, Gap positiveVsControlGap, String hardestControlFamily,
                   Map<String, Map<String, Object>> byFamily, boolean activationAnalysisWorthRunning) {}

    /** The behaviour summary of a set of rows. */
    record Summary(int nExamples, double meanExpectedProbability, double medianExpectedRank, double meanExpectedRank,
                   double meanLogitDiffVsControl, double meanProbabilityDiffVsControl, long nRankAtMost_10) {
        static Summary of(Table ex) {
            return new Summary(ex.rowCount(), Stats.mean(ex.doubles("expected_probability")),
                    Stats.median(ex.longs("expected_rank")), Stats.mean(ex.longs("expected_rank")),
                    Stats.mean(ex.doubles("logit_diff_vs_control")), Stats.mean(ex.doubles("probability_diff_vs_control")),
                    ex.longs("expected_rank").stream().filter(r -> r <= 10).count());
        }
    }

    /** A row with rank > 10 or a probability diff <= 0. */
    record FailingExample(String exampleId, long expectedRank, double probabilityDiffVsControl) {}

    /** Positive mean of family means against the highest control family mean, for probability and top-10 hits. */
    record Gap(double positiveMeanExpectedProbability, double maxControlMeanExpectedProbability, double probabilityGap,
               double positiveFractionRankAtMost_10, double maxControlFractionRankAtMost_10, double fractionRankAtMost_10Gap) {}

    private static Metrics metrics(StageContext ctx, PromptSet set, Table ex, Table fam) {
        List<FailingExample> failing = new ArrayList<>();
        for (Table.Row r : ex.rows())
            if (r.getLong("expected_rank") > 10 || Decisions.nonPositive(r.getDouble("probability_diff_vs_control")))
                failing.add(new FailingExample(r.getString("example_id"), r.getLong("expected_rank"),
                        r.getDouble("probability_diff_vs_control")));
        double posProb = Stats.mean(fam.filter(r -> r.getBool("should_show_induction_behavior")).doubles("mean_expected_probability"));
        double posHit = Stats.mean(fam.filter(r -> r.getBool("should_show_induction_behavior")).doubles("fraction_rank_at_most_10"));
        Table controls = fam.filter(r -> !r.getBool("should_show_induction_behavior"));
        double maxProb = controls.doubles("mean_expected_probability").stream().mapToDouble(d -> d).max().orElse(Double.NaN);
        double maxHit = controls.doubles("fraction_rank_at_most_10").stream().mapToDouble(d -> d).max().orElse(Double.NaN);
        String hardest = null;
        double best = Double.NEGATIVE_INFINITY;
        for (Table.Row r : controls.rows())
            if (hardest == null || Decisions.greater(r.getDouble("mean_expected_probability"), best)) {
                best = r.getDouble("mean_expected_probability");
                hardest = r.getString("family");
            }
        Map<String, Map<String, Object>> byFamily = new LinkedHashMap<>();
        for (Table.Row r : fam.rows()) byFamily.put(r.getString("family"), r.toMap());
        long hits = ex.longs("expected_rank").stream().filter(r -> r <= 10).count();
        return new Metrics(ctx.model().id(), set.task(), set.seed(), Summary.of(ex), failing,
                Summary.of(ex.filter(r -> r.getBool("should_show_induction_behavior"))),
                Summary.of(ex.filter(r -> !r.getBool("should_show_induction_behavior"))),
                new Gap(posProb, maxProb, posProb - maxProb, posHit, maxHit, posHit - maxHit), hardest, byFamily,
                hits > 0 && Decisions.positive(Stats.mean(ex.doubles("probability_diff_vs_control")))
                        && (double) hits / ex.rowCount() >= 0.10);
    }

    private static String notes(PromptSet set, Table fam, Metrics metrics) {
        StringBuilder sb = new StringBuilder("# Baseline behaviour: ").append(set.dataset()).append(" seed ")
                .append(set.seed()).append("\n\n| family | n | mean p(expected) | median rank | rank<=10 |\n|---|---|---|---|---|\n");
        for (Table.Row r : fam.rows())
            sb.append(String.format(java.util.Locale.ROOT, "| %s | %d | %.4f | %.1f | %.2f |%n", r.getString("family"),
                    r.getLong("n_examples"), r.getDouble("mean_expected_probability"), r.getDouble("median_expected_rank"),
                    r.getDouble("fraction_rank_at_most_10")));
        for (Table.Row r : fam.rows())
            if (!r.getBool("should_show_induction_behavior") && r.getDouble("fraction_rank_at_most_10") >= 0.5)
                sb.append("\n- false positive: control family `").append(r.getString("family"))
                        .append("` has the expected token in the top 10 for ")
                        .append(String.format(java.util.Locale.ROOT, "%.0f%%", 100 * r.getDouble("fraction_rank_at_most_10")))
                        .append(" of examples.");
        sb.append("\n\nactivation_analysis_worth_running: ").append(metrics.activationAnalysisWorthRunning()).append('\n');
        return sb.toString();
    }
}
