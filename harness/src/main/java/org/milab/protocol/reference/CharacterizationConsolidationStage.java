package org.milab.protocol.reference;

import org.milab.stats.Decisions;

import org.milab.graph.Head;

import org.milab.stage.StageContext;
import org.milab.stats.Stats;

import org.milab.tables.RecordSchema;
import org.milab.tables.Table;
import org.milab.tables.TableBuilder;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.TreeSet;

/**
 * S16 consolidation over the characterization seeds: candidate_characterization_multiseed_by_candidate
 * (with {@code final_characterization_status}, negative-control dominance checked first),
 * candidate_characterization_multiseed_by_axis, a summary json and the Markdown report, under
 * characterization_multiseed/.
 */
public final class CharacterizationConsolidationStage {
    public static final String DIR = "characterization_multiseed";
    public static final String BY_CANDIDATE = "candidate_characterization_multiseed_by_candidate";
    public static final String BY_AXIS = "candidate_characterization_multiseed_by_axis";
    static final String SUPPORTS = "characterization_supports", DOWNGRADES = "characterization_downgrades",
            FALSIFIES = "characterization_falsifies";

    public void run(StageContext ctx, List<Integer> seeds) {
        List<Table> perSeed = new ArrayList<>();
        for (int s : seeds) perSeed.add(ctx.read(CharacterizationStage.DIR, s, CharacterizationStage.BY_CANDIDATE));
        Table all = concat(perSeed);
        Table byCandidate = ctx.write(DIR, null, byCandidate(all));
        Table byAxis = ctx.write(DIR, null, byAxis(all));
        Map<String, Object> summary = new LinkedHashMap<>();
        summary.put("n_runs", seeds.size());
        summary.put("seeds", seeds);
        summary.put("n_candidates", byCandidate.rowCount());
        summary.put("status_counts", Stats.counts(byCandidate.strings("final_characterization_status")));
        summary.put("strengthened_candidates", rows(byCandidate.filter(r -> "strengthened_local_candidate".equals(r.getString("final_characterization_status")))));
        summary.put("primary_candidate_outcomes", rows(byCandidate.filter(r -> isPrimary(r.getString("candidate_group")))));
        summary.put("prior_raw_attention_outcomes", rows(byCandidate.filter(r -> "prior_raw_attention_failed".equals(r.getString("candidate_group")))));
        summary.put("negative_control_outcomes", rows(byCandidate.filter(r -> isNegative(r.getString("candidate_group")))));
        summary.put("axis_summary", rows(byAxis));
        ctx.writeJson(DIR, null, "candidate_characterization_summary.json", summary);
        ctx.writeText(DIR, null, "head_specific_candidate_characterization_v1.md", markdown(summary, byCandidate, byAxis));
        ctx.summarize("- S16 characterization consolidated over seeds " + seeds + ": " + org.milab.stats.Num.text(summary.get("status_counts")));
    }

    static boolean isPrimary(String group) {
        return "replicated_candidate".equals(group) || "random_comparison_replicated".equals(group);
    }

    static boolean isNegative(String group) {
        return group != null && group.startsWith("negative_control");
    }

    static Table concat(List<Table> tables) {
        TableBuilder b = Table.builder(CharacterizationStage.BY_CANDIDATE);
        tables.get(0).columns().forEach(c -> b.column(c.name(), c.type()));
        for (Table t : tables) for (Table.Row r : t.rows()) b.copyRow(r);
        return b.build();
    }

    /** Best negative control: the most support seeds of any negative, the highest mean gap of any negative. */
    record NegativeReference(long supportSeeds, Double meanGap) {}

    static NegativeReference negativeReference(Table all) {
        long support = 0;
        Double gap = null;
        for (Table g : all.filter(r -> isNegative(r.getString("candidate_group"))).groupBy("candidate_id").values()) {
            support = Math.max(support, count(g, SUPPORTS));
            double m = Stats.mean(g.doubles("positive_minus_control_gap"));
            if (!Double.isNaN(m) && (gap == null || m > gap)) gap = m;
        }
        return new NegativeReference(support, gap);
    }

    /** One candidate of candidate_characterization_multiseed_by_candidate: its seeds' evidence and final status. */
    record CandidateRow(String candidateId, String candidateGroup, long layer, long head, long nSeeds, List<Long> seedsPresent,
                        long nSupportSeeds, long nDowngradeSeeds, long nFalsifySeeds, Double meanPositiveMinusControlGap,
                        Double meanAttentionEffectCorr, Double meanSourceAttentionMargin, Double meanOvCopyMargin,
                        Double meanQkSourceMargin, List<String> positionStatuses, List<String> ovStatuses,
                        List<String> qkStatuses, String finalCharacterizationStatus) {}

    static TableBuilder byCandidate(Table all) {
        NegativeReference neg = negativeReference(all);
        List<CandidateRow> rows = new ArrayList<>();
        for (Map.Entry<List<Object>, Table> e : HeadSweepStage.sorted(all.groupBy("candidate_id", "layer", "head"))) {
            Table g = e.getValue();
            TreeSet<Long> seeds = new TreeSet<>(g.longs("seed").stream().filter(Objects::nonNull).toList());
            long support = count(g, SUPPORTS), downgrade = count(g, DOWNGRADES), falsify = count(g, FALSIFIES);
            Double meanGap = Stats.orNull(Stats.mean(g.doubles("positive_minus_control_gap")));
            Double meanCorr = Stats.orNull(Stats.mean(g.doubles("spearman_attention_effect_corr")));
            String group = g.strings("candidate_group").get(0);
            boolean dominated = !isNegative(group) && support >= 2 && neg.supportSeeds() >= support
                    && neg.meanGap() != null && meanGap != null && neg.meanGap() >= meanGap;
            long ovSupport = g.strings("ov_status").stream().filter("ov_supports_copy"::equals).count();
            long qkSupport = g.strings("qk_status").stream().filter("qk_supports_source_selection"::equals).count();
            rows.add(new CandidateRow((String) e.getKey().get(0), group, (Long) e.getKey().get(1), (Long) e.getKey().get(2),
                    seeds.size(), List.copyOf(seeds), support, downgrade, falsify, meanGap, meanCorr,
                    Stats.orNull(Stats.mean(g.doubles("mean_source_attention_margin"))),
                    Stats.orNull(Stats.mean(g.doubles("ov_copy_margin"))), Stats.orNull(Stats.mean(g.doubles("qk_source_margin"))),
                    unique(g.strings("position_specificity_status")), unique(g.strings("ov_status")),
                    unique(g.strings("qk_status")),
                    finalStatus(seeds.size(), support, downgrade, falsify, meanCorr, ovSupport, qkSupport, dominated)));
        }
        rows.sort(Comparator.comparing(CandidateRow::finalCharacterizationStatus)
                .thenComparing(Decisions.descending(CandidateRow::meanPositiveMinusControlGap)));
        return RecordSchema.of(CandidateRow.class).builder(BY_CANDIDATE, rows, "candidate_id");
    }

    /** {@code classify_final_characterization_status}, dominance first. */
    public static String finalStatus(int nSeeds, long support, long downgrade, long falsify, Double meanCorr,
                                     long ovSupportSeeds, long qkSupportSeeds, boolean negativeControlDominates) {
        if (nSeeds < 2) return "insufficient_characterization_data";
        if (negativeControlDominates) return "falsified_candidate";
        if (falsify >= 2) return "falsified_candidate";
        if (support >= 2 && falsify == 0 && meanCorr != null && Decisions.positive(meanCorr))
            return ovSupportSeeds >= 2 || qkSupportSeeds >= 2 ? "strengthened_local_candidate" : "downgraded_candidate";
        if (support >= 1 || downgrade >= 1) return "downgraded_candidate";
        return "falsified_candidate";
    }

    private static long count(Table g, String status) {
        return g.strings("characterization_seed_status").stream().filter(status::equals).count();
    }

    /** The distinct non-empty values, sorted (the reference joins them with ","; the table keeps the list). */
    static List<String> unique(List<String> values) {
        return List.copyOf(new TreeSet<>(values.stream().filter(v -> v != null && !v.isEmpty()).toList()));
    }

    private static final String[][] AXES = {
            {"effect_gap", "positive_minus_control_gap", "characterization_seed_status"},
            {"attention_effect_alignment", "spearman_attention_effect_corr", "characterization_seed_status"},
            {"source_attention_margin", "mean_source_attention_margin", "characterization_seed_status"},
            {"ov_copy", "ov_copy_margin", "ov_status"},
            {"qk_source_selection", "qk_source_margin", "qk_status"}};

    /** One (candidate, evidence axis) of candidate_characterization_multiseed_by_axis. */
    record AxisRow(String candidateId, String candidateGroup, long layer, long head, String axis, Double meanValue,
                   List<String> statuses) {}

    static TableBuilder byAxis(Table all) {
        List<AxisRow> rows = new ArrayList<>();
        for (Map.Entry<List<Object>, Table> e : HeadSweepStage.sorted(all.groupBy("candidate_id", "candidate_group", "layer", "head")))
            for (String[] axis : AXES)
                rows.add(new AxisRow((String) e.getKey().get(0), (String) e.getKey().get(1), (Long) e.getKey().get(2),
                        (Long) e.getKey().get(3), axis[0], Stats.orNull(Stats.mean(e.getValue().doubles(axis[1]))),
                        unique(e.getValue().strings(axis[2]))));
        return RecordSchema.of(AxisRow.class).builder(BY_AXIS, rows, "candidate_id", "axis");
    }

    private static List<Map<String, Object>> rows(Table t) {
        return t.rows().stream().map(Table.Row::toMap).toList();
    }

    static String markdown(Map<String, Object> summary, Table byCandidate, Table byAxis) {
        boolean strengthened = !((List<?>) summary.get("strengthened_candidates")).isEmpty();
        StringBuilder sb = new StringBuilder("# Head-Specific Candidate Characterization v1\n\n## Executive summary\n\n")
                .append(strengthened ? "One or more candidates strengthened under local characterization, but this is still "
                        + "not an induction-head discovery or circuit claim."
                        : "No prior candidate survived characterization as a strengthened local candidate. "
                        + "The previous head-specific and held-out effects should be treated as fragile local artifacts.")
                .append("\n\nSeeds: `").append(summary.get("seeds")).append("`. Final statuses: `")
                .append(summary.get("status_counts")).append("`.\n\n## Fixed candidates\n\n")
                .append("| head | candidate_id | group | final status | mean gap | mean corr | OV | QK |\n")
                .append("| --- | --- | --- | --- | --- | --- | --- | --- |\n");
        List<Table.Row> rows = new ArrayList<>(byCandidate.rows());
        rows.sort(Comparator.comparing((Table.Row r) -> r.getString("candidate_group")).thenComparing(r -> r.getLong("layer"))
                .thenComparing(r -> r.getLong("head")));
        for (Table.Row r : rows)
            sb.append(String.format(Locale.ROOT, "| L%dH%d | %s | %s | %s | %s | %s | %s | %s |%n", r.getLong("layer"),
                    r.getLong("head"), r.getString("candidate_id"), r.getString("candidate_group"),
                    r.getString("final_characterization_status"), fmt(r.getDouble("mean_positive_minus_control_gap")),
                    fmt(r.getDouble("mean_attention_effect_corr")), PandasRules.joined(r.getStrings("ov_statuses")),
                    PandasRules.joined(r.getStrings("qk_statuses"))));
        for (String[] axis : AXES) {
            sb.append("\n## Axis `").append(axis[0]).append("`\n\n| head | group | mean value | statuses |\n| --- | --- | --- | --- |\n");
            List<Table.Row> ax = new ArrayList<>(byAxis.filter(r -> axis[0].equals(r.getString("axis"))).rows());
            ax.sort(Decisions.descending((Table.Row r) -> r.getDouble("mean_value")));
            for (Table.Row r : ax)
                sb.append(String.format(Locale.ROOT, "| L%dH%d | %s | %s | %s |%n", r.getLong("layer"), r.getLong("head"),
                        r.getString("candidate_group"), fmt(r.getDouble("mean_value")), PandasRules.joined(r.getStrings("statuses"))));
        }
        sb.append("\n## What this does not show\n\nThis does not show an induction head, a circuit, or a broad model property.\n");
        return sb.toString();
    }

    private static String fmt(Double d) {
        return d == null || d.isNaN() ? "" : PyFormat.fixed(d, 4);
    }
}
