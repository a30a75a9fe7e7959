package org.milab.protocol.reference;

import org.milab.graph.Head;
import org.milab.stage.HeadVerdict.Outcome;
import org.milab.stage.HeadVerdict.Score;
import org.milab.tables.Table;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;

import static org.milab.stage.RunFolder.bool;
import static org.milab.stage.RunFolder.dbl;
import static org.milab.stage.RunFolder.lng;
import static org.milab.stage.RunFolder.str;
import org.milab.stage.RunFolder;
import org.milab.stage.HeadVerdict;
import org.milab.stage.ProtocolVerdict;
import org.milab.stats.Num;

/**
 * The reference protocol's answer, read from its tables: each head is decided by the last stage that
 * tested it (S16 characterization, else S14 held-out, else S12 sweep), and every stage a head got through
 * is recorded (raw-attention selection, S12 replication, S13 registration, S14 and S16 survival). The
 * reference tests every head for one role: induction.
 */
public final class ReferenceVerdicts {
    // from the catalog of stage tables, so a renamed table cannot leave the verdict reading a stale path
    public static final String SWEEP = ReferenceTables.SWEEP.path();
    public static final String CANDIDATES = ReferenceTables.CANDIDATES.path();
    public static final String HELDOUT = ReferenceTables.HELDOUT.path();
    public static final String CHARACTERIZATION = ReferenceTables.CHARACTERIZATION.path();
    static final String ROLE = "induction";

    private ReferenceVerdicts() {}

    public static Optional<ProtocolVerdict> read(RunFolder run) {
        Optional<Table> sweep = run.table(SWEEP);
        Optional<Table> cands = run.table(CANDIDATES), held = run.table(HELDOUT), chr = run.table(CHARACTERIZATION);
        // run-calibration has no head verdicts; run-characterization on GPT-2 starts from the registered set, without a sweep
        if (sweep.isEmpty() && cands.isEmpty()) return Optional.empty();
        Map<Head, HeadVerdict> verdicts = new TreeMap<>();
        List<ProtocolVerdict.Pass> passes = new ArrayList<>();
        Map<Head, String> groups = new LinkedHashMap<>();
        cands.ifPresent(t -> t.rows().forEach(r -> groups.put(head(r), str(r, "candidate_group"))));

        for (Table.Row r : sweep.map(Table::rows).orElse(List.of())) {
            Head h = head(r);
            String status = str(r, "replication_status");
            boolean replicated = status != null && status.startsWith("replicated");
            if (bool(r, "raw_attention_candidate_in_any_seed"))
                passes.add(new ProtocolVerdict.Pass(h, "S6/S8", "selected for its raw previous-occurrence attention"));
            if (replicated) passes.add(new ProtocolVerdict.Pass(h, "S12", "replicated in the head sweep (`" + status + "`)"));
            // decided at S12 unless a later stage tested the head; a run that stopped after S12 keeps its replicated heads
            Outcome o = replicated ? (cands.isPresent() ? Outcome.REJECTED : Outcome.KEPT) : Outcome.REJECTED;
            String reason = "positives " + Num.sig(dbl(r, "mean_positive_effect")) + ", hardest control "
                    + Num.sig(dbl(r, "mean_max_control_effect")) + " (mean normalized effects over seeds)";
            if (replicated && cands.isPresent()) reason += "; replicated but not registered for held-out testing";
            verdicts.put(h, new HeadVerdict(h, ROLE, o, "S12", status, reason, RunFolder.link(SWEEP),
                    List.of(new Score("S12 positive effect", dbl(r, "mean_positive_effect"), null, null),
                            new Score("S12 hardest control effect", dbl(r, "mean_max_control_effect"), null, null))));
        }
        groups.forEach((h, g) -> {
            if (g != null && g.contains("replicated")) // comparison and control groups are registered, not selected
                passes.add(new ProtocolVerdict.Pass(h, "S13", "registered for held-out testing (`" + g + "`)"));
        });
        held.ifPresent(t -> t.rows().forEach(r -> {
            Head h = head(r);
            String status = str(r, "heldout_replication_status");
            Outcome o = outcome(status, "heldout_replicated", "heldout_downgraded", "heldout_falsified");
            if (o == Outcome.KEPT || o == Outcome.PARTLY) passes.add(new ProtocolVerdict.Pass(h, "S14", "`" + status + "`"));
            String reason = group(groups, h) + "survived " + lng(r, "n_survived_seeds") + " of " + lng(r, "n_seeds")
                    + " held-out seeds; positive minus control gap " + Num.sig(dbl(r, "mean_positive_minus_control_gap"))
                    + " (mean), " + Num.sig(dbl(r, "min_positive_minus_control_gap")) + " (worst slice)";
            verdicts.put(h, new HeadVerdict(h, ROLE, o, "S14", status, reason, RunFolder.link(HELDOUT),
                    List.of(new Score("S14 mean gap", dbl(r, "mean_positive_minus_control_gap"), null, null))));
        }));
        chr.ifPresent(t -> t.rows().forEach(r -> {
            Head h = head(r);
            String status = str(r, "final_characterization_status");
            Outcome o = outcome(status, "strengthened_local_candidate", "downgraded_candidate", "falsified_candidate");
            if (o == Outcome.KEPT || o == Outcome.PARTLY) passes.add(new ProtocolVerdict.Pass(h, "S16", "`" + status + "`"));
            String reason = group(groups, h) + lng(r, "n_support_seeds") + " support / " + lng(r, "n_downgrade_seeds")
                    + " downgrade / " + lng(r, "n_falsify_seeds") + " falsify seeds; gap " + Num.sig(dbl(r, "mean_positive_minus_control_gap"))
                    + ", attention-effect corr " + Num.sig(dbl(r, "mean_attention_effect_corr"));
            verdicts.put(h, new HeadVerdict(h, ROLE, o, "S16", status, reason, RunFolder.link(CHARACTERIZATION),
                    List.of(new Score("S16 mean gap", dbl(r, "mean_positive_minus_control_gap"), null, null))));
        }));
        List<HeadVerdict> all = List.copyOf(verdicts.values());
        return Optional.of(new ProtocolVerdict("reference", "reference protocol (S3-S19)", ROLE, all, List.copyOf(passes),
                headline(all, sweep, groups, chr.isPresent() ? CHARACTERIZATION : held.isPresent() ? HELDOUT : cands.isPresent() ? CANDIDATES : SWEEP)));
    }

    private static String headline(List<HeadVerdict> all, Optional<Table> sweep, Map<Head, String> groups, String decisive) {
        long kept = all.stream().filter(v -> v.outcome() == Outcome.KEPT).count();
        long partly = all.stream().filter(v -> v.outcome() == Outcome.PARTLY).count();
        long rejected = all.stream().filter(v -> v.outcome() == Outcome.REJECTED).count();
        long inconclusive = all.stream().filter(v -> v.outcome() == Outcome.INCONCLUSIVE).count();
        long replicated = sweep.map(t -> t.rows().stream().filter(r -> String.valueOf(str(r, "replication_status")).startsWith("replicated")).count()).orElse(0L);
        Map<String, Map<String, Long>> byStage = new TreeMap<>(java.util.Comparator.reverseOrder());
        for (HeadVerdict h : all) byStage.computeIfAbsent(h.stage(), k -> new TreeMap<>()).merge(h.status(), 1L, Long::sum);
        List<String> statuses = new ArrayList<>();
        byStage.forEach((stage, counts) -> statuses.add(stage + " " + String.join(", ",
                counts.entrySet().stream().map(e -> "`" + e.getKey() + "` " + e.getValue()).toList())));
        return kept + " kept, " + partly + " survived partly, " + rejected + " rejected"
                + (inconclusive > 0 ? ", " + inconclusive + " inconclusive" : "") + " of " + all.size() + (sweep.isPresent() ? " swept" : " registered")
                + " heads (" + String.join("; ", statuses) + ")"
                + (sweep.isPresent() ? "; " + replicated + " replicated at S12 ([S12](" + RunFolder.link(SWEEP) + "))" : "; no S12 sweep in this run")
                + (groups.isEmpty() ? "" : ", " + groups.size() + " registered at S13 ([S13](" + RunFolder.link(CANDIDATES) + "))")
                + "; final statuses in [" + decisive.substring(0, decisive.indexOf('/')) + "](" + RunFolder.link(decisive) + ")";
    }

    private static String group(Map<Head, String> groups, Head h) {
        String g = groups.get(h);
        return g == null ? "" : "`" + g + "`: ";
    }

    private static Outcome outcome(String status, String kept, String partly, String rejected) {
        if (kept.equals(status)) return Outcome.KEPT;
        if (partly.equals(status)) return Outcome.PARTLY;
        if (rejected.equals(status)) return Outcome.REJECTED;
        return Outcome.INCONCLUSIVE;
    }

    public static Head head(Table.Row r) {
        return new Head(lng(r, "layer").intValue(), lng(r, "head").intValue());
    }
}
