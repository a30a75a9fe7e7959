package org.milab.protocol.reference;

import org.milab.stats.Decisions;

import org.milab.stage.RunConfig;

import org.milab.graph.Head;
import org.milab.stage.StageContext;
import org.milab.stats.Stats;

import com.fasterxml.jackson.databind.JsonNode;
import org.milab.tables.ArrowTables;
import org.milab.tables.RecordSchema;
import org.milab.tables.Table;
import org.milab.tables.TableBuilder;
import org.milab.util.UserError;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.TreeMap;
import org.milab.util.Json;

/**
 * S12 multi-seed consolidation of the head sweep ({@code compare_head_specific_induction_runs.py}): one row
 * per head over the sweep seeds' {@code head_specific_patching_by_head} tables, with the raw-attention and
 * random-comparison flags of each seed's S8 candidates and the reference's {@code replication_status}
 * cascade. Writes {@code head_sweep_multiseed/head_specific_multiseed_by_head}, its summary json and a
 * short Markdown report.
 */
public final class SweepConsolidationStage {
    public static final String DIR = "head_sweep_multiseed";
    public static final String TABLE = "head_specific_multiseed_by_head";
    public static final String SWEEP_DIR = "head_sweep";
    public static final String SWEEP_BY_HEAD = "head_specific_patching_by_head";
    static final String CONTROLS_DIR = "controls";
    public static final String REPLICATED = "replicated_head_specific_candidate";

    /** A head's S11 outcome in one seed, with that seed's candidate flags. */
    public record SeedRow(int seed, Head head, boolean headSpecific, Double positiveMean, Double maxControlMean,
                          Double gap, String status, boolean rawAttention, boolean randomComparison) {}

    /**
     * Heads flagged by one seed's S8 candidate table (sources top_raw_positive_attention and
     * random_comparison), in table order; {@code flagSource} says where the raw flags came from.
     */
    public record CandidateFlags(List<Head> rawAttention, List<Head> randomComparison, String flagSource) {}

    /** Sweep seeds are the control seeds (RunConfig). */
    public Table run(StageContext ctx) {
        return run(ctx, ctx.config().controlSeeds());
    }

    public Table run(StageContext ctx, List<Integer> seeds) {
        List<SeedRow> rows = new ArrayList<>();
        List<SeedRun> runs = new ArrayList<>();
        for (int seed : seeds) {
            CandidateFlags flags = flags(ctx, seed);
            Table byHead = ctx.read(SWEEP_DIR, seed, SWEEP_BY_HEAD);
            rows.addAll(seedRows(seed, byHead, flags));
            runs.add(new SeedRun(seed, ctx.runDir().relativize(ctx.dir(SWEEP_DIR, seed).resolve(SWEEP_BY_HEAD
                    + ArrowTables.EXTENSION)).toString(), byHead.rowCount(), sortedLabels(flags.rawAttention()),
                    sortedLabels(flags.randomComparison()), flags.flagSource()));
        }
        Table table = ctx.write(DIR, null, consolidate(rows));
        Map<String, Object> summary = summary(table, seeds, runs);
        ctx.writeJson(DIR, null, "head_specific_multiseed_summary.json", summary);
        ctx.writeText(DIR, null, "head_specific_multiseed.md", markdown(table, summary));
        ctx.summarize(String.format(Locale.ROOT, "- S12 multi-seed consolidation over seeds %s: %d heads, replicated %s",
                seeds, table.rowCount(), org.milab.stats.Num.text(labels(table.filter(SweepConsolidationStage::replicated)))));
        return table;
    }

    /** The flags of one sweep seed: its S8 candidates if present, raw heads else from attention_summary.json. */
    public static CandidateFlags flags(StageContext ctx, int seed) {
        Path candidates = ctx.dir(LayerPatchingStage.DIR, seed).resolve(LayerPatchingStage.CANDIDATES + ArrowTables.EXTENSION);
        Path attention = ctx.dir(CONTROLS_DIR, seed).resolve("attention_summary.json");
        JsonNode summary = null;
        if (Files.isRegularFile(attention)) {
            try {
                summary = Json.MAPPER.readTree(attention.toFile());
            } catch (IOException e) {
                throw new UserError("Cannot read " + attention + ": " + e.getMessage(), "Re-run the attention stage (S6).", e);
            }
        }
        return flags(Files.isRegularFile(candidates) ? ArrowTables.read(candidates) : null, summary);
    }

    /**
     * {@code candidate_flags_for_run}: candidate rows without a head are skipped; if no raw head was found
     * (no candidate table, or no raw rows in it), the top 5 of {@code top_heads_on_positive_examples}.
     */
    static CandidateFlags flags(Table candidates, JsonNode attentionSummary) {
        Set<Head> raw = new LinkedHashSet<>(), random = new LinkedHashSet<>();
        String source = "none";
        if (candidates != null) {
            source = LayerPatchingStage.CANDIDATES;
            for (Table.Row r : candidates.rows()) {
                if (r.getLong("head") == null) continue;
                Head h = ReferenceVerdicts.head(r);
                if ("top_raw_positive_attention".equals(r.getString("source"))) raw.add(h);
                else if ("random_comparison".equals(r.getString("source"))) random.add(h);
            }
        }
        if (raw.isEmpty() && attentionSummary != null) {
            JsonNode top = attentionSummary.path("top_heads_on_positive_examples");
            for (int i = 0; i < Math.min(5, top.size()); i++)
                raw.add(new Head(top.get(i).path("layer").asInt(), top.get(i).path("head").asInt()));
            source = candidates == null ? "attention_summary.json" : source + "+attention_summary.json";
        }
        return new CandidateFlags(List.copyOf(raw), List.copyOf(random), source);
    }

    static List<SeedRow> seedRows(int seed, Table byHead, CandidateFlags flags) {
        List<SeedRow> out = new ArrayList<>();
        for (Table.Row r : byHead.rows()) {
            Head h = ReferenceVerdicts.head(r);
            out.add(new SeedRow(seed, h, Boolean.TRUE.equals(r.getBool("head_specific_patch")),
                    finite(r.getDouble("positive_mean_effect_size")), finite(r.getDouble("max_control_mean_effect_size")),
                    finite(r.getDouble("positive_minus_control_effect_gap")), r.getString("specificity_status"),
                    flags.rawAttention().contains(h), flags.randomComparison().contains(h)));
        }
        return out;
    }

    private static Double finite(Double d) {
        return d == null || d.isNaN() ? null : d;
    }

    /**
     * {@code summarize_multiseed_heads}: heads in (layer, head) order, then sorted by mean gap descending
     * with missing gaps last. Ties keep (layer, head) order (the reference's unstable sort leaves them
     * unspecified).
     */
    /** A row of head_specific_replication: one head's sweep results over the control seeds. */
    record ReplicationRow(int layer, int head, int nSeeds, List<Integer> seedsPresent, Double meanPositiveEffect,
                          Double meanMaxControlEffect, Double meanPositiveMinusControlGap, Double minPositiveMinusControlGap,
                          long nPositiveSpecificSeeds, long nNonspecificSeeds, long nNoEffectSeeds, String replicationStatus,
                          boolean rawAttentionCandidateInAnySeed, boolean randomComparisonCandidateInAnySeed) {}

    private static final RecordSchema<ReplicationRow> REPLICATION = RecordSchema.of(ReplicationRow.class);

    private static boolean replicated(Table.Row r) {
        return REPLICATION.read(r).replicationStatus().equals(REPLICATED);
    }

    static TableBuilder consolidate(List<SeedRow> rows) {
        Map<Head, List<SeedRow>> groups = new TreeMap<>();
        rows.forEach(r -> groups.computeIfAbsent(r.head(), k -> new ArrayList<>()).add(r));
        record Out(Head head, List<SeedRow> g, Double meanGap) {}
        List<Out> out = new ArrayList<>();
        groups.forEach((h, g) -> out.add(new Out(h, g, Stats.orNull(Stats.mean(g.stream().map(SeedRow::gap).toList())))));
        out.sort(Decisions.descending(Out::meanGap));
        List<ReplicationRow> table = new ArrayList<>();
        for (Out o : out) {
            List<SeedRow> g = o.g();
            List<Integer> seeds = g.stream().map(SeedRow::seed).distinct().sorted().toList();
            table.add(new ReplicationRow(o.head().layer(), o.head().head(), seeds.size(), seeds,
                    Stats.orNull(Stats.mean(g.stream().map(SeedRow::positiveMean).toList())),
                    Stats.orNull(Stats.mean(g.stream().map(SeedRow::maxControlMean).toList())), o.meanGap(),
                    minRelevantGap(g), count(g, "head_specific_positive_candidate"), count(g, "nonspecific_moves_controls"),
                    count(g, "no_positive_effect"), replicationStatus(g),
                    g.stream().anyMatch(SeedRow::rawAttention), g.stream().anyMatch(SeedRow::randomComparison)));
        }
        return RecordSchema.of(ReplicationRow.class).builder(TABLE, table, "layer", "head");
    }

    private static long count(List<SeedRow> g, String status) {
        return g.stream().filter(r -> status.equals(r.status())).count();
    }

    /** Min gap over the seeds with head_specific_positive_candidate status, else over all seeds. */
    static Double minRelevantGap(List<SeedRow> g) {
        List<SeedRow> positive = g.stream().filter(r -> "head_specific_positive_candidate".equals(r.status())).toList();
        return minGap(positive.isEmpty() ? g : positive);
    }

    private static Double minGap(List<SeedRow> rows) {
        return rows.stream().map(SeedRow::gap).filter(Objects::nonNull).min(Double::compare).orElse(null);
    }

    /**
     * {@code classify_replication_status}, in order: any seed not head-specific; fewer than 2 seeds; >= 2
     * positive seeds whose min gap is > 0 and no nonspecific seed; any nonspecific seed; no-effect seeds >=
     * max(1, (n+1)/2); else not replicated. Counts are rows (one per head and seed in a sweep).
     */
    public static String replicationStatus(List<SeedRow> g) {
        if (!g.stream().allMatch(SeedRow::headSpecific)) return "not_head_specific";
        long nSeeds = g.stream().map(SeedRow::seed).distinct().count();
        if (nSeeds < 2) return "insufficient_seeds";
        List<SeedRow> positive = g.stream().filter(r -> "head_specific_positive_candidate".equals(r.status())).toList();
        long nonspecific = count(g, "nonspecific_moves_controls");
        long noEffect = count(g, "no_positive_effect");
        Double minPositiveGap = minGap(positive);
        // pandas min of an all-NaN column is NaN, and NaN > 0 is false
        if (positive.size() >= 2 && minPositiveGap != null && Decisions.positive(minPositiveGap) && nonspecific == 0)
            return REPLICATED;
        if (nonspecific >= 1) return "nonspecific";
        if (noEffect >= Math.max(1, (nSeeds + 1) / 2)) return "no_effect";
        return "not_replicated";
    }

    /** head_specific_induction_multiseed_summary.json, in the reference's key order (head lists are table rows). */
    record Summary(int nRuns, List<Integer> seeds, int nHeads, List<Map<String, Object>> replicatedCandidates,
                   int nReplicatedCandidates, Map<String, Long> statusCounts, List<Map<String, Object>> topHeadsByMeanGap,
                   List<Map<String, Object>> rawAttentionCandidateOutcomes,
                   List<Map<String, Object>> randomComparisonHeadOutcomes, String executiveSummary, String limitation,
                   List<SeedRun> runs) {}

    /** One sweep seed the consolidation read: its table and the heads flagged as raw-attention or random picks. */
    record SeedRun(int seed, String byHead, int nHeads, List<String> rawAttentionHeads, List<String> randomComparisonHeads,
                   String flagSource) {}

    static Map<String, Object> summary(Table t, List<Integer> seeds, List<SeedRun> runs) {
        Table replicated = t.filter(SweepConsolidationStage::replicated);
        return RecordSchema.treeMap(new Summary(seeds.size(), seeds, t.rowCount(), rowMaps(replicated, Integer.MAX_VALUE),
                replicated.rowCount(), LayerPatchingStage.valueCounts(REPLICATION.read(t).stream().map(ReplicationRow::replicationStatus).toList()),
                rowMaps(t, 10), // the table is already sorted by mean gap
                rowMaps(t.filter(r -> REPLICATION.read(r).rawAttentionCandidateInAnySeed()), Integer.MAX_VALUE),
                rowMaps(t.filter(r -> REPLICATION.read(r).randomComparisonCandidateInAnySeed()), Integer.MAX_VALUE),
                replicated.rowCount() > 0
                        ? "This experiment identified at least one narrow replicated head-specific causal candidate under this "
                        + "prompt set and metric. It is still not a full induction-head discovery; it requires manual inspection, "
                        + "broader prompts, and benchmark comparison."
                        : "This experiment did not identify a replicated head-specific induction candidate. The prior raw-attention "
                        + "and layer-level patching results should be treated as false-positive-prone practice artifacts.",
                "The result is limited to this model, these synthetic prompt families, selected layers, "
                        + "final-position hook_z patching, and the true-vs-control logit-diff metric.", runs));
    }

    private static List<Map<String, Object>> rowMaps(Table t, int limit) {
        return t.rows().stream().limit(limit).map(Table.Row::toMap).toList();
    }

    private static List<String> sortedLabels(List<Head> heads) {
        return heads.stream().map(Head::label).sorted().toList();
    }

    private static List<String> labels(Table t) {
        return REPLICATION.read(t).stream().map(r -> "L" + r.layer() + "H" + r.head()).toList();
    }

    private static String markdown(Table t, Map<String, Object> s) {
        StringBuilder sb = new StringBuilder("# Head-specific multi-seed consolidation\n\n")
                .append(s.get("executive_summary")).append("\n\n")
                .append("- Seeds: ").append(s.get("seeds")).append("\n- Heads compared: ").append(s.get("n_heads"))
                .append("\n- Status counts: ").append(s.get("status_counts"))
                .append("\n- Replicated candidates: ").append(labels(t.filter(SweepConsolidationStage::replicated)))
                .append("\n\n| head | seeds | mean gap | min gap | positive / nonspecific / no-effect seeds | status | flags |\n")
                .append("|---|---|---|---|---|---|---|\n");
        for (ReplicationRow r : REPLICATION.read(t)) {
            String flags = (r.rawAttentionCandidateInAnySeed() ? "raw-attention " : "")
                    + (r.randomComparisonCandidateInAnySeed() ? "random-comparison" : "");
            sb.append(String.format(Locale.ROOT, "| L%dH%d | %s | %s | %s | %d / %d / %d | %s | %s |%n", r.layer(),
                    r.head(), PandasRules.joined(r.seedsPresent()), fmt(r.meanPositiveMinusControlGap()),
                    fmt(r.minPositiveMinusControlGap()), r.nPositiveSpecificSeeds(),
                    r.nNonspecificSeeds(), r.nNoEffectSeeds(), r.replicationStatus(), flags.trim()));
        }
        return sb.append("\nThis is practice evidence, not a mechanism or circuit claim.\n").toString();
    }

    static String fmt(Double d) {
        return d == null ? "" : PyFormat.fixed(d, 4);
    }
}
