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
 * registered in {@code protocol.json} under {@code sequential}. The pairs of every seed-and-family group are taken
 * in a registered sequence of <em>looks</em> ({@link #looks}: cumulative pairs per group, the last holding every
 * pair). At each look but the last, the futility rule ({@link #futile} and the conditions of {@link #RULE}) is
 * applied to the heads still running, on each one's cumulative rows so far; a head that meets it stops and keeps
 * the rows it has up to that look; only the heads still running get the next look's pairs. The mean-ablation
 * references still average the whole group's corrupt prompts, so every look patches the same intervention as a run
 * without the design.
 *
 * <p>Why the declared looks (fractions 1/8, 1/4, 1/2, 1 of each group, the first holding at least
 * {@link #minFirstBlockPairs} verdict-feeding pairs in all): each look doubles the pairs, so a CI is about 1/sqrt(2)
 * as wide as at the look before and every look has a real chance to decide heads the last one could not; a head
 * that is decisively null early costs 1/8 of its rows instead of 1/4. The 20-pair floor keeps a bootstrap CI from
 * ever being read from a handful of prompts (full counts, 15 groups of 16: looks at 2, 4, 8, 16 pairs per group,
 * 30, 60, 120, 240 in all). A run too small for several distinct looks merges them (e.g. 10 groups of 4: 2, 4).
 *
 * <p>Why several looks keep the strict reading: a stopped head's tests enter the multiple-testing correction as
 * p = 1: it can never be significant, and every other head's adjusted p is at least what it would be with the
 * head's full-count p (Holm, Benjamini-Hochberg and Bonferroni are monotone in each p), whatever look it stopped at.
 * So stopping at any number of looks can lose a finding, never add one. What more looks cost is power on one kind
 * of head ('other' roles only): a head whose true effect reaches the band stops only if at some look every test's
 * 99% CI misses the truth on the same side; with K - 1 interim looks that chance is at most K - 1 times one look's
 * (a union bound: at most 1.5% for a head exactly at the band's edge with 3 interim looks, one-sided 0.5% each).
 *
 * @param enabled            false: one look with every pair (--v2-sequential off)
 * @param firstBlockFraction the first look's fraction of each group (= lookFractions[0]); a protocol.json
 *                           registered before the looks has only this: two looks, this fraction and every pair
 * @param minFirstBlockPairs the first look holds at least this many pairs in all (verdict-feeding families), so a
 *                           bootstrap CI is never read from a handful of prompts
 * @param futilityConfidence two-sided level of the CIs the stopping rule reads (stricter than thresholds.confidence)
 * @param rule               the stopping rule in words
 * <p>Why a stoppable head's natural-text pairs wait ({@code deferNaturalText}): the natural-text family is reported
 * only ({@link NaturalText}); the rule never reads it, and neither does any verdict. Its prompts are among the longest
 * (at full counts on GPT-2 small's shape, 3,408 of the first look's 21,600 rows), and a head that stops there would keep
 * a natural-text effect read from a handful of pairs. So a head that can stop (part (a) of the rule) gets its natural-text pairs only
 * once it has passed a look without stopping, all of them up to that look at once; a head that stops at the first look
 * has none, and in the natural-text subset's correction its missing tests count as p = 1, as a stopped head's tests
 * do, so no other head's adjusted p falls. A head that cannot stop gets them at every look, as before.
 *
 * @param lookFractions      each look's cumulative fraction of every group's pairs (rounded up), increasing, the last 1
 * @param deferNaturalText   a stoppable head's natural-text pairs wait until it has passed a look (null in a
 *                           protocol.json registered before this: they run at every look)
 */
public record Sequential(boolean enabled, double firstBlockFraction, int minFirstBlockPairs, double futilityConfidence,
                         String rule, List<Double> lookFractions, Boolean deferNaturalText) {
    public static final String TABLE = "sequential";
    /** The single-head tests the rule reads: every test the causal stage runs. */
    public static final List<String> TESTS = List.of(CausalStage.MEAN, CausalStage.RESAMPLE, CausalStage.DENOISE,
            CausalStage.CONTROL);
    /** The registered looks: cumulative fractions of every group, doubling. */
    public static final List<Double> LOOKS = List.of(0.125, 0.25, 0.5, 1.0);

    public static final String RULE = "futility only, at each registered look but the last (cumulative pairs per seed "
            + "and family: look_fractions of each group, rounded up, the first look at least min_first_block_pairs "
            + "verdict-feeding pairs in all): a head still running stops when (a) its attention role is 'other' "
            + "in the pooled roles and in every seed's roles (no confirmation rule can apply to it: it has no group "
            + "ablation and no composition test, and its verdict can only be rejected or inconclusive), (b) the "
            + "pooled clean - corrupt gap over ALL pairs has its thresholds.confidence CI above 0, and (c) each of "
            + "mean ablation, resample ablation, denoising and the control ablation, over its cumulative pairs of the "
            + "verdict-feeding families so far, has its futility_confidence bootstrap CI of effect/gap strictly inside "
            + "(-min_effect_fraction, +min_effect_fraction); a CI touching the band's edge continues. A stopped head "
            + "keeps its rows up to that look, its verdict follows the unchanged rules on them, and its tests enter the "
            + "correction as p = 1 (never significant; no other head gains from its stopping, at whichever look). The "
            + "natural-text family (reported only, never read by the rule) of a head that meets (a) runs only once the "
            + "head has passed a look without stopping, every one of its pairs up to that look at once (defer_natural_text).";

    /** The registered design: looks at 1/8, 1/4, 1/2 and all of each group (the first at least 20 pairs), CIs at 99%. */
    public static Sequential declared(boolean enabled) {
        return new Sequential(enabled, LOOKS.get(0), 20, 0.99, RULE, LOOKS, true);
    }

    /** Whether a stoppable head's natural-text pairs wait until it has passed a look (see the class comment). */
    public boolean defersNaturalText() {
        return enabled && Boolean.TRUE.equals(deferNaturalText);
    }

    /**
     * Part (a) of the rule: the head's attention role is 'other' pooled and in every seed, so no confirmation rule can
     * apply to it and it may stop.
     */
    static boolean eligible(Head h, Map<Head, Roles.HeadRole> pooledRoles, List<Map<Head, Roles.HeadRole>> seedRoles) {
        return pooledRoles.containsKey(h) && Roles.OTHER.equals(pooledRoles.get(h).role())
                && seedRoles.stream().allMatch(r -> r.containsKey(h) && Roles.OTHER.equals(r.get(h).role()));
    }

    /** The registered fractions (a protocol.json from before the looks: its first block, then every pair). */
    public List<Double> fractions() {
        return lookFractions == null ? List.of(firstBlockFraction, 1.0) : lookFractions;
    }

    /**
     * Cumulative pairs per seed-and-family group at each look ({@code groups}: verdict-feeding groups), strictly
     * increasing, the last = {@code promptsPerFamily}; one look with every pair when off. Looks that round to the
     * same count (or below the first look's floor) merge.
     */
    public int[] looks(int promptsPerFamily, int groups) {
        if (!enabled) return new int[]{promptsPerFamily};
        int byMinimum = (int) Math.ceil((double) minFirstBlockPairs / Math.max(1, groups));
        List<Integer> out = new ArrayList<>();
        for (double f : fractions()) {
            int n = Math.min(promptsPerFamily, Math.max((int) Math.ceil(f * promptsPerFamily), byMinimum));
            if (out.isEmpty() || n > out.get(out.size() - 1)) out.add(n);
        }
        if (out.get(out.size() - 1) != promptsPerFamily) out.add(promptsPerFamily);
        return out.stream().mapToInt(Integer::intValue).toArray();
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

    /**
     * One head's last decision: at look {@code look} (1-based), on its first {@code pairs} verdict-feeding pairs;
     * {@code stopped}: it stopped there.
     */
    public record Decision(Head head, boolean eligible, boolean stopped, int look, int pairs, Map<String, Interval> cis,
                           String reason) {}

    /**
     * Every running head's decision at look {@code look} from its cumulative rows ({@code ablations},
     * {@code patches}), the baselines of every pair and the roles (pooled and per seed) that the verdicts will use;
     * {@code remaining}: whether any pair is left for a later look (when none is, nothing stops); {@code running}:
     * the heads still running (the others stopped at an earlier look and are not decided again).
     */
    public Map<Head, Decision> decide(V2Protocol.Thresholds t, Map<Head, Roles.HeadRole> pooledRoles,
                                      List<Map<Head, Roles.HeadRole>> seedRoles, Table baselines, Table ablations,
                                      Table patches, Predicate<Table.Row> feeds, boolean remaining, int look,
                                      Predicate<Head> running) {
        double f = t.minEffectFraction();
        Map<String, Double> gapOf = new LinkedHashMap<>();
        for (Table.Row r : baselines.rows()) if (feeds.test(r)) gapOf.put(r.getString("prompt_id"), r.getDouble("gap"));
        Interval gap = Roles.mean(t, "pooled gap", gapOf.values().stream().mapToDouble(Double::doubleValue).toArray());
        boolean gapOk = gap.above(0);
        Map<Head, Map<String, Map<String, Double>>> deltas = Verdicts.deltas(feeds, ablations, patches);
        V2Protocol.Thresholds strict = t.withConfidence(futilityConfidence);
        Map<Head, Decision> out = new TreeMap<>();
        for (Head h : pooledRoles.keySet()) {
            if (!running.test(h)) continue;
            boolean eligible = eligible(h, pooledRoles, seedRoles);
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
            String why = !enabled ? "sequential design off" : !remaining ? "the last look holds every pair (no later "
                    + "look to stop before)" : !eligible ? "continues: its attention role is not 'other' "
                    + "in every seed (a confirmation rule could apply)" : !gapOk ? "continues: the gap's CI does not exclude 0, "
                    + "so no effect is null yet" : stop ? String.format(Locale.ROOT, "stopped for futility at look %d after "
                    + "%d pairs: every causal test's %.0f%% CI lies inside +-%.2f of the gap", look, n,
                    100 * futilityConfidence, f) : String.format(Locale.ROOT, "continues after look %d: a %.0f%% CI "
                    + "reaches or crosses +-%.2f of the gap", look, 100 * futilityConfidence, f);
            out.put(h, new Decision(h, eligible, stop, look, n, cis, why));
        }
        return out;
    }

    /**
     * A row of {@code v2/sequential}: one head's last decision (the look it stopped at, or the last interim look it
     * was decided at) and how many pairs its causal tests ran on.
     */
    record Row(int layer, int head, String headId, boolean eligible, boolean stopped, int looks, int decidedAtLook,
               int decidedAtPairs, Integer stoppedAtLook, int stoppedAtPairs, int pairsTotal, double futilityConfidence,
               Double meanAblationFutilityCiLow, Double meanAblationFutilityCiHigh, Double resampleAblationFutilityCiLow,
               Double resampleAblationFutilityCiHigh, Double denoisingFutilityCiLow, Double denoisingFutilityCiHigh,
               Double controlAblationFutilityCiLow, Double controlAblationFutilityCiHigh, String reason) {}

    /**
     * The decisions as {@code v2/sequential}; {@code looks}: the run's looks; {@code pairsTotal}: verdict-feeding
     * pairs a head that never stops runs on.
     */
    TableBuilder table(Map<Head, Decision> decisions, int looks, int pairsTotal, String sha) {
        TableBuilder b = RecordSchema.of(Row.class).builder(TABLE, "layer", "head").metadata(ProtocolStage.SHA_METADATA, sha);
        for (Decision d : decisions.values()) {
            List<Double> v = new ArrayList<>();
            for (String test : TESTS) {
                Interval i = d.cis().getOrDefault(test, Interval.EMPTY);
                v.add(i.defined() ? i.low() : null);
                v.add(i.defined() ? i.high() : null);
            }
            RecordSchema.of(Row.class).add(b, new Row(d.head().layer(), d.head().head(), d.head().label(), d.eligible(),
                    d.stopped(), looks, d.look(), d.pairs(), d.stopped() ? d.look() : null, d.stopped() ? d.pairs() : pairsTotal,
                    pairsTotal, futilityConfidence, v.get(0), v.get(1), v.get(2), v.get(3), v.get(4), v.get(5), v.get(6),
                    v.get(7), d.reason()));
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
