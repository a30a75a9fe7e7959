package org.milab.protocol.v2;

import org.milab.graph.Head;
import org.milab.stats.Bootstrap.Interval;
import org.milab.tables.RecordSchema;
import org.milab.tables.Table;
import org.milab.tables.TableBuilder;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;
import java.util.function.Predicate;

/**
 * The pre-registered group-sequential design of v2's single-head causal tests (futility stopping only), as
 * registered in {@code protocol.json} under {@code sequential}. Stage 1 runs every head on the first
 * {@link #firstBlock} pairs of every seed and family (the mean-ablation references still average the whole
 * group's corrupt prompts, so they are the same as without the design); a head stops when {@link #futile} holds
 * on its stage-1 rows; only the other heads get the remaining pairs. A stopped head's tests enter the
 * multiple-testing correction as p = 1: it can never be significant, and every other head's adjusted p is at
 * least what it would be with the head's full-count p (Holm, Benjamini-Hochberg and Bonferroni are monotone), so
 * stopping can lose a finding, never add one.
 *
 * @param enabled            false: every head gets every pair (--v2-sequential off)
 * @param firstBlockFraction stage 1 holds this fraction of each seed-and-family group's pairs (rounded up) ...
 * @param minFirstBlockPairs ... and at least this many pairs in all (verdict-feeding families), so a bootstrap
 *                           CI is never read from a handful of prompts
 * @param futilityConfidence two-sided level of the CIs the stopping rule reads (stricter than thresholds.confidence)
 * @param rule               the stopping rule in words
 */
public record Sequential(boolean enabled, double firstBlockFraction, int minFirstBlockPairs, double futilityConfidence,
                         String rule) {
    public static final String TABLE = "sequential";
    /** The single-head tests the rule reads: every test the causal stage runs. */
    public static final List<String> TESTS = List.of(CausalStage.MEAN, CausalStage.RESAMPLE, CausalStage.DENOISE,
            CausalStage.CONTROL);

    public static final String RULE = "futility only: a head stops after stage 1 when (a) its attention role is 'other' "
            + "in the pooled roles and in every seed's roles (no confirmation rule can apply to it: it has no group "
            + "ablation and no composition test, and its verdict can only be rejected or inconclusive), (b) the "
            + "pooled clean - corrupt gap over ALL pairs has its thresholds.confidence CI above 0, and (c) each of "
            + "mean ablation, resample ablation, denoising and the control ablation, over the stage-1 pairs of the "
            + "verdict-feeding families, has its futility_confidence bootstrap CI of effect/gap strictly inside "
            + "(-min_effect_fraction, +min_effect_fraction); a CI touching the band's edge continues. A stopped head "
            + "keeps its stage-1 rows, its verdict follows the unchanged rules on them, and its tests enter the "
            + "correction as p = 1 (never significant; no other head gains from its stopping).";

    /** The registered design: stage 1 = a quarter of each group (at least 20 pairs), futility CIs at 99%. */
    public static Sequential declared(boolean enabled) {
        return new Sequential(enabled, 0.25, 20, 0.99, RULE);
    }

    /** Pairs per seed-and-family group in stage 1 ({@code groups}: verdict-feeding groups); all when off. */
    public int firstBlock(int promptsPerFamily, int groups) {
        if (!enabled) return promptsPerFamily;
        int byFraction = (int) Math.ceil(firstBlockFraction * promptsPerFamily);
        int byMinimum = (int) Math.ceil((double) minFirstBlockPairs / Math.max(1, groups));
        return Math.min(promptsPerFamily, Math.max(byFraction, byMinimum));
    }

    /**
     * The rule's part (c) on one head's intervals: every test present, defined and strictly inside (-f, f). A
     * missing test or one whose CI reaches the band's edge means the head continues.
     */
    public static boolean futile(Map<String, Interval> cis, double f) {
        for (String test : TESTS) {
            Interval i = cis.get(test);
            if (i == null || !i.defined() || !(i.below(f) && i.above(-f))) return false;
        }
        return true;
    }

    /** One head's stage-1 decision. */
    public record Decision(Head head, boolean eligible, boolean stopped, int stage1Pairs, Map<String, Interval> cis,
                           String reason) {}

    /**
     * Every head's decision from the stage-1 rows ({@code ablations}, {@code patches}), the baselines of every pair
     * and the roles (pooled and per seed) that the verdicts will use; {@code remaining}: whether any pair is left for
     * a stage 2 (when none is, nothing stops).
     */
    public Map<Head, Decision> decide(V2Protocol.Thresholds t, Map<Head, Roles.HeadRole> pooledRoles,
                                      List<Map<Head, Roles.HeadRole>> seedRoles, Table baselines, Table ablations,
                                      Table patches, Predicate<Table.Row> feeds, boolean remaining) {
        double f = t.minEffectFraction();
        Map<String, Double> gapOf = new LinkedHashMap<>();
        for (Table.Row r : baselines.rows()) if (feeds.test(r)) gapOf.put(r.getString("prompt_id"), r.getDouble("gap"));
        Interval gap = Roles.mean(t, "pooled gap", gapOf.values().stream().mapToDouble(Double::doubleValue).toArray());
        boolean gapOk = gap.above(0);
        Map<Head, Map<String, Map<String, Double>>> deltas = Verdicts.deltas(feeds, ablations, patches);
        V2Protocol.Thresholds strict = t.withConfidence(futilityConfidence);
        Map<Head, Decision> out = new TreeMap<>();
        for (Head h : pooledRoles.keySet()) {
            boolean eligible = Roles.OTHER.equals(pooledRoles.get(h).role())
                    && seedRoles.stream().allMatch(r -> r.containsKey(h) && Roles.OTHER.equals(r.get(h).role()));
            Map<String, Map<String, Double>> byTest = deltas.getOrDefault(h, Map.of());
            Map<String, Interval> cis = new LinkedHashMap<>();
            int n = 0;
            for (String test : TESTS)
                if (byTest.containsKey(test)) {
                    n = Math.max(n, byTest.get(test).size());
                    cis.put(test, gapOk ? Verdicts.effect(strict, "futility " + h + " " + test, byTest.get(test), gapOf,
                            true, f).normalized() : Interval.EMPTY);
                }
            boolean stop = enabled && remaining && eligible && gapOk && futile(cis, f);
            String why = !enabled ? "sequential design off" : !remaining ? "stage 1 holds every pair (too few pairs "
                    + "per group for a second stage)" : !eligible ? "continues: its attention role is not 'other' "
                    + "in every seed (a confirmation rule could apply)" : !gapOk ? "continues: the gap's CI does not exclude 0, "
                    + "so no effect is null yet" : stop ? String.format(Locale.ROOT, "stopped for futility after %d pairs: "
                    + "every causal test's %.0f%% CI lies inside +-%.2f of the gap", n, 100 * futilityConfidence, f)
                    : String.format(Locale.ROOT, "continues: a %.0f%% CI reaches or crosses +-%.2f of the gap",
                    100 * futilityConfidence, f);
            out.put(h, new Decision(h, eligible, stop, n, cis, why));
        }
        return out;
    }

    /** A row of {@code v2/sequential}: one head's stage-1 decision and how many pairs its causal tests ran on. */
    record Row(int layer, int head, String headId, boolean eligible, boolean stopped, int stage1Pairs, int stoppedAtPairs,
               int pairsTotal, double futilityConfidence, Double meanAblationFutilityCiLow, Double meanAblationFutilityCiHigh,
               Double resampleAblationFutilityCiLow, Double resampleAblationFutilityCiHigh, Double denoisingFutilityCiLow,
               Double denoisingFutilityCiHigh, Double controlAblationFutilityCiLow, Double controlAblationFutilityCiHigh,
               String reason) {}

    /** The decisions as {@code v2/sequential}; {@code pairsTotal}: verdict-feeding pairs a continuing head runs on. */
    TableBuilder table(Map<Head, Decision> decisions, int pairsTotal, String sha) {
        TableBuilder b = RecordSchema.of(Row.class).builder(TABLE, "layer", "head").metadata(ProtocolStage.SHA_METADATA, sha);
        for (Decision d : decisions.values()) {
            List<Double> v = new ArrayList<>();
            for (String test : TESTS) {
                Interval i = d.cis().getOrDefault(test, Interval.EMPTY);
                v.add(i.defined() ? i.low() : null);
                v.add(i.defined() ? i.high() : null);
            }
            RecordSchema.of(Row.class).add(b, new Row(d.head().layer(), d.head().head(), d.head().label(), d.eligible(),
                    d.stopped(), d.stage1Pairs(), d.stopped() ? d.stage1Pairs() : pairsTotal, pairsTotal, futilityConfidence,
                    v.get(0), v.get(1), v.get(2), v.get(3), v.get(4), v.get(5), v.get(6), v.get(7), d.reason()));
        }
        return b;
    }

    /** Heads the sequential table marks stopped, with the pairs they stopped at (empty when there is no table). */
    static Map<Head, Integer> stopped(Table sequential) {
        Map<Head, Integer> out = new TreeMap<>();
        if (sequential == null) return out;
        for (Table.Row r : sequential.rows())
            if (Boolean.TRUE.equals(r.getBool("stopped"))) out.put(Roles.head(r), r.getLong("stopped_at_pairs").intValue());
        return out;
    }
}
