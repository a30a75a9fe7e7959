package org.milab.protocol.reference;

import org.milab.stats.DenominatorFloor;
import org.milab.stats.Num;
import org.milab.stats.Decisions;
import org.milab.stats.Stats;

import org.milab.stage.StageContext;

import org.milab.tables.RecordSchema;
import org.milab.tables.Table;
import org.milab.tables.TableBuilder;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.Function;
import java.util.function.Predicate;

/**
 * S17 characterization counterexamples: for each primary candidate (group replicated_candidate or
 * random_comparison_replicated; L7H7, L9H11, L7H11, L7H0, L0H8 for GPT-2) the result rows of every
 * characterization seed, joined to the prompts for token_domain / sequence_length_bucket, cut into six
 * tagged top-k slices (k = 8), concatenated and exact-duplicate-dropped (a row in two slices is kept
 * once per tag). Writes characterization_counterexamples/counterexamples_<head>.arrow and .md.
 * Sorts are stable (ties keep seed order, then file order); the reference's pandas quicksort orders ties arbitrarily.
 */
public final class CharacterizationCounterexampleStage {
    public static final String DIR = "characterization_counterexamples";
    public static final int TOP_K = 8;
    /** A row of counterexamples_<head>: a tagged result row with the prompt metadata it was joined to. */
    record Counterexample(String counterexampleType, long seed, String candidateId, String candidateGroup, Long layer, Long head,
                          String family, String heldoutFamilyType, String exampleId, String tokenDomain,
                          String sequenceLengthBucket, String intervention, String positionLabel, Double effectSize,
                          String effectSizeStatus, String trueExpectedNextToken, String wrongOrControlToken, String cleanPrompt,
                          String corruptPrompt) {}

    /** The table's columns (the selection keeps these of each joined row): {@link Counterexample}'s. */
    static final List<String> COLUMNS = RecordSchema.of(Counterexample.class).columns();

    /** One tagged row: the results row plus the prompt metadata it was joined to. */
    record Row(Map<String, Object> values) {
        double effect() {
            return (Double) values.get("effect_size");
        }

        Object get(String c) {
            return values.get(c);
        }
    }

    /** Writes one table per primary head; returns the head labels written. */
    public List<String> run(StageContext ctx, List<Integer> seeds) {
        List<String> written = new ArrayList<>();
        Map<String, Map<String, Object>> prompts = new HashMap<>();
        List<Row> all = new ArrayList<>();
        for (int s : seeds) {
            for (Table.Row p : ctx.read(CharacterizationStage.DIR, s, "prompts").rows())
                prompts.putIfAbsent(p.getString("example_id"), p.toMap()); // drop_duplicates("example_id"): first seed wins
        }
        for (int s : seeds)
            for (Table.Row r : ctx.read(CharacterizationStage.DIR, s, CharacterizationStage.RESULTS).rows()) {
                Map<String, Object> v = new LinkedHashMap<>(r.toMap());
                Map<String, Object> p = prompts.get(r.getString("example_id"));
                for (String c : List.of("token_domain", "sequence_length_bucket", "characterization_axis", "distractor_position_hint"))
                    v.put(c, p == null ? null : p.get(c));
                all.add(new Row(v));
            }
        for (HeldoutCandidateStage.Candidate c : HeldoutCandidateStage.load(ctx)) {
            if (!c.includeInMain() || !CharacterizationConsolidationStage.isPrimary(c.group())) continue;
            List<Row> mine = all.stream().filter(r -> c.candidateId().equals(r.get("candidate_id"))).toList();
            String label = c.head().label();
            Table t = ctx.write(DIR, null, table("counterexamples_" + label, select(mine, TOP_K)));
            ctx.writeText(DIR, null, "counterexamples_" + label + ".md", markdown(label, c, mine));
            written.add(label);
        }
        ctx.summarize("- S17 characterization counterexamples: " + org.milab.stats.Num.text(written));
        return written;
    }

    /** The six tagged slices, concatenated in order, exact duplicates (tag included) dropped. */
    static List<Map<String, Object>> select(List<Row> rows, int topK) {
        return select(rows, topK, COLUMNS);
    }

    /** {@link #select(List, int)} keeping {@code columns} of each row (the report adds the scores). */
    static List<Map<String, Object>> select(List<Row> rows, int topK, List<String> columns) {
        List<Row> positive = rows.stream().filter(r -> "positive".equals(r.get("heldout_family_type")) && r.get("effect_size") != null).toList();
        List<Row> control = rows.stream().filter(r -> "control".equals(r.get("heldout_family_type")) && r.get("effect_size") != null).toList();
        Comparator<Row> asc = Comparator.comparing(r -> Decisions.rounded(r.effect()));
        List<Map<String, Object>> out = new ArrayList<>();
        Set<List<Object>> seen = new HashSet<>();
        tag(out, seen, top(positive, asc.reversed(), topK), "strongest_positive_success", columns);
        tag(out, seen, top(positive, asc, topK), "strongest_positive_failure", columns);
        tag(out, seen, top(control, asc.reversed(), topK), "control_moved", columns);
        Predicate<Row> wrongTarget = r -> {
            String f = String.valueOf(r.get("family"));
            return f.contains("target_swap") || f.contains("wrong_target");
        };
        tag(out, seen, top(control.stream().filter(wrongTarget).toList(), asc.reversed(), topK), "wrong_target_control_moved", columns);
        tag(out, seen, worstGroups(positive, r -> List.of(String.valueOf(r.get("token_domain")), String.valueOf(r.get("sequence_length_bucket"))), topK),
                "token_domain_or_length_failure", columns);
        tag(out, seen, worstGroups(positive, r -> List.of(r.get("intervention"), r.get("position_label")), topK),
                "position_intervention_mismatch", columns);
        return out;
    }

    private static List<Row> top(List<Row> rows, Comparator<Row> order, int k) {
        return rows.stream().sorted(order).limit(k).toList();
    }

    /** Positive rows in the max(1, k/2) groups with the lowest mean effect, weakest first, top k. */
    static List<Row> worstGroups(List<Row> positive, Function<Row, List<Object>> key, int k) {
        Map<List<Object>, List<Double>> groups = new java.util.TreeMap<>(LayerPatchingStage.KEY_ORDER);
        for (Row r : positive) groups.computeIfAbsent(key.apply(r), x -> new ArrayList<>()).add(r.effect());
        List<Map.Entry<List<Object>, List<Double>>> sorted = new ArrayList<>(groups.entrySet());
        sorted.sort(Comparator.comparing(e -> Decisions.rounded(Stats.mean(e.getValue()))));
        Set<List<Object>> bad = new HashSet<>();
        sorted.stream().limit(Math.max(1, k / 2)).forEach(e -> bad.add(e.getKey()));
        return top(positive.stream().filter(r -> bad.contains(key.apply(r))).toList(),
                Comparator.comparing(r -> Decisions.rounded(r.effect())), k);
    }

    private static void tag(List<Map<String, Object>> out, Set<List<Object>> seen, List<Row> rows, String type, List<String> columns) {
        for (Row r : rows) {
            Map<String, Object> m = new LinkedHashMap<>();
            for (String c : columns) m.put(c, c.equals("counterexample_type") ? type : r.get(c));
            if (seen.add(new ArrayList<>(m.values()))) out.add(m);
        }
    }

    static TableBuilder table(String name, List<Map<String, Object>> rows) {
        RecordSchema<Counterexample> schema = RecordSchema.of(Counterexample.class);
        return schema.builder(name, rows.stream().map(m -> schema.read(m, name)).toList(),
                "counterexample_type", "seed", "example_id", "intervention", "position_label");
    }

    /** The six slice types, in report order. */
    static final List<String> TYPES = List.of("strongest_positive_success", "strongest_positive_failure", "control_moved",
            "wrong_target_control_moved", "token_domain_or_length_failure", "position_intervention_mismatch");
    private static final List<String> REPORT_COLUMNS;
    static {
        List<String> cols = new ArrayList<>(COLUMNS);
        cols.addAll(List.of("clean_score", "corrupt_score", "patched_score"));
        REPORT_COLUMNS = List.copyOf(cols);
    }

    /**
     * The report: the six slices taken as {@link #select} takes them, but over the rows whose |clean - corrupt|
     * clears {@link Counterexamples#DENOMINATOR_FLOOR} only, each row with its clean, corrupt and patched scores
     * and raw delta; the same slices over the rows below the floor are listed apart as unstable. The Arrow table
     * (which S18 reads) keeps the reference's selection.
     */
    static String markdown(String label, HeldoutCandidateStage.Candidate c, List<Row> rows) {
        List<List<Row>> parts = DenominatorFloor.split(rows, Row::values);
        List<Map<String, Object>> ranked = select(parts.get(0), TOP_K, REPORT_COLUMNS);
        List<Map<String, Object>> apart = select(parts.get(1), TOP_K, REPORT_COLUMNS);
        StringBuilder sb = new StringBuilder("# Candidate Characterization Counterexamples: ").append(label).append("\n\n")
                .append("Candidate `").append(c.candidateId()).append("`, group `").append(c.group()).append("`.\n\n")
                .append(Counterexamples.floorNote("counterexamples_" + label + ".arrow")).append(" Here ").append(parts.get(0).size())
                .append(" rows clear the floor and ").append(parts.get(1).size()).append(" do not.\n");
        List<String> leading = List.of("seed", "family", "intervention", "position_label", "token_domain", "sequence_length_bucket");
        for (String type : TYPES) {
            sb.append("\n## ").append(type).append("\n\n");
            List<Map<String, Object>> slice = ranked.stream().filter(m -> type.equals(m.get("counterexample_type"))).toList();
            sb.append(slice.isEmpty() ? "No rows." : Counterexamples.table(slice, leading)).append('\n');
        }
        sb.append("\n## Unstable rows (|clean - corrupt| < ").append(Num.sig(Counterexamples.DENOMINATOR_FLOOR)).append(")\n\n");
        if (apart.isEmpty()) sb.append("None.\n");
        else {
            List<String> withType = new ArrayList<>(List.of("counterexample_type"));
            withType.addAll(leading);
            sb.append("The same slices over the ").append(parts.get(1).size()).append(" unstable rows, not ranked as evidence:\n\n")
                    .append(Counterexamples.table(apart, withType)).append('\n');
        }
        sb.append("\nCounterexamples are part of the result. Do not claim induction-head discovery, a circuit, or broad model behavior from them.\n");
        return sb.toString();
    }
}
