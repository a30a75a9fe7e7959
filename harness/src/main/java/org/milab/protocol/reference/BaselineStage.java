package org.milab.protocol.reference;

import org.milab.stats.Decisions;

import org.milab.stage.StageContext;
import org.milab.stats.Scores;
import org.milab.stats.Stats;

import org.milab.prompts.PromptRecord;
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
        TableBuilder ex = Table.builder(BY_EXAMPLE).keys("example_id")
                .string("example_id", "task", "family", "control_family")
                .bool("is_positive_induction_example", "should_show_induction_behavior")
                .string("prompt", "expected_next_token").int64("expected_token_id")
                .float64("expected_logit", "expected_probability").int64("expected_rank")
                .string("control_prompt").float64("control_expected_logit", "control_expected_probability")
                .int64("control_expected_rank").float64("logit_diff_vs_control", "probability_diff_vs_control");
        for (PromptRecord r : set.records()) {
            int t = ctx.singleToken(r.expectedNextToken(), r.exampleId() + " expected_next_token");
            float[] lp = set.capture(ctx.tokens(r.prompt())).logits();
            float[] lc = set.capture(ctx.tokens(r.controlPrompt())).logits();
            double p = Scores.probability(lp, t), pc = Scores.probability(lc, t);
            ex.addRow(r.exampleId(), r.task(), r.family(), r.controlFamily(), r.positiveInductionExample(),
                    r.shouldShowInductionBehavior(), r.prompt(), r.expectedNextToken(), t, Scores.logit(lp, t), p,
                    Scores.rank(lp, t), r.controlPrompt(), Scores.logit(lc, t), pc, Scores.rank(lc, t),
                    Scores.logit(lp, t) - Scores.logit(lc, t), p - pc);
        }
        Table byExample = ctx.write(set.dataset(), set.seed(), ex);
        Table byFamily = ctx.write(set.dataset(), set.seed(), byFamily(byExample));
        Map<String, Object> metrics = metrics(ctx, set, byExample, byFamily);
        ctx.writeJson(set.dataset(), set.seed(), "baseline_metrics.json", metrics);
        ctx.writeText(set.dataset(), set.seed(), "notes.md", notes(set, byFamily, metrics));
        ctx.recordTiming(set.dataset() + "/seed" + set.seed() + "/baseline", (System.nanoTime() - t0) / 1e9);
    }

    static TableBuilder byFamily(Table byExample) {
        TableBuilder b = Table.builder(BY_FAMILY).keys("family").string("family").int64("n_examples")
                .float64("mean_expected_probability", "median_expected_rank", "mean_logit_diff_vs_control",
                        "mean_probability_diff_vs_control").int64("n_rank_at_most_10")
                .float64("fraction_rank_at_most_10").bool("should_show_induction_behavior");
        for (Map.Entry<List<Object>, Table> g : byExample.groupBy("family").entrySet()) {
            Table f = g.getValue();
            long hits = f.longs("expected_rank").stream().filter(r -> r <= 10).count();
            b.addRow(g.getKey().get(0), f.rowCount(), Stats.mean(f.doubles("expected_probability")),
                    Stats.median(f.longs("expected_rank")), Stats.mean(f.doubles("logit_diff_vs_control")),
                    Stats.mean(f.doubles("probability_diff_vs_control")), hits, (double) hits / f.rowCount(),
                    f.bools("should_show_induction_behavior").get(0));
        }
        return b;
    }

    private static Map<String, Object> metrics(StageContext ctx, PromptSet set, Table ex, Table fam) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("model", ctx.model().id());
        m.put("task", set.task());
        m.put("seed", set.seed());
        m.putAll(summary(ex));
        List<Map<String, Object>> failing = new ArrayList<>();
        for (Table.Row r : ex.rows())
            if (r.getLong("expected_rank") > 10 || Decisions.nonPositive(r.getDouble("probability_diff_vs_control")))
                failing.add(Map.of("example_id", r.getString("example_id"), "expected_rank", r.getLong("expected_rank"),
                        "probability_diff_vs_control", r.getDouble("probability_diff_vs_control")));
        m.put("failing_examples", failing);
        m.put("positive_summary", summary(ex.filter(r -> r.getBool("should_show_induction_behavior"))));
        m.put("control_summary", summary(ex.filter(r -> !r.getBool("should_show_induction_behavior"))));
        double posProb = Stats.mean(fam.filter(r -> r.getBool("should_show_induction_behavior")).doubles("mean_expected_probability"));
        double posHit = Stats.mean(fam.filter(r -> r.getBool("should_show_induction_behavior")).doubles("fraction_rank_at_most_10"));
        Table controls = fam.filter(r -> !r.getBool("should_show_induction_behavior"));
        double maxProb = controls.doubles("mean_expected_probability").stream().mapToDouble(d -> d).max().orElse(Double.NaN);
        double maxHit = controls.doubles("fraction_rank_at_most_10").stream().mapToDouble(d -> d).max().orElse(Double.NaN);
        m.put("positive_vs_control_gap", Map.of(
                "positive_mean_expected_probability", posProb, "max_control_mean_expected_probability", maxProb,
                "probability_gap", posProb - maxProb, "positive_fraction_rank_at_most_10", posHit,
                "max_control_fraction_rank_at_most_10", maxHit, "fraction_rank_at_most_10_gap", posHit - maxHit));
        String hardest = null;
        double best = Double.NEGATIVE_INFINITY;
        for (Table.Row r : controls.rows())
            if (hardest == null || Decisions.greater(r.getDouble("mean_expected_probability"), best)) {
                best = r.getDouble("mean_expected_probability");
                hardest = r.getString("family");
            }
        m.put("hardest_control_family", hardest);
        Map<String, Object> byFamily = new LinkedHashMap<>();
        for (Table.Row r : fam.rows()) byFamily.put(r.getString("family"), r.toMap());
        m.put("by_family", byFamily);
        long hits = ex.longs("expected_rank").stream().filter(r -> r <= 10).count();
        m.put("activation_analysis_worth_running", hits > 0 && Decisions.positive(Stats.mean(ex.doubles("probability_diff_vs_control")))
                && (double) hits / ex.rowCount() >= 0.10);
        return m;
    }

    private static Map<String, Object> summary(Table ex) {
        Map<String, Object> m = new LinkedHashMap<>();
        long hits = ex.longs("expected_rank").stream().filter(r -> r <= 10).count();
        m.put("n_examples", ex.rowCount());
        m.put("mean_expected_probability", Stats.mean(ex.doubles("expected_probability")));
        m.put("median_expected_rank", Stats.median(ex.longs("expected_rank")));
        m.put("mean_expected_rank", Stats.mean(ex.longs("expected_rank")));
        m.put("mean_logit_diff_vs_control", Stats.mean(ex.doubles("logit_diff_vs_control")));
        m.put("mean_probability_diff_vs_control", Stats.mean(ex.doubles("probability_diff_vs_control")));
        m.put("n_rank_at_most_10", hits);
        return m;
    }

    private static String notes(PromptSet set, Table fam, Map<String, Object> metrics) {
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
        sb.append("\n\nactivation_analysis_worth_running: ").append(metrics.get("activation_analysis_worth_running")).append('\n');
        return sb.toString();
    }
}
