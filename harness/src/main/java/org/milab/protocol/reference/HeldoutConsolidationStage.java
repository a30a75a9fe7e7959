package org.milab.protocol.reference;

import org.milab.stats.Decisions;

import org.milab.stage.StageContext;
import org.milab.stats.Stats;

import org.milab.tables.RecordSchema;
import org.milab.tables.Table;
import org.milab.tables.TableBuilder;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.TreeSet;

/**
 * S14 multi-seed consolidation: per candidate, across the held-out seeds' slice statuses, the
 * {@code heldout_replication_status} verdict (falsified / downgraded / replicated / insufficient) and a
 * per-family summary. Writes heldout_multiseed/heldout_multiseed_{by_candidate,by_family} and the summary.
 */
public final class HeldoutConsolidationStage {
    public static final String DIR = "heldout_multiseed";
    public static final String BY_CANDIDATE = "heldout_multiseed_by_candidate";
    static final String CONTROLS_MOVE = "falsified_controls_move", SURVIVES = "heldout_survives_seed",
            DOWNGRADE = "downgraded_weak_family_specific", NO_EFFECT = "falsified_no_positive_effect",
            SIGN_FLIP = "falsified_sign_flip", INSUFFICIENT = "insufficient_valid_examples";

    public Table run(StageContext ctx, List<Integer> seeds) {
        List<Table> cands = new ArrayList<>(), fams = new ArrayList<>();
        for (int s : seeds) {
            cands.add(ctx.read(HeldoutRobustnessStage.DIR, s, HeldoutRobustnessStage.BY_CANDIDATE));
            fams.add(ctx.read(HeldoutRobustnessStage.DIR, s, HeldoutRobustnessStage.BY_FAMILY));
        }
        List<Table.Row> candRows = cands.stream().flatMap(t -> t.rows().stream()).toList();
        List<Table.Row> famRows = fams.stream().flatMap(t -> t.rows().stream()).toList();
        Table byCandidate = ctx.write(DIR, null, byCandidate(candRows, famRows));
        Table byFamily = ctx.write(DIR, null, byFamily(famRows));
        Map<String, Object> summary = new LinkedHashMap<>();
        summary.put("seeds", seeds);
        summary.put("n_candidates", byCandidate.rowCount());
        summary.put("status_counts", Stats.counts(byCandidate.strings("heldout_replication_status")));
        List<Map<String, Object>> outcomes = new ArrayList<>();
        for (Table.Row r : byCandidate.rows()) outcomes.add(r.toMap());
        summary.put("candidate_outcomes", outcomes);
        boolean any = byCandidate.strings("heldout_replication_status").contains("heldout_replicated");
        summary.put("executive_summary", any
                ? "At least one candidate survived the pre-registered held-out rule as a narrow local candidate. "
                + "This is still not an induction-head discovery or a circuit claim."
                : "The held-out robustness check falsified or downgraded every candidate.");
        ctx.writeJson(DIR, null, "heldout_multiseed_summary.json", summary);
        ctx.summarize("- S14 consolidated over seeds " + seeds + ": " + org.milab.stats.Num.text(summary.get("status_counts")));
        return byCandidate;
    }

    /** One candidate of heldout_multiseed_by_candidate: its slices over the held-out seeds, and its status. */
    record CandidateRow(String candidateId, String candidateGroup, long layer, long head, long nSeeds, List<Long> seedsPresent,
                        long nSurvivedSeeds, long nDowngradedSeeds, long nFalsifiedSeeds, Double meanPositiveMinusControlGap,
                        Double minPositiveMinusControlGap, long familiesSurvivedCount, List<String> interventionsSurvived,
                        List<String> positionsSurvived, String heldoutReplicationStatus) {}

    static TableBuilder byCandidate(List<Table.Row> candRows, List<Table.Row> famRows) {
        Map<List<Object>, List<Table.Row>> groups = new java.util.TreeMap<>(HeadSweepStage::compareKeys);
        for (Table.Row r : candRows)
            groups.computeIfAbsent(List.of(r.getString("candidate_id"), r.getLong("layer"), r.getLong("head")),
                    k -> new ArrayList<>()).add(r);
        List<CandidateRow> rows = new ArrayList<>();
        for (Map.Entry<List<Object>, List<Table.Row>> g : groups.entrySet()) {
            List<Table.Row> rs = g.getValue();
            Set<Long> seeds = seedsOf(rs);
            List<Table.Row> survived = rs.stream().filter(r -> SURVIVES.equals(r.getString("survival_status"))).toList();
            List<Table.Row> downgraded = rs.stream().filter(r -> DOWNGRADE.equals(r.getString("survival_status"))).toList();
            List<Table.Row> falsified = rs.stream().filter(r -> Set.of(CONTROLS_MOVE, NO_EFFECT, SIGN_FLIP)
                    .contains(r.getString("survival_status"))).toList();
            Set<String> survivedFamilies = survivedPositiveFamilies(famRows, survived);
            List<Double> gaps = rs.stream().map(r -> r.getDouble("positive_minus_control_gap")).filter(Objects::nonNull)
                    .filter(d -> !d.isNaN()).toList();
            rows.add(new CandidateRow((String) g.getKey().get(0), rs.get(0).getString("candidate_group"), (Long) g.getKey().get(1),
                    (Long) g.getKey().get(2), seeds.size(), List.copyOf(seeds), seedsOf(survived).size(),
                    seedsOf(downgraded).size(), seedsOf(falsified).size(),
                    gaps.isEmpty() ? null : Stats.mean(gaps), gaps.stream().min(Double::compare).orElse(null),
                    survivedFamilies.size(), List.copyOf(values(survived, "intervention")),
                    List.copyOf(values(survived, "position_label")), replicationStatus(rs, survivedFamilies.size())));
        }
        // the reference sorts by status ascending, then mean gap descending with missing last
        rows.sort(Comparator.comparing(CandidateRow::heldoutReplicationStatus)
                .thenComparing(Decisions.descending(CandidateRow::meanPositiveMinusControlGap)));
        return RecordSchema.of(CandidateRow.class).builder(BY_CANDIDATE, rows, "candidate_id");
    }

    /** {@code classify_heldout_replication_status}, in the reference's order of tests. */
    public static String replicationStatus(List<Table.Row> slices, int survivedPositiveFamilies) {
        if (!slices.stream().allMatch(r -> r.getBool("head_specific_patch"))) return "not_head_specific";
        if (seedsOf(slices).size() < 2) return "insufficient_heldout_data";
        Set<String> statuses = new TreeSet<>(values(slices, "survival_status"));
        if (statuses.contains(CONTROLS_MOVE)) return "heldout_falsified";
        List<Table.Row> survived = slices.stream().filter(r -> SURVIVES.equals(r.getString("survival_status"))).toList();
        Set<Long> survivedSeeds = seedsOf(survived);
        Set<Long> cleanFinal = seedsOf(survived.stream().filter(r -> "head_clean_to_corrupt_patch".equals(r.getString("intervention"))
                && "final".equals(r.getString("position_label"))).toList());
        if (survivedSeeds.size() >= 2 && survivedPositiveFamilies >= 2 && cleanFinal.size() >= 2) {
            if (values(survived, "intervention").size() < 2 || values(survived, "position_label").size() < 2)
                return "heldout_downgraded";
            return "heldout_replicated";
        }
        if (!survivedSeeds.isEmpty() || statuses.contains(DOWNGRADE)) return "heldout_downgraded";
        if (!statuses.isEmpty() && Set.of(INSUFFICIENT).containsAll(statuses)) return "insufficient_heldout_data";
        if (statuses.contains(NO_EFFECT) || statuses.contains(SIGN_FLIP)) return "heldout_falsified";
        return "heldout_downgraded";
    }

    /** Distinct positive families with mean effect > 0 inside the survived (seed, candidate, intervention, position) slices. */
    static Set<String> survivedPositiveFamilies(List<Table.Row> famRows, List<Table.Row> survived) {
        Set<List<Object>> keys = new java.util.HashSet<>();
        for (Table.Row r : survived)
            keys.add(List.of(r.getLong("seed"), r.getString("candidate_id"), r.getString("intervention"), r.getString("position_label")));
        Set<String> out = new TreeSet<>();
        for (Table.Row f : famRows)
            if (keys.contains(List.of(f.getLong("seed"), f.getString("candidate_id"), f.getString("intervention"),
                    f.getString("position_label"))) && "positive".equals(f.getString("heldout_family_type"))
                    && f.getDouble("mean_effect_size") != null && Decisions.positive(f.getDouble("mean_effect_size")))
                out.add(f.getString("family"));
        return out;
    }

    /** One (family, family type) of heldout_multiseed_by_family, over every candidate and seed. */
    record FamilyRow(String family, String heldoutFamilyType, long nSeeds, long nCandidateRows, Double meanEffectSize,
                     Double maxEffectSize, long nPositionUnavailable, long nDenominatorZero) {}

    static TableBuilder byFamily(List<Table.Row> famRows) {
        Map<List<Object>, List<Table.Row>> groups = new java.util.TreeMap<>(HeadSweepStage::compareKeys);
        for (Table.Row r : famRows)
            groups.computeIfAbsent(List.of(r.getString("family"), r.getString("heldout_family_type")), k -> new ArrayList<>()).add(r);
        List<FamilyRow> rows = new ArrayList<>();
        for (Map.Entry<List<Object>, List<Table.Row>> g : groups.entrySet()) {
            List<Table.Row> rs = g.getValue();
            List<Double> means = rs.stream().map(r -> r.getDouble("mean_effect_size")).filter(Objects::nonNull).toList();
            rows.add(new FamilyRow((String) g.getKey().get(0), (String) g.getKey().get(1), seedsOf(rs).size(), rs.size(),
                    means.isEmpty() ? null : Stats.mean(means), means.stream().max(Double::compare).orElse(null),
                    rs.stream().mapToLong(r -> r.getLong("n_position_unavailable")).sum(),
                    rs.stream().mapToLong(r -> r.getLong("n_denominator_zero")).sum()));
        }
        rows.sort(Comparator.comparing(FamilyRow::heldoutFamilyType).thenComparing(Decisions.descending(FamilyRow::meanEffectSize)));
        return RecordSchema.of(FamilyRow.class).builder("heldout_multiseed_by_family", rows, "family");
    }

    private static Set<Long> seedsOf(List<Table.Row> rows) {
        Set<Long> s = new TreeSet<>();
        rows.forEach(r -> s.add(r.getLong("seed")));
        return s;
    }

    private static Set<String> values(List<Table.Row> rows, String col) {
        Set<String> s = new TreeSet<>();
        rows.forEach(r -> s.add(r.getString(col)));
        return s;
    }
}
