package org.milab.protocol.reference;

import org.milab.stats.Decisions;

import org.milab.stage.StageContext;

import com.fasterxml.jackson.databind.JsonNode;
import org.milab.prompts.PyRandom;
import org.milab.tables.RecordSchema;
import org.milab.tables.Table;
import org.milab.tables.TableBuilder;
import org.milab.util.UserError;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import org.milab.util.Json;

/**
 * S8 candidate selection for controlled (layer-level) patching: reads a controls run's attention summary
 * and attention_by_family and picks, in order and without repeating a (layer, head, component), the top
 * raw-positive heads, the top control-firing heads, the top heads with a positive gap, then deterministic
 * random comparison heads. Writes layer_patching/seed<N>/controlled_patching_candidates (+ .json, selection .md).
 */
public final class CandidateSelectionStage {
    public static final String STAGE = "layer_patching";
    public static final String SOURCE_STAGE = "controls";
    public static final String TABLE = "controlled_patching_candidates";
    public static final String ATTN_OUT = "attn_out";
    static final String RANDOM = "random_comparison";
    private static final RecordSchema<Candidate> CANDIDATE_ROWS = RecordSchema.of(Candidate.class);

    /** The reference's CLI knobs (its defaults: 5, 5, 5, 5 and --seed). */
    public record Selection(int topKRaw, int topKControl, int topKGap, int nRandom, int seed) {
        public static Selection defaults(int seed) {
            return new Selection(5, 5, 5, 5, seed);
        }
    }

    /** One row of controlled_patching_candidates, columns in the reference's order. */
    public record Candidate(String candidateId, String source, int layer, int head, String component,
                            String positionLabel, double rawPositiveAttention, double maxControlAttention,
                            double positiveMinusControlAttentionGap, String maxControlFamily, boolean gapPositive,
                            String selectionReason, String expectedSpecificity) {}

    /**
     * Selects from {@code controls/seed<sourceSeed>/} with the default counts and {@code Random(seed)},
     * writes {@code layer_patching/seed<seed>/}, and returns the candidates in id order.
     */
    public List<Candidate> run(StageContext ctx, int sourceSeed, int seed) {
        long t0 = System.nanoTime();
        Selection sel = Selection.defaults(seed);
        Path summaryFile = ctx.dir(SOURCE_STAGE, sourceSeed).resolve(AttentionStage.SUMMARY);
        if (!Files.isRegularFile(summaryFile))
            throw new UserError("Stage input " + ctx.runDir().relativize(summaryFile) + " is missing.",
                    "Run the attention stage on controls seed " + sourceSeed + " first.");
        JsonNode summary;
        try {
            summary = Json.MAPPER.readTree(summaryFile.toFile());
        } catch (IOException e) {
            throw new UserError("Stage input " + summaryFile + " is not valid JSON: " + e.getMessage(),
                    "Re-run the attention stage on controls seed " + sourceSeed + ".", e);
        }
        Table byFamily = ctx.read(SOURCE_STAGE, sourceSeed, AttentionStage.BY_FAMILY);
        List<Candidate> candidates = select(summary, byFamily, sel);
        TableBuilder b = CANDIDATE_ROWS.builder(TABLE, candidates, "layer", "head", "component");
        ctx.write(STAGE, seed, b);
        String source = ctx.runDir().relativize(ctx.dir(SOURCE_STAGE, sourceSeed)).toString();
        Map<String, Object> payload = new LinkedHashMap<>();
        payload.put("run_dir", source);
        payload.put("selection", RecordSchema.of(Selection.class).toMap(sel));
        payload.put("gap_positive_candidates", candidates.stream().filter(Candidate::gapPositive).map(CANDIDATE_ROWS::toMap).toList());
        payload.put("candidates", candidates.stream().map(CANDIDATE_ROWS::toMap).toList());
        ctx.writeJson(STAGE, seed, TABLE + ".json", payload);
        ctx.writeText(STAGE, seed, "controlled_patching_selection.md", markdown(source, candidates, sel));
        ctx.summarize("- candidate selection seed " + seed + " (from " + source + "): " + candidates.size()
                + " candidates, " + candidates.stream().filter(Candidate::gapPositive).count() + " with a positive gap");
        ctx.recordTiming(STAGE + "/seed" + seed + "/candidate_selection", (System.nanoTime() - t0) / 1e9);
        return candidates;
    }

    /** The reference's selection rule on an attention summary (JSON as written by S6) and its family table. */
    public static List<Candidate> select(JsonNode summary, Table byFamily, Selection sel) {
        List<Candidate> out = new ArrayList<>();
        Set<List<Object>> seen = new HashSet<>();
        for (JsonNode row : first(summary.path("top_heads_on_positive_examples"), sel.topKRaw()))
            add(out, seen, row, byFamily, "top_raw_positive_attention",
                    "High raw previous-occurrence attention on positive examples.");
        for (JsonNode row : first(summary.path("top_heads_on_controls"), sel.topKControl()))
            add(out, seen, row, byFamily, "top_control_firing_attention", "High previous-occurrence attention on controls.");
        List<JsonNode> gapRows = new ArrayList<>();
        for (JsonNode row : summary.path("top_heads_by_positive_minus_control_gap"))
            if (Decisions.positive(orZero(row.get("positive_minus_control_attention_gap")))) gapRows.add(row);
        for (JsonNode row : gapRows.subList(0, Math.min(sel.topKGap(), gapRows.size())))
            add(out, seen, row, byFamily, "top_positive_minus_control_gap", "Positive-minus-control attention gap was positive.");
        addRandom(out, seen, byFamily, sel.nRandom(), sel.seed());
        List<Candidate> numbered = new ArrayList<>(out.size());
        for (int i = 0; i < out.size(); i++) {
            Candidate c = out.get(i);
            numbered.add(new Candidate(String.format(Locale.ROOT, "cand_%03d", i), c.source(), c.layer(), c.head(),
                    c.component(), c.positionLabel(), c.rawPositiveAttention(), c.maxControlAttention(),
                    c.positiveMinusControlAttentionGap(), c.maxControlFamily(), c.gapPositive(), c.selectionReason(),
                    c.expectedSpecificity()));
        }
        return numbered;
    }

    private static void add(List<Candidate> out, Set<List<Object>> seen, JsonNode row, Table byFamily, String source,
                            String reason) {
        int layer = row.path("layer").asInt(), head = row.path("head").asInt();
        if (!seen.add(List.of(layer, head, ATTN_OUT))) return;
        Stats3 s = stats(byFamily, layer, head);
        // a gap row carries its own (rounded) gap, null meaning 0; other rows use raw - max control
        double gap = row.has("positive_minus_control_attention_gap")
                ? orZero(row.get("positive_minus_control_attention_gap")) : s.raw - s.maxControl;
        out.add(new Candidate("", source, layer, head, ATTN_OUT, "final", s.raw, s.maxControl, gap, s.maxFamily,
                Decisions.positive(gap), reason, Decisions.positive(gap) ? "attention_gap_candidate" : "nonspecific_attention_candidate"));
    }

    /** All (layer, head) pairs of the table, sorted, shuffled with Random(seed); first unseen until n random. */
    private static void addRandom(List<Candidate> out, Set<List<Object>> seen, Table byFamily, int n, int seed) {
        List<List<Integer>> heads = allHeadsShuffled(byFamily, seed);
        for (List<Integer> h : heads) {
            if (out.stream().filter(c -> c.source().equals(RANDOM)).count() >= n) return;
            if (!seen.add(List.of(h.get(0), h.get(1), ATTN_OUT))) continue;
            Stats3 s = stats(byFamily, h.get(0), h.get(1));
            double gap = s.raw - s.maxControl;
            out.add(new Candidate("", RANDOM, h.get(0), h.get(1), ATTN_OUT, "final", s.raw, s.maxControl, gap,
                    s.maxFamily, Decisions.positive(gap), "Deterministic random comparison head.", "comparison_candidate"));
        }
    }

    /** sorted({(layer, head)}) shuffled in place by Python's Random(seed). */
    static List<List<Integer>> allHeadsShuffled(Table byFamily, int seed) {
        TreeSet<List<Integer>> sorted = new TreeSet<>((a, b) -> a.get(0).equals(b.get(0))
                ? Integer.compare(a.get(1), b.get(1)) : Integer.compare(a.get(0), b.get(0)));
        for (Table.Row r : byFamily.rows())
            sorted.add(List.of(r.getLong("layer").intValue(), r.getLong("head").intValue()));
        List<List<Integer>> heads = new ArrayList<>(sorted);
        new PyRandom(seed).shuffle(heads);
        return heads;
    }

    private record Stats3(double raw, double maxControl, String maxFamily) {}

    /**
     * Positive family mean (0 when absent or missing) and the highest non-positive family mean with its
     * family (first in table order on a tie; 0 and "" when no control has a score).
     */
    private static Stats3 stats(Table byFamily, int layer, int head) {
        List<Table.Row> rows = byFamily.filter(r -> r.getLong("layer") == layer && r.getLong("head") == head).rows();
        Double raw = null;
        boolean positiveSeen = false;
        List<Table.Row> controls = new ArrayList<>();
        for (Table.Row r : rows) {
            Double mean = r.getDouble(AttentionStage.MEAN);
            boolean scored = mean != null && !Double.isNaN(mean);
            if (!AttentionStage.POSITIVE_FAMILY.equals(r.getString("family"))) {
                if (scored) controls.add(r);
            } else if (!positiveSeen) { // the reference reads the first positive row only
                positiveSeen = true;
                if (scored) raw = mean;
            }
        }
        if (raw == null) raw = 0.0;
        if (controls.isEmpty()) return new Stats3(raw, 0.0, "");
        Table.Row max = PandasRules.sortDescending(controls, r -> r.getDouble(AttentionStage.MEAN)).get(0);
        return new Stats3(raw, max.getDouble(AttentionStage.MEAN), max.getString("family"));
    }

    private static double orZero(JsonNode v) {
        return v == null || v.isNull() ? 0.0 : v.asDouble();
    }

    private static List<JsonNode> first(JsonNode array, int k) {
        List<JsonNode> out = new ArrayList<>();
        for (JsonNode n : array) {
            if (out.size() >= k) break;
            out.add(n);
        }
        return out;
    }

    static String markdown(String source, List<Candidate> candidates, Selection sel) {
        List<String> lines = new ArrayList<>(List.of("# Controlled Patching Candidate Selection", "", "## Artifacts Read", "",
                "- `" + source + "/" + AttentionStage.SUMMARY + "`", "- `" + source + "/" + AttentionStage.BY_FAMILY + ".arrow`",
                "", "## Selection", "", "- Top raw positive heads: " + sel.topKRaw(),
                "- Top control-firing heads: " + sel.topKControl(),
                "- Top positive-minus-control gap heads: " + sel.topKGap(),
                "- Random comparison heads: " + sel.nRandom(), "- Seed: " + sel.seed(), "", "## Positive Gap Status", "",
                "Any positive-minus-control attention gaps selected: "
                        + (candidates.stream().anyMatch(Candidate::gapPositive) ? "True" : "False") + ".",
                "", "## Nonspecific Candidates", ""));
        List<Candidate> nonspecific = candidates.stream()
                .filter(c -> c.expectedSpecificity().equals("nonspecific_attention_candidate")).toList();
        for (Candidate c : nonspecific)
            lines.add(String.format(Locale.ROOT, "- `%s` L%dH%d gap=%.6f; expected to be nonspecific until causal "
                    + "controls say otherwise.", c.candidateId(), c.layer(), c.head(), c.positiveMinusControlAttentionGap()));
        if (nonspecific.isEmpty()) lines.add("No nonspecific raw/control attention candidates were selected.");
        lines.addAll(List.of("", "## Comparison Candidates", ""));
        for (Candidate c : candidates)
            if (c.source().equals(RANDOM)) lines.add("- `" + c.candidateId() + "` L" + c.layer() + "H" + c.head());
        lines.addAll(List.of("", "Raw attention candidates are not causal candidates. Candidate selection only defines "
                + "what to test next."));
        return String.join("\n", lines) + "\n";
    }
}
