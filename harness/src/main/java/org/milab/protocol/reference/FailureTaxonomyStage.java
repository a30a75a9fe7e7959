package org.milab.protocol.reference;

import org.milab.stats.Decisions;

import org.milab.stage.StageContext;
import org.milab.stats.Stats;

import org.milab.tables.ArrowTables;
import org.milab.tables.RecordSchema;
import org.milab.tables.Table;
import org.milab.tables.TableBuilder;
import org.milab.util.UserError;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.function.Function;
import java.util.stream.Stream;

/**
 * S18 failure taxonomy ({@code failure_taxonomy.py}): labels every S17 characterization counterexample row
 * with the failure modes it shows, then counts them per head together with three head-level labels. The
 * reference parsed its head-level inputs from the characterization Markdown; here they come from the S16
 * tables: the consolidated {@code candidate_characterization_multiseed_by_candidate} (mean gap and mean
 * attention/effect correlation rounded to 4 decimals, as the Markdown cells carried them) and the per-seed
 * {@code candidate_characterization_by_candidate} (a negative control with a supporting seed is exactly a
 * Markdown line holding both "negative_control" and "characterization_supports"). The primary heads are
 * those S17 wrote counterexample tables for (L7H7, L9H11, L7H11, L7H0, L0H8 on GPT-2, the reference's list).
 * Writes {@code failure_taxonomy/failure_taxonomy_by_row}, {@code _by_head}, {@code failure_taxonomy_summary.json}
 * and {@code failure_taxonomy.md}.
 */
public final class FailureTaxonomyStage {
    public static final String DIR = "failure_taxonomy";
    public static final String BY_ROW = "failure_taxonomy_by_row";
    public static final String BY_HEAD = "failure_taxonomy_by_head";
    public static final String SUMMARY_JSON = "failure_taxonomy_summary.json";
    public static final String COUNTEREXAMPLE_DIR = "characterization_counterexamples";
    public static final String COUNTEREXAMPLE_PREFIX = "counterexamples_";
    public static final String MULTISEED_DIR = "characterization_multiseed";
    public static final String MULTISEED_TABLE = CharacterizationConsolidationStage.BY_CANDIDATE;
    public static final String SEED_DIR = "characterization";
    public static final String SEED_TABLE = "candidate_characterization_by_candidate";
    public static final String FINAL_STATUS = "failure_taxonomy_complete_no_candidate_search_justified";

    public static final String CONTROL_MOVED = "control_moved", TARGET_SWAP_LEAK = "target_swap_leak",
            REVERSED_CONTROL_LEAK = "reversed_control_leak", DOMAIN_FLIP = "domain_flip", LENGTH_FLIP = "length_flip",
            INTERVENTION_DISAGREEMENT = "intervention_disagreement", POSITION_MISMATCH = "position_mismatch",
            ATTENTION_EFFECT_DECOUPLED = "attention_effect_decoupled", OV_QK_LOCAL_ONLY = "ov_qk_local_only",
            NEGATIVE_CONTROL_SUPPORT = "negative_control_support";
    /** {@code FAILURE_MODES}: the count columns and the order of dominant_failure_modes. */
    public static final List<String> MODES = List.of(CONTROL_MOVED, TARGET_SWAP_LEAK, REVERSED_CONTROL_LEAK, DOMAIN_FLIP,
            LENGTH_FLIP, INTERVENTION_DISAGREEMENT, POSITION_MISMATCH, ATTENTION_EFFECT_DECOUPLED, OV_QK_LOCAL_ONLY,
            NEGATIVE_CONTROL_SUPPORT);
    static final double DECOUPLED_MAX_CORR = 0.05;
    static final String PRESENT_DOMAIN_OR_LENGTH = "Token-domain or length failure row was present.";
    static final String PRESENT_POSITION_OR_INTERVENTION = "Position/intervention mismatch row was present.";

    /** One S17 counterexample row, with the file it came from and its head label. */
    public record Counterexample(String headLabel, String candidateId, String candidateGroup, String sourceFile,
                                 String counterexampleType, Long seed, String family, String heldoutFamilyType,
                                 String tokenDomain, String sequenceLengthBucket, String intervention,
                                 String positionLabel, Double effectSize) {}

    /** One output row: a counterexample with one failure mode and its reason. */
    public record Label(Counterexample row, String failureMode, String reason) {
        /** Its row of failure_taxonomy_by_row. */
        LabelRow tableRow() {
            Counterexample r = row;
            org.milab.graph.Head h = org.milab.graph.Head.parse(r.headLabel());
            return new LabelRow(r.headLabel(), h.layer(), h.head(), r.candidateId(), r.candidateGroup(), r.sourceFile(),
                    r.counterexampleType(), r.seed(), r.family(), r.heldoutFamilyType(), r.tokenDomain(),
                    r.sequenceLengthBucket(), r.intervention(), r.positionLabel(), r.effectSize(), failureMode, reason);
        }
    }

    /** A row of failure_taxonomy_by_row: layer/head (and so head_id) beside the reference's head label. */
    record LabelRow(String headLabel, int layer, int head, String candidateId, String candidateGroup, String sourceFile,
                    String counterexampleType, Long seed, String family, String heldoutFamilyType, String tokenDomain,
                    String sequenceLengthBucket, String intervention, String positionLabel, Double effectSize,
                    String failureMode, String reason) {}

    /** Heads whose positive rows change effect sign across the values of each grouping. */
    public record SignFlips(Set<String> domain, Set<String> length, Set<String> intervention, Set<String> position) {}

    /** A head's consolidated characterization (what the reference parsed from one Markdown table row). */
    public record HeadSummary(String headLabel, String candidateId, String candidateGroup, String finalStatus,
                              Double meanGap, Double meanAttentionEffectCorr, String ovStatuses, String qkStatuses) {}

    /** One row of failure_taxonomy_by_head. */
    public record HeadRow(String headLabel, String candidateId, String candidateGroup, String finalStatus, Double meanGap,
                          Double meanAttentionEffectCorr, Map<String, Long> counts, String dominantFailureModes,
                          int nFailureModes, String interpretation) {
        /** The first five active modes in {@link #MODES} order: dominantFailureModes as a list. */
        List<String> dominantModes() {
            return MODES.stream().filter(m -> counts.getOrDefault(m, 0L) > 0).limit(5).toList();
        }
    }

    /** What a run produced. */
    public record Result(Table byRow, Table byHead, Map<String, Object> summary) {}

    /** Reads the S16/S17 tables of {@code characterizationSeeds} and writes the taxonomy. */
    public Result run(StageContext ctx, List<Integer> characterizationSeeds) {
        Path dir = ctx.dir(COUNTEREXAMPLE_DIR, null);
        List<Path> files = counterexampleFiles(dir);
        if (files.isEmpty())
            throw new UserError("No " + COUNTEREXAMPLE_PREFIX + "*.arrow tables found in " + ctx.runDir().relativize(dir) + ".",
                    "Run the characterization counterexample stage (S17) of this run first.");
        List<Counterexample> rows = new ArrayList<>();
        Set<String> primary = new LinkedHashSet<>();
        for (Path f : files) {
            String source = ctx.runDir().relativize(f).toString();
            primary.add(f.getFileName().toString().substring(COUNTEREXAMPLE_PREFIX.length(),
                    f.getFileName().toString().length() - ArrowTables.EXTENSION.length()));
            rows.addAll(counterexamples(ArrowTables.read(f), source));
        }
        Map<String, HeadSummary> summaries = headSummaries(ctx.read(MULTISEED_DIR, null, MULTISEED_TABLE));
        List<Table> perSeed = characterizationSeeds.stream().map(s -> ctx.read(SEED_DIR, s, SEED_TABLE)).toList();
        boolean negativeSupport = negativeControlSupport(perSeed);

        List<Label> labels = classifyAll(rows);
        List<HeadRow> heads = byHead(labels, summaries, primary, negativeSupport);
        Table byRow = ctx.write(DIR, null, rowTable(labels));
        Table byHead = ctx.write(DIR, null, headTable(heads));
        Map<String, Object> summary = summary(labels, heads, ctx.runDir().relativize(dir).toString(), characterizationSeeds,
                negativeSupport);
        ctx.writeJson(DIR, null, SUMMARY_JSON, summary);
        ctx.writeText(DIR, null, "failure_taxonomy.md", markdown(summary, heads, labels, primary));
        ctx.summarize(String.format(Locale.ROOT, "- S18 failure taxonomy: %d row labels over %d heads; %s",
                labels.size(), heads.size(), FINAL_STATUS));
        return new Result(byRow, byHead, summary);
    }

    private static List<Path> counterexampleFiles(Path dir) {
        if (!Files.isDirectory(dir)) return List.of();
        try (Stream<Path> s = Files.list(dir)) {
            return s.filter(f -> f.getFileName().toString().startsWith(COUNTEREXAMPLE_PREFIX)
                    && f.getFileName().toString().endsWith(ArrowTables.EXTENSION)).sorted().toList();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** The rows of one S17 table (spec S17 columns). */
    static List<Counterexample> counterexamples(Table t, String sourceFile) {
        List<Counterexample> out = new ArrayList<>();
        for (Table.Row r : t.rows())
            out.add(new Counterexample(label(r.get("layer"), r.get("head")), r.getString("candidate_id"),
                    r.getString("candidate_group"), sourceFile, r.getString("counterexample_type"), asLong(r.get("seed")),
                    r.getString("family"), r.getString("heldout_family_type"), r.getString("token_domain"),
                    r.getString("sequence_length_bucket"), r.getString("intervention"), r.getString("position_label"),
                    r.getDouble("effect_size")));
        return out;
    }

    private static String label(Object layer, Object head) {
        return "L" + ((Number) layer).longValue() + "H" + ((Number) head).longValue();
    }

    private static Long asLong(Object v) {
        return v == null ? null : ((Number) v).longValue();
    }

    /** {@code _sign_contexts}: from the positive rows with an effect, over all files (repeated rows count again). */
    public static SignFlips signFlips(List<Counterexample> rows) {
        List<Counterexample> pos = rows.stream()
                .filter(r -> "positive".equals(r.heldoutFamilyType()) && r.effectSize() != null && !r.effectSize().isNaN()).toList();
        return new SignFlips(flippers(pos, Counterexample::tokenDomain), flippers(pos, Counterexample::sequenceLengthBucket),
                flippers(pos, Counterexample::intervention), flippers(pos, Counterexample::positionLabel));
    }

    /** {@code _heads_with_sign_flip}: a head whose per-value mean effect is > 0 for one value and < 0 for another (a missing value is a value). */
    static Set<String> flippers(List<Counterexample> positives, Function<Counterexample, String> column) {
        Map<String, Map<String, List<Double>>> byHead = new TreeMap<>();
        for (Counterexample r : positives)
            byHead.computeIfAbsent(r.headLabel(), k -> new HashMap<>())
                    .computeIfAbsent(column.apply(r), k -> new ArrayList<>()).add(r.effectSize());
        Set<String> out = new TreeSet<>();
        byHead.forEach((head, groups) -> {
            boolean above = false, below = false;
            for (List<Double> g : groups.values()) {
                double m = Stats.mean(g);
                above |= Decisions.positive(m);
                below |= Decisions.negative(m);
            }
            if (above && below) out.add(head);
        });
        return out;
    }

    /** {@code classify_single_counterexample}: the modes of one row (in the reference's order) with their reasons. */
    public static Map<String, String> classify(Counterexample r, SignFlips flips) {
        Map<String, String> modes = new LinkedHashMap<>();
        String type = Objects.toString(r.counterexampleType(), ""), family = Objects.toString(r.family(), "");
        Double e = r.effectSize();
        boolean moved = e != null && Decisions.positive(e);
        if (type.equals("control_moved") || ("control".equals(r.heldoutFamilyType()) && moved))
            modes.put(CONTROL_MOVED, "A control row had positive intervention effect.");
        // no sign test here: the reference labels every wrong-target or target-swap row
        if (type.equals("wrong_target_control_moved") || family.contains("target_swap") || family.contains("wrong_target"))
            modes.put(TARGET_SWAP_LEAK, "A wrong-target or target-swap control moved.");
        if (family.contains("reversed_control") && moved)
            modes.put(REVERSED_CONTROL_LEAK, "A reversed-order control moved.");
        if (type.equals("token_domain_or_length_failure"))
            pair(modes, r.headLabel(), flips.domain(), DOMAIN_FLIP, "Effect direction disagreed across token domains.",
                    flips.length(), LENGTH_FLIP, "Effect direction disagreed across sequence lengths.", PRESENT_DOMAIN_OR_LENGTH);
        if (type.equals("position_intervention_mismatch"))
            pair(modes, r.headLabel(), flips.intervention(), INTERVENTION_DISAGREEMENT,
                    "Effect direction disagreed across interventions.", flips.position(), POSITION_MISMATCH,
                    "Effect direction disagreed across positions.", PRESENT_POSITION_OR_INTERVENTION);
        return modes;
    }

    /** A paired label: each mode whose flip set has the head; both (with the "present" reason) when neither does. */
    private static void pair(Map<String, String> modes, String head, Set<String> firstSet, String first, String firstReason,
                             Set<String> secondSet, String second, String secondReason, String present) {
        if (firstSet.contains(head)) modes.put(first, firstReason);
        if (secondSet.contains(head)) modes.put(second, secondReason);
        if (!modes.containsKey(first) && !modes.containsKey(second)) {
            modes.put(first, present);
            modes.put(second, present);
        }
    }

    /** {@code classify_counterexample_rows}: one label per (row, mode), exact duplicates over all output columns dropped. */
    public static List<Label> classifyAll(List<Counterexample> rows) {
        SignFlips flips = signFlips(rows);
        Set<LabelRow> seen = new LinkedHashSet<>();
        List<Label> out = new ArrayList<>();
        for (Counterexample r : rows)
            classify(r, flips).forEach((mode, reason) -> {
                Label l = new Label(r, mode, reason);
                if (seen.add(l.tableRow())) out.add(l);
            });
        return out;
    }

    /**
     * The head-level inputs from the consolidated characterization table; gap and correlation rounded to 4
     * decimals as the reference's Markdown cells carried them (so the 0.05 cut sees the same numbers).
     * The first row of a head wins, like the reference's {@code setdefault}.
     */
    static Map<String, HeadSummary> headSummaries(Table multiseed) {
        Map<String, HeadSummary> out = new LinkedHashMap<>();
        for (Table.Row r : multiseed.rows()) {
            String head = label(r.get("layer"), r.get("head"));
            out.putIfAbsent(head, new HeadSummary(head, r.getString("candidate_id"), r.getString("candidate_group"),
                    Objects.toString(r.getString("final_characterization_status"), ""),
                    round4(r.getDouble("mean_positive_minus_control_gap")), round4(r.getDouble("mean_attention_effect_corr")),
                    Objects.toString(PandasRules.joined(r.getStrings("ov_statuses")), ""),
                    Objects.toString(PandasRules.joined(r.getStrings("qk_statuses")), "")));
        }
        return out;
    }

    /** {@code float(f"{x:.4f}")}; missing stays missing. */
    static Double round4(Double v) {
        return v == null || v.isNaN() ? null : Double.valueOf(PyFormat.fixed(v, 4));
    }

    /** Any negative-control candidate with a supporting characterization seed. */
    static boolean negativeControlSupport(List<Table> perSeed) {
        for (Table t : perSeed)
            for (Table.Row r : t.rows())
                if (Objects.toString(r.getString("candidate_group"), "").contains("negative_control")
                        && "characterization_supports".equals(r.getString("characterization_seed_status")))
                    return true;
        return false;
    }

    /** {@code _is_attention_effect_decoupled}. */
    public static boolean attentionEffectDecoupled(HeadSummary s) {
        return s.meanAttentionEffectCorr() == null || s.meanAttentionEffectCorr() <= DECOUPLED_MAX_CORR;
    }

    /** {@code _has_local_ov_qk_without_specificity}. */
    public static boolean ovQkLocalOnly(HeadSummary s) {
        return "falsified_candidate".equals(s.finalStatus())
                && (s.ovStatuses().contains("supports") || s.qkStatuses().contains("supports"));
    }

    /** {@code summarize_failure_taxonomy_by_head}: heads of rows and summaries, in string order. */
    public static List<HeadRow> byHead(List<Label> labels, Map<String, HeadSummary> summaries, Set<String> primaryHeads,
                                       boolean negativeControlSupport) {
        Set<String> heads = new TreeSet<>(summaries.keySet());
        labels.forEach(l -> heads.add(l.row().headLabel()));
        List<HeadRow> out = new ArrayList<>();
        for (String head : heads) {
            List<Label> mine = labels.stream().filter(l -> l.row().headLabel().equals(head)).toList();
            Map<String, Long> counts = new LinkedHashMap<>();
            for (String m : MODES) counts.put(m, mine.stream().filter(l -> l.failureMode().equals(m)).count());
            HeadSummary s = summaries.get(head);
            if (s != null) {
                if (attentionEffectDecoupled(s)) counts.merge(ATTENTION_EFFECT_DECOUPLED, 1L, Long::sum);
                if (ovQkLocalOnly(s)) counts.merge(OV_QK_LOCAL_ONLY, 1L, Long::sum);
            }
            if (negativeControlSupport && primaryHeads.contains(head)) counts.merge(NEGATIVE_CONTROL_SUPPORT, 1L, Long::sum);
            List<String> active = MODES.stream().filter(m -> counts.get(m) > 0).toList();
            out.add(new HeadRow(head,
                    s == null ? firstNonEmpty(mine, c -> c.candidateId()) : s.candidateId(),
                    s == null ? firstNonEmpty(mine, c -> c.candidateGroup()) : s.candidateGroup(),
                    s == null ? "" : s.finalStatus(), s == null ? null : s.meanGap(),
                    s == null ? null : s.meanAttentionEffectCorr(), counts,
                    String.join(",", active.subList(0, Math.min(5, active.size()))), active.size(),
                    interpret(head, active, s)));
        }
        return out;
    }

    private static String firstNonEmpty(List<Label> labels, Function<Counterexample, String> f) {
        return labels.stream().map(l -> f.apply(l.row())).filter(v -> v != null && !v.isEmpty()).findFirst().orElse("");
    }

    /** {@code interpret_head_failure}. */
    public static String interpret(String head, List<String> active, HeadSummary s) {
        if (active.isEmpty()) return "No taxonomy rows were available for this head.";
        List<String> parts = new ArrayList<>();
        if (active.contains(CONTROL_MOVED)) parts.add("controls moved under the same intervention logic");
        if (active.contains(TARGET_SWAP_LEAK)) parts.add("wrong-target or target-swap controls leaked");
        if (active.contains(REVERSED_CONTROL_LEAK)) parts.add("reversed-order controls moved");
        if (active.contains(DOMAIN_FLIP) || active.contains(LENGTH_FLIP))
            parts.add("token domain or sequence length changed the effect direction");
        if (active.contains(INTERVENTION_DISAGREEMENT) || active.contains(POSITION_MISMATCH))
            parts.add("intervention or position variants disagreed");
        if (active.contains(ATTENTION_EFFECT_DECOUPLED)) parts.add("attention/effect alignment was weak");
        if (active.contains(OV_QK_LOCAL_ONLY)) parts.add("OV/QK local diagnostics did not combine with causal specificity");
        if (active.contains(NEGATIVE_CONTROL_SUPPORT))
            parts.add("negative-control support made the slice-level rule too permissive");
        String status = s == null ? "" : " Its consolidated status was `" + s.finalStatus() + "`.";
        return head + " failed because " + String.join("; ", parts) + "." + status;
    }

    static TableBuilder rowTable(List<Label> labels) {
        // rows are unique over all columns; the reason follows from (head, mode), so the rest is the key
        return RecordSchema.of(LabelRow.class).builder(BY_ROW, labels.stream().map(Label::tableRow).toList(), "head_label",
                "source_file", "counterexample_type", "seed", "family", "heldout_family_type", "token_domain",
                "sequence_length_bucket", "intervention", "position_label", "effect_size", "failure_mode");
    }

    static TableBuilder headTable(List<HeadRow> heads) {
        RecordSchema<HeadTableRow> schema = RecordSchema.of(HeadTableRow.class);
        // the count columns are the reference's FAILURE_MODES, in order: a record that drifted from MODES fails here
        List<String> counts = schema.columns().subList(HeadTableRow.FIRST_COUNT, HeadTableRow.FIRST_COUNT + MODES.size());
        if (!counts.equals(MODES))
            throw new IllegalStateException("HeadTableRow's count columns " + counts + " are not the failure modes " + MODES);
        return schema.builder(BY_HEAD, heads.stream().map(HeadTableRow::of).toList(), "head_label");
    }

    /** A row of failure_taxonomy_by_head: one count per failure mode ({@link #MODES}, in order) between the head and its summary. */
    record HeadTableRow(String headLabel, int layer, int head, String candidateId, String candidateGroup, String finalStatus,
                        Double meanGap, Double meanAttentionEffectCorr, Long controlMoved, Long targetSwapLeak,
                        Long reversedControlLeak, Long domainFlip, Long lengthFlip, Long interventionDisagreement,
                        Long positionMismatch, Long attentionEffectDecoupled, Long ovQkLocalOnly, Long negativeControlSupport,
                        List<String> dominantFailureModes, long nFailureModes, String interpretation) {
        /** The index of the first count column (control_moved). */
        static final int FIRST_COUNT = 8;

        static HeadTableRow of(HeadRow h) {
            org.milab.graph.Head head = org.milab.graph.Head.parse(h.headLabel());
            Map<String, Long> c = h.counts();
            return new HeadTableRow(h.headLabel(), head.layer(), head.head(), h.candidateId(), h.candidateGroup(), h.finalStatus(),
                    h.meanGap(), h.meanAttentionEffectCorr(), c.get(CONTROL_MOVED), c.get(TARGET_SWAP_LEAK),
                    c.get(REVERSED_CONTROL_LEAK), c.get(DOMAIN_FLIP), c.get(LENGTH_FLIP), c.get(INTERVENTION_DISAGREEMENT),
                    c.get(POSITION_MISMATCH), c.get(ATTENTION_EFFECT_DECOUPLED), c.get(OV_QK_LOCAL_ONLY),
                    c.get(NEGATIVE_CONTROL_SUPPORT), h.dominantModes(), h.nFailureModes(), h.interpretation());
        }
    }

    /** failure_taxonomy_summary.json, in the reference's key order. */
    record Summary(Sources sourceArtifacts, int nRowFailureLabels, int nHeads, Map<String, Long> failureModeCounts,
                   Map<String, String> headModes, boolean negativeControlSupportFound, String finalStatus,
                   List<String> refusedClaims) {}

    /** The artefacts the taxonomy read. */
    record Sources(String counterexamplesDir, String characterizationMultiseed, List<Integer> characterizationSeeds) {}

    static Map<String, Object> summary(List<Label> labels, List<HeadRow> heads, String counterexampleDir,
                                       List<Integer> seeds, boolean negativeSupport) {
        Map<String, Long> modeCounts = new TreeMap<>(); // value_counts().sort_index()
        labels.forEach(l -> modeCounts.merge(l.failureMode(), 1L, Long::sum));
        Map<String, String> headModes = new LinkedHashMap<>();
        heads.stream().filter(h -> !h.dominantFailureModes().isEmpty())
                .forEach(h -> headModes.put(h.headLabel(), h.dominantFailureModes()));
        return RecordSchema.treeMap(new Summary(new Sources(counterexampleDir,
                MULTISEED_DIR + "/" + MULTISEED_TABLE + ArrowTables.EXTENSION, seeds), labels.size(), heads.size(), modeCounts,
                headModes, negativeSupport, FINAL_STATUS, List.of("No induction-head discovery.", "No circuit claim.",
                "No broad GPT-2 claim.", "No new candidate selection from this taxonomy.")));
    }

    private static String markdown(Map<String, Object> summary, List<HeadRow> heads, List<Label> labels, Set<String> primary) {
        StringBuilder sb = new StringBuilder("# Candidate characterization failure taxonomy\n\n");
        sb.append("Counterexamples: `").append(((Map<?, ?>) summary.get("source_artifacts")).get("counterexamples_dir"))
                .append("`\n\nThis taxonomy diagnoses why the candidates failed; it does not select new heads.\n\n")
                .append("## Failure mode counts\n\n");
        Map<?, ?> counts = (Map<?, ?>) summary.get("failure_mode_counts");
        if (counts.isEmpty()) sb.append("No rows.\n");
        else {
            sb.append("| failure_mode | n_rows |\n| --- | --- |\n");
            counts.forEach((k, v) -> sb.append("| ").append(k).append(" | ").append(v).append(" |\n"));
        }
        sb.append("\n## Primary heads\n\n| head_label | final_status | mean_gap | dominant_failure_modes |\n| --- | --- | --- | --- |\n");
        List<HeadRow> prim = heads.stream().filter(h -> primary.contains(h.headLabel())).toList();
        for (HeadRow h : prim)
            sb.append("| ").append(h.headLabel()).append(" | ").append(h.finalStatus()).append(" | ")
                    .append(h.meanGap() == null ? "" : PyFormat.repr(h.meanGap())).append(" | ")
                    .append(h.dominantFailureModes()).append(" |\n");
        sb.append("\n## By-head interpretation\n\n");
        for (HeadRow h : prim)
            sb.append("### ").append(h.headLabel()).append("\n\n- Final status: `").append(h.finalStatus())
                    .append("`\n- Dominant failure modes: `").append(h.dominantFailureModes()).append("`\n- Interpretation: ")
                    .append(h.interpretation()).append("\n\n");
        sb.append("## Concrete counterexample rows\n\n| head_label | failure_mode | family | intervention | position_label | effect_size |\n")
                .append("| --- | --- | --- | --- | --- | --- |\n");
        labels.stream().sorted(java.util.Comparator.comparing((Label l) -> l.row().headLabel()).thenComparing(Label::failureMode))
                .limit(20).forEach(l -> sb.append("| ").append(l.row().headLabel()).append(" | ").append(l.failureMode())
                        .append(" | ").append(l.row().family()).append(" | ").append(l.row().intervention()).append(" | ")
                        .append(l.row().positionLabel()).append(" | ")
                        .append(l.row().effectSize() == null ? "" : PyFormat.repr(l.row().effectSize())).append(" |\n"));
        sb.append("\nFinal status: `").append(FINAL_STATUS).append("`. This does not show an induction head, a circuit, or a ")
                .append("broad model property, and it does not justify adding new heads.\n");
        return sb.toString();
    }
}
