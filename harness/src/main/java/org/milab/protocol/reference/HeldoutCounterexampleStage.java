package org.milab.protocol.reference;

import org.milab.stats.Decisions;

import org.milab.stats.Stats;

import org.milab.graph.Head;
import org.milab.stats.DenominatorFloor;
import org.milab.stats.Num;
import org.milab.stage.StageContext;

import org.milab.tables.Column;
import org.milab.tables.Inline;
import org.milab.tables.RecordSchema;
import org.milab.tables.Table;
import org.milab.tables.TableBuilder;
import org.milab.util.UserError;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;

/**
 * S15 held-out counterexample inspection ({@code inspect_heldout_counterexamples.py}): for each registered
 * candidate head, every held-out result row of the seeds is put in one inspection bucket; the strongest 12
 * of four buckets are kept and written as {@code heldout_counterexamples/counterexamples_<L7H7>} (the result
 * columns + source_run + inspection_bucket) with a Markdown report saying where the result broke. The
 * reference inspected only L7H7, L9H11 and L7H11; this stage writes every candidate head.
 */
public final class HeldoutCounterexampleStage {
    public static final String DIR = "heldout_counterexamples";
    public static final String RESULTS_DIR = "heldout";
    public static final String RESULTS = "heldout_robustness_results";
    public static final int TOP_K = 12;

    public static final String INVALID = "invalid_or_unavailable";
    public static final String WRONG_TARGET = "wrong_target_failure";
    public static final String CONTROLS_MOVED = "controls_that_moved";
    public static final String SUCCESS = "strongest_positive_success";
    public static final String FAILURE = "strongest_positive_failure";
    public static final String OTHER = "other";
    static final String WRONG_TARGET_FAMILY = "heldout_wrong_target_same_prompt";
    /** The heads the reference wrote counterexample reports for. */
    static final Set<Head> REFERENCE_REPORTED = Set.of(new Head(7, 7), new Head(9, 11), new Head(7, 11));
    /** Rows equal on these columns are one counterexample (the reference's drop_duplicates subset). */
    static final List<String> DEDUPE = List.of("seed", "example_id", "family", "intervention", "position_label", "effect_size");

    /** A selected bucket and its order: strongest first (descending) or weakest first. */
    private record Pick(String bucket, boolean descending) {}

    private static final List<Pick> PICKS = List.of(new Pick(SUCCESS, true), new Pick(FAILURE, false),
            new Pick(CONTROLS_MOVED, true), new Pick(WRONG_TARGET, true));

    /** Held-out seeds from the run config; candidates from the registered (hash-checked) S13 set. */
    public void run(StageContext ctx) {
        run(ctx, ctx.config().heldoutSeeds());
    }

    public void run(StageContext ctx, List<Integer> seeds) {
        List<HeldoutCandidateStage.Candidate> candidates = HeldoutCandidateStage.load(ctx);
        List<Table> perSeed = new ArrayList<>();
        List<String> sources = new ArrayList<>();
        for (int seed : seeds) {
            perSeed.add(ctx.read(RESULTS_DIR, seed, RESULTS));
            sources.add(RESULTS_DIR + "/seed" + seed);
        }
        Table all = withBuckets(perSeed, sources);
        // every head is checked before anything is written, so a failure leaves no partial report set
        Map<HeldoutCandidateStage.Candidate, Table> subsets = new LinkedHashMap<>();
        for (HeldoutCandidateStage.Candidate c : candidates) {
            Head h = c.head();
            Table subset = all.filter(r -> row(r).result().layer() == h.layer() && row(r).result().head() == h.head());
            if (subset.rowCount() == 0)
                throw new UserError("No held-out result rows found for candidate " + h + " (" + c.candidateId() + ") in seeds "
                        + seeds + ".", "Run held-out robustness scoring (S14) with the registered candidate set first.");
            subsets.put(c, subset);
        }
        Map<String, Object> summary = new LinkedHashMap<>();
        subsets.forEach((c, subset) -> {
            Head h = c.head();
            Table selected = ctx.write(DIR, null, select(subset, "counterexamples_" + h.label()));
            ctx.writeText(DIR, null, "counterexamples_" + h.label() + ".md", markdown(c, subset, seeds));
            Map<String, Object> s = new LinkedHashMap<>();
            s.put("candidate_id", c.candidateId());
            s.put("candidate_group", c.group());
            s.put("n_rows", subset.rowCount());
            s.put("bucket_counts", LayerPatchingStage.valueCounts(subset.strings("inspection_bucket")));
            s.put("n_selected", selected.rowCount());
            s.put("reported_by_reference", REFERENCE_REPORTED.contains(h));
            summary.put(h.label(), s);
        });
        ctx.writeJson(DIR, null, "heldout_counterexamples_summary.json", summary);
        ctx.summarize("- S15 held-out counterexamples written for " + candidates.size() + " candidate heads.");
    }

    /**
     * {@code _bucket_row}, in order: no effect -> invalid_or_unavailable; the wrong-target family with effect
     * > 0 -> wrong_target_failure; a control with effect > 0 -> controls_that_moved; a positive with effect > 0
     * -> strongest_positive_success, <= 0 -> strongest_positive_failure; anything else -> other.
     */
    public static String bucket(Double effect, String family, String familyType) {
        if (effect == null || effect.isNaN()) return INVALID;
        if (WRONG_TARGET_FAMILY.equals(family) && Decisions.positive(effect)) return WRONG_TARGET;
        if ("control".equals(familyType) && Decisions.positive(effect)) return CONTROLS_MOVED;
        if ("positive".equals(familyType)) return Decisions.positive(effect) ? SUCCESS : FAILURE;
        return OTHER;
    }

    /**
     * The seeds' result rows concatenated in seed order, plus source_run and inspection_bucket: each row read into
     * S14's {@link HeldoutRobustnessStage.ResultRow} and written back widened ({@link Bucketed}), so the columns are
     * S14's record's, then the two this stage adds.
     */
    static Table withBuckets(List<Table> perSeed, List<String> sourceRuns) {
        RecordSchema<HeldoutRobustnessStage.ResultRow> results = RecordSchema.of(HeldoutRobustnessStage.ResultRow.class);
        TableBuilder b = BUCKETED.builder("heldout_results_with_buckets");
        for (int i = 0; i < perSeed.size(); i++)
            for (Table.Row r : perSeed.get(i).rows()) {
                HeldoutRobustnessStage.ResultRow x = results.read(r);
                BUCKETED.add(b, new Bucketed(x, sourceRuns.get(i), bucket(x.effectSize(), x.family(), x.heldoutFamilyType())));
            }
        return b.build();
    }

    /** A held-out result row (its own columns, in place) and the run it came from and its bucket. */
    record Bucketed(@Inline HeldoutRobustnessStage.ResultRow result, String sourceRun, String inspectionBucket) {}

    private static final RecordSchema<Bucketed> BUCKETED = RecordSchema.of(Bucketed.class);

    /** A row of {@link #withBuckets}' table (or a selection of it) as its record. */
    private static Bucketed row(Table.Row r) {
        return BUCKETED.read(r);
    }

    /**
     * The top {@link #TOP_K} of success (effect descending), failure (ascending), controls moved (descending)
     * and wrong target (descending), concatenated in that order, first occurrence kept per {@link #DEDUPE}.
     * Ties keep input order (seed order, then file order); the reference's unstable sort orders them
     * arbitrarily.
     */
    static TableBuilder select(Table subset, String name) {
        TableBuilder b = Table.builder(name).keys("seed", "example_id", "intervention", "position_label");
        for (Column c : subset.columns()) b.column(c.name(), c.type());
        Set<List<Object>> seen = new HashSet<>();
        for (Pick p : PICKS) {
            List<Table.Row> rows = new ArrayList<>(inBucket(subset, p.bucket()).rows());
            Comparator<Table.Row> byEffect = Comparator.comparing(r -> Decisions.rounded(row(r).result().effectSize()));
            rows.sort(p.descending() ? byEffect.reversed() : byEffect);
            for (Table.Row r : rows.subList(0, Math.min(TOP_K, rows.size()))) {
                List<Object> key = DEDUPE.stream().map(r::get).toList();
                if (seen.add(key)) b.copyRow(r);
            }
        }
        return b;
    }

    // ---------------------------------------------------------------- report

    /**
     * The report: the reference's sections, each bucket ranked as {@link #select} ranks it but over the rows whose
     * |clean - corrupt| clears {@link Counterexamples#DENOMINATOR_FLOOR} only, with clean, corrupt and patched
     * scores and the raw delta beside every effect; the rows below the floor are listed apart as unstable.
     * The Arrow table keeps the reference's selection.
     */
    static String markdown(HeldoutCandidateStage.Candidate c, Table subset, List<Integer> seeds) {
        String label = c.head().label();
        Table stable = subset.filter(r -> !DenominatorFloor.unstable(r.toMap()));
        Table unstable = subset.filter(r -> DenominatorFloor.unstable(r.toMap()));
        Table ranked = select(stable, "ranked").build();
        Table apart = select(unstable, "unstable").build();
        List<String> lines = new ArrayList<>(List.of("# Held-Out Counterexamples: " + label, "",
                "Candidate `" + c.candidateId() + "`, group `" + c.group() + "`; result rows of seeds " + seeds + ".", "",
                REFERENCE_REPORTED.contains(c.head())
                        ? "The reference lab wrote this report too (it reported only L7H7, L9H11 and L7H11); this lab writes one for every candidate head."
                        : "The reference lab reported only L7H7, L9H11 and L7H11; this lab writes a report for every candidate head, so this one has no reference counterpart.",
                "", Counterexamples.floorNote("counterexamples_" + label + ".arrow") + " Here " + stable.rowCount() + " rows clear the floor and "
                        + unstable.rowCount() + " do not.",
                "", "## Why this head was inspected", "",
                "This head was part of the fixed held-out candidate set after the earlier head-specific sweep. The goal is to "
                        + "inspect where the held-out causal result succeeds, fails, or moves controls.", "",
                "## Where the result broke", ""));
        List<String> broke = brokeLines(ranked);
        lines.add(broke.isEmpty() ? "No failing positive rows, moving controls or wrong-target failures were found." : String.join("\n", broke));
        lines.addAll(List.of("", "## Strongest successes", "", rowsTable(inBucket(ranked, SUCCESS)), "",
                "## Strongest failures", "", rowsTable(inBucket(ranked, FAILURE)), "",
                "## Controls that moved", "", rowsTable(inBucket(ranked, CONTROLS_MOVED)), "",
                "## Prompt constructions that broke it", ""));
        List<String> families = familyFailureLines(subset);
        lines.add(families.isEmpty() ? "No family-level failures were identified." : String.join("\n", families));
        lines.addAll(List.of("", "## Intervention/position sensitivity", ""));
        List<String> interventions = interventionLines(subset);
        lines.add(interventions.isEmpty() ? "No intervention summary was available." : String.join("\n", interventions));
        lines.addAll(List.of("", "## Wrong-target failures", "", rowsTable(inBucket(ranked, WRONG_TARGET)), "",
                "## Unstable rows (|clean - corrupt| < " + Num.sig(Counterexamples.DENOMINATOR_FLOOR) + ")", "",
                unstable.rowCount() == 0 ? "None." : "Buckets of the " + unstable.rowCount() + " unstable rows: `"
                        + pyDict(LayerPatchingStage.valueCounts(unstable.strings("inspection_bucket"))) + "`. The same selection as above, not ranked as evidence:",
                "", unstableTable(apart), "",
                "## Interpretation", "", "Inspection buckets: `" + pyDict(LayerPatchingStage.valueCounts(subset.strings("inspection_bucket"))) + "`.", "",
                "A useful candidate should move positive examples more than controls across held-out families and intervention "
                        + "variants. Rows where controls move or positive effects vanish are counterexamples for this lab stage.", "",
                "## What not to claim", "",
                "Do not claim induction-head discovery, a circuit, or broad model behavior from these examples. This is "
                        + "counterexample-oriented practice evidence.", ""));
        return String.join("\n", lines);
    }

    /** One line per selected failure, moving control or wrong-target failure: family, intervention, position, prompt, scores. */
    private static List<String> brokeLines(Table selected) {
        List<String> out = new ArrayList<>();
        for (Bucketed row : BUCKETED.read(selected)) {
            String b = row.inspectionBucket();
            if (b.equals(SUCCESS)) continue;
            HeldoutRobustnessStage.ResultRow r = row.result();
            out.add(String.format(Locale.ROOT, "- %s: seed %s, `%s` (%s) `%s`, `%s` at `%s`: effect %s (clean %s, corrupt %s, patched %s, "
                            + "raw delta %s); clean `%s` -> corrupt `%s`, tokens `%s` vs `%s`", b, r.seed(), r.family(),
                    r.heldoutFamilyType(), r.exampleId(), r.intervention(), r.positionLabel(),
                    Num.sig(r.effectSize()), Num.sig(r.cleanScore()), Num.sig(r.corruptScore()),
                    Num.sig(r.patchedScore()), Num.sig(r.patchedScore() - r.corruptScore()),
                    cell(r.cleanPrompt()), cell(r.corruptPrompt()), cell(r.trueExpectedNextToken()), cell(r.wrongOrControlToken())));
        }
        return out;
    }

    private static Table inBucket(Table t, String bucket) {
        return t.filter(r -> bucket.equals(row(r).inspectionBucket()));
    }

    private static final List<String> TABLE_COLUMNS = List.of("seed", "family", "example_id", "intervention", "position_label",
            "true_expected_next_token", "wrong_or_control_token", "clean_prompt", "corrupt_prompt");

    static String rowsTable(Table rows) {
        if (rows.rowCount() == 0) return "No rows in this bucket.";
        return Counterexamples.table(rows.rows().stream().map(Table.Row::toMap).toList(), TABLE_COLUMNS);
    }

    private static String unstableTable(Table rows) {
        if (rows.rowCount() == 0) return "";
        List<String> columns = new ArrayList<>(List.of("inspection_bucket"));
        columns.addAll(TABLE_COLUMNS);
        return Counterexamples.table(rows.rows().stream().map(Table.Row::toMap).toList(), columns);
    }

    /** Positive families with mean effect <= 0 and control families with mean > 0, weakest first. */
    static List<String> familyFailureLines(Table subset) {
        List<String> out = new ArrayList<>();
        for (Group g : groups(subset, "family", "heldout_family_type")) {
            String type = (String) g.key().get(1);
            if ("positive".equals(type) && Decisions.nonPositive(g.mean()))
                out.add(String.format(Locale.ROOT, "- %s: positive-family mean effect `%s` over %d valid rows.", g.key().get(0),
                        fmt4(g.mean()), g.nValid()));
            if ("control".equals(type) && Decisions.positive(g.mean()))
                out.add(String.format(Locale.ROOT, "- %s: control-family mean effect `%s` over %d valid rows.", g.key().get(0),
                        fmt4(g.mean()), g.nValid()));
        }
        return out;
    }

    static List<String> interventionLines(Table subset) {
        Map<List<Object>, Table> sorted = new TreeMap<>(LayerPatchingStage.KEY_ORDER);
        sorted.putAll(subset.groupBy("intervention", "position_label"));
        List<String> out = new ArrayList<>();
        sorted.forEach((k, t) -> out.add(String.format(Locale.ROOT, "- %s at %s: mean effect `%s`, valid rows `%d`, controls moved `%d`.",
                k.get(0), k.get(1), fmt4(Stats.mean(t.doubles("effect_size"))), valid(t),
                t.strings("inspection_bucket").stream().filter(CONTROLS_MOVED::equals).count())));
        return out;
    }

    private record Group(List<Object> key, double mean, long nValid) {}

    /** Groups in sorted key order, then stably by mean effect ascending with NaN last (pandas sort_values). */
    private static List<Group> groups(Table t, String... columns) {
        Map<List<Object>, Table> sorted = new TreeMap<>(LayerPatchingStage.KEY_ORDER);
        sorted.putAll(t.groupBy(columns));
        List<Group> out = new ArrayList<>();
        sorted.forEach((k, g) -> out.add(new Group(k, Stats.mean(g.doubles("effect_size")), valid(g))));
        out.sort(Comparator.comparing((Group g) -> Double.isNaN(g.mean())).thenComparingDouble(Group::mean));
        return out;
    }

    private static long valid(Table t) {
        return t.doubles("effect_size").stream().filter(d -> d != null && !d.isNaN()).count();
    }

    /** Python's f"{x:.4f}" ("nan" for NaN). */
    static String fmt4(Double d) {
        return PyFormat.fixed(d, 4);
    }

    private static String cell(Object v) {
        return v == null ? "" : v.toString().replace("\n", " ").replace("|", "\\|");
    }

    /** A count map the way Python prints a dict: {'a': 1, 'b': 2}. */
    static String pyDict(Map<String, Long> m) {
        return "{" + String.join(", ", m.entrySet().stream().map(e -> "'" + e.getKey() + "': " + e.getValue()).toList()) + "}";
    }
}
