package org.milab.protocol.reference;

import org.milab.stats.Decisions;

import org.milab.graph.Head;
import org.milab.stage.StageContext;

import com.fasterxml.jackson.databind.JsonNode;
import org.milab.model.ModelConfig;
import org.milab.tables.RecordSchema;
import org.milab.tables.Table;
import org.milab.tables.TableBuilder;
import org.milab.util.Hashing;
import org.milab.util.UserError;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import org.milab.util.Json;

/**
 * S13 held-out candidate set ({@code select_heldout_robustness_candidates.py}), fixed BEFORE any held-out
 * scoring: the table, its .csv/.json/.md and its SHA-256 are written and the hash recorded in the run
 * manifest by {@link #run}, which the orchestrator calls before S14.
 *
 * <p>Three sources, first match wins: a candidate file given in the run config; for model {@code gpt2} the
 * reference's 16 heads exactly as it registered them; otherwise a set derived from S12 by the reference rule
 * (replicated heads, prior raw-attention heads, 3 no-effect + 3 nonspecific negatives).
 *
 * <p>The SHA-256 is that of the set in the reference's CSV format ({@link #canonicalCsv}), so it does not
 * depend on timestamps or provenance, and for gpt2 it equals the hash of the reference's own
 * {@code heldout_candidate_set.csv}.
 */
public final class HeldoutCandidateStage {
    public static final String DIR = "heldout_candidates";
    public static final String TABLE = "heldout_candidate_set";
    public static final String SHA_FILE = TABLE + ".sha256";
    public static final String REFERENCE_MODEL = "gpt2";
    public static final List<String> COLUMNS = List.of("candidate_id", "layer", "head", "candidate_group", "source_reason",
            "prior_mean_gap", "prior_replication_status", "prior_raw_attention_candidate",
            "prior_random_comparison_candidate", "include_in_main");
    static final int NEGATIVES_PER_STATUS = 3;
    static final int MIN_NEGATIVES = 5;

    static final String REASON_REPLICATED = "Pre-registered replicated narrow candidate from prior multi-seed report.";
    static final String REASON_RAW = "Prior raw-attention candidate retained as a comparison head.";
    static final String REASON_NO_EFFECT = "Deterministic no-effect negative control from prior multi-seed report.";
    static final String REASON_NONSPECIFIC = "Deterministic nonspecific negative control from prior multi-seed report.";

    /** One pre-registered head; {@code priorMeanGap} is null when unknown. */
    public record Candidate(String candidateId, Head head, String group, String sourceReason, Double priorMeanGap,
                            String priorReplicationStatus, boolean priorRawAttention, boolean priorRandomComparison,
                            boolean includeInMain) {}

    /** The chosen set and where it came from (reference_gpt2, derived_from_s12, or candidate_file:...). */
    public record Selection(List<Candidate> candidates, String source) {}

    /** Selects, validates and registers the set; returns it with ids heldout_cand_000... */
    public List<Candidate> run(StageContext ctx) {
        Selection sel = select(ctx);
        ModelConfig cfg = ctx.model().config();
        for (Candidate c : sel.candidates()) requireHeadExists(c.head(), cfg, ctx.model().id(), sel.source());
        String csv = canonicalCsv(sel.candidates());
        String sha = Hashing.sha256(csv);
        ctx.writeText(DIR, null, TABLE + ".csv", csv);
        ctx.write(DIR, null, table(sel.candidates()).metadata("milab.candidate_set_sha256", sha));
        Payload payload = payload(sel, sha);
        ctx.writeJson(DIR, null, TABLE + ".json", RecordSchema.tree(payload));
        ctx.writeText(DIR, null, TABLE + ".md", markdown(payload, sel));
        ctx.writeText(DIR, null, SHA_FILE, sha + "  " + TABLE + ".csv\n"); // sha256sum -c format
        ctx.recordHash(TABLE, sha);
        ctx.summarize(String.format(Locale.ROOT, "- S13 held-out candidate set (%s): %d heads, sha256 `%s`", sel.source(),
                sel.candidates().size(), sha));
        return sel.candidates();
    }

    static Selection select(StageContext ctx) {
        Path file = ctx.config().candidateFile();
        if (file != null) return new Selection(fromFile(file), "candidate_file:" + file.getFileName());
        if (REFERENCE_MODEL.equals(ctx.model().id())) return new Selection(referenceGpt2(), "reference_gpt2");
        List<Head> rawOrder = new ArrayList<>();
        for (int seed : ctx.config().controlSeeds())
            rawOrder.addAll(SweepConsolidationStage.flags(ctx, seed).rawAttention());
        Table multiseed = ctx.read(SweepConsolidationStage.DIR, null, SweepConsolidationStage.TABLE);
        return new Selection(derive(multiseed, rawOrder), "derived_from_s12");
    }

    /** The reference's registered set for GPT-2 small ({@code heldout_candidate_set.csv}), verbatim. */
    public static List<Candidate> referenceGpt2() {
        return numbered(List.of(
                ref(7, 7, "random_comparison_replicated", REASON_REPLICATED, 0.0805959202384717, "replicated_head_specific_candidate", false, true),
                ref(9, 11, "replicated_candidate", REASON_REPLICATED, 0.0357487996863949, "replicated_head_specific_candidate", false, false),
                ref(7, 11, "replicated_candidate", REASON_REPLICATED, 0.0258679062407106, "replicated_head_specific_candidate", false, false),
                ref(7, 0, "replicated_candidate", REASON_REPLICATED, 0.0105255260489239, "replicated_head_specific_candidate", false, false),
                ref(0, 8, "replicated_candidate", REASON_REPLICATED, 0.0077378474511723, "replicated_head_specific_candidate", false, false),
                ref(0, 1, "prior_raw_attention_failed", REASON_RAW, -0.1303535516255031, "no_effect", true, false),
                ref(0, 5, "prior_raw_attention_failed", REASON_RAW, -0.0469168197545695, "no_effect", true, false),
                ref(0, 10, "prior_raw_attention_failed", REASON_RAW, -0.1086183402862367, "nonspecific", true, false),
                ref(11, 8, "prior_raw_attention_failed", REASON_RAW, 0.0116061609532817, "nonspecific", true, false),
                ref(0, 4, "prior_raw_attention_failed", REASON_RAW, -0.0180625711897544, "no_effect", true, false),
                ref(9, 5, "negative_control_no_effect", REASON_NO_EFFECT, 0.0012581910935472, "no_effect", false, false),
                ref(11, 0, "negative_control_no_effect", REASON_NO_EFFECT, -0.0055540948178925, "no_effect", false, false),
                ref(4, 1, "negative_control_no_effect", REASON_NO_EFFECT, -0.0062110058364514, "no_effect", false, true),
                ref(4, 9, "negative_control_nonspecific", REASON_NONSPECIFIC, -3.622403276253335e-05, "nonspecific", false, false),
                ref(11, 9, "negative_control_nonspecific", REASON_NONSPECIFIC, 0.0004556494440327, "nonspecific", false, true),
                ref(11, 7, "negative_control_nonspecific", REASON_NONSPECIFIC, 0.0005153471815705, "nonspecific", false, true)));
    }

    private static Candidate ref(int layer, int head, String group, String reason, double gap, String status, boolean raw,
                                 boolean random) {
        return new Candidate("", new Head(layer, head), group, reason, gap, status, raw, random, true);
    }

    /**
     * The reference rule on an S12 table: replicated heads in table order (mean gap descending), group
     * random_comparison_replicated when flagged random in any seed; then the prior raw-attention heads in
     * {@code rawOrder} (S8/S6 attention rank, first sweep seed first), then any other raw-flagged heads;
     * then per status (no_effect, nonspecific) the 3 heads with the smallest |mean gap| (missing last, ties
     * by layer, head) not already chosen. Fewer than 5 negatives fails, as in the reference.
     */
    public static List<Candidate> derive(Table multiseed, List<Head> rawOrder) {
        Map<Head, Table.Row> byHead = new LinkedHashMap<>();
        for (Table.Row r : multiseed.rows())
            byHead.putIfAbsent(ReferenceVerdicts.head(r), r);
        Map<Head, Candidate> chosen = new LinkedHashMap<>();
        byHead.forEach((h, r) -> {
            if (r.getString("replication_status").equals(SweepConsolidationStage.REPLICATED))
                chosen.putIfAbsent(h, prior(h, r, r.getBool("random_comparison_candidate_in_any_seed")
                        ? "random_comparison_replicated" : "replicated_candidate", REASON_REPLICATED));
        });
        Set<Head> raw = new LinkedHashSet<>();
        rawOrder.stream().filter(byHead::containsKey).forEach(raw::add);
        byHead.forEach((h, r) -> {
            if (r.getBool("raw_attention_candidate_in_any_seed")) raw.add(h);
        });
        for (Head h : raw) chosen.putIfAbsent(h, prior(h, byHead.get(h), "prior_raw_attention_failed", REASON_RAW));
        int noEffect = addNegatives(chosen, byHead, "no_effect", "negative_control_no_effect", REASON_NO_EFFECT);
        int nonspecific = addNegatives(chosen, byHead, "nonspecific", "negative_control_nonspecific", REASON_NONSPECIFIC);
        if (noEffect + nonspecific < MIN_NEGATIVES)
            throw new UserError("Only " + (noEffect + nonspecific) + " negative-control heads were available from the head "
                    + "sweep (" + noEffect + " no_effect, " + nonspecific + " nonspecific, after excluding replicated and "
                    + "raw-attention heads); the reference protocol needs at least " + MIN_NEGATIVES + ".",
                    "Give a pre-registered candidate file instead (run config candidateFile: a CSV or JSON with layer, head "
                            + "and group columns), or run the sweep on more heads.");
        return numbered(new ArrayList<>(chosen.values()));
    }

    private static int addNegatives(Map<Head, Candidate> chosen, Map<Head, Table.Row> byHead, String status, String group,
                                    String reason) {
        List<Map.Entry<Head, Table.Row>> pool = new ArrayList<>(byHead.entrySet().stream()
                .filter(e -> e.getValue().getString("replication_status").equals(status)).toList());
        pool.sort(Comparator.comparing((Map.Entry<Head, Table.Row> e) -> absGap(e.getValue()), Comparator.nullsLast(Comparator.naturalOrder()))
                .thenComparing(Map.Entry::getKey));
        int n = 0;
        for (Map.Entry<Head, Table.Row> e : pool) {
            if (n == NEGATIVES_PER_STATUS) break;
            if (chosen.containsKey(e.getKey())) continue;
            chosen.put(e.getKey(), prior(e.getKey(), e.getValue(), group, reason));
            n++;
        }
        return n;
    }

    private static Double absGap(Table.Row r) {
        Double g = r.getDouble("mean_positive_minus_control_gap");
        return g == null || g.isNaN() ? null : Decisions.rounded(Math.abs(g));
    }

    private static Candidate prior(Head h, Table.Row r, String group, String reason) {
        Double gap = r.getDouble("mean_positive_minus_control_gap");
        return new Candidate("", h, group, reason, gap == null || gap.isNaN() ? null : gap, r.getString("replication_status"),
                r.getBool("raw_attention_candidate_in_any_seed"), r.getBool("random_comparison_candidate_in_any_seed"), true);
    }

    /** Ids heldout_cand_000.. in list order. */
    static List<Candidate> numbered(List<Candidate> cs) {
        List<Candidate> out = new ArrayList<>(cs.size());
        for (int i = 0; i < cs.size(); i++) {
            Candidate c = cs.get(i);
            out.add(new Candidate(String.format(Locale.ROOT, "heldout_cand_%03d", i), c.head(), c.group(), c.sourceReason(),
                    c.priorMeanGap(), c.priorReplicationStatus(), c.priorRawAttention(), c.priorRandomComparison(),
                    c.includeInMain()));
        }
        return List.copyOf(out);
    }

    // ---------------------------------------------------------------- candidate file

    /**
     * A candidate file: CSV with a header, or JSON (a list of objects, or an object with a "candidates" list).
     * Required: layer, head, and a group (column {@code candidate_group} or {@code group}). Optional: the other
     * {@link #COLUMNS} (prior_* and source_reason); ids are reassigned in file order. The reference's own
     * heldout_candidate_set.csv/.json are valid candidate files.
     */
    public static List<Candidate> fromFile(Path file) {
        if (!Files.isRegularFile(file))
            throw new UserError("Candidate file " + file + " does not exist.", "Give the path of a CSV or JSON candidate file.");
        String name = file.getFileName().toString().toLowerCase(Locale.ROOT);
        String text;
        try {
            text = Files.readString(file, StandardCharsets.UTF_8);
        } catch (java.nio.charset.CharacterCodingException e) { // readString's MalformedInputException: not UTF-8
            throw new UserError("Candidate file " + file + " is not UTF-8 text (" + e.getMessage() + ").",
                    "Save it as UTF-8 (e.g. iconv -f latin1 -t utf-8 " + file.getFileName() + " > fixed.csv).", e);
        } catch (IOException e) {
            throw new UserError("Cannot read candidate file " + file + ": " + e.getMessage(), "Check the file's permissions.", e);
        }
        List<Map<String, String>> rows;
        if (name.endsWith(".csv")) rows = Csv.parse(text, file.toString());
        else if (name.endsWith(".json")) rows = jsonRows(text, file);
        else throw new UserError("Candidate file " + file + " is neither .csv nor .json.", "Give a CSV or JSON candidate file.");
        if (rows.isEmpty()) throw new UserError("Candidate file " + file + " lists no heads.", "Add at least one row.");
        List<Candidate> out = new ArrayList<>();
        Set<Head> seen = new HashSet<>();
        for (int i = 0; i < rows.size(); i++) {
            Map<String, String> r = rows.get(i);
            String where = "Candidate file " + file + " row " + (i + 1);
            Head h = new Head(intField(r, "layer", where), intField(r, "head", where));
            String group = firstNonBlank(r.get("candidate_group"), r.get("group"));
            if (group == null) throw new UserError(where + " has no group.", "Add a candidate_group (or group) column.");
            if (!seen.add(h)) throw new UserError(where + " repeats head " + h + ".", "List each head once.");
            String gap = r.get("prior_mean_gap");
            out.add(new Candidate("", h, group, firstNonBlank(r.get("source_reason"), "Pre-registered in candidate file "
                    + file.getFileName() + "."), gap == null || gap.isBlank() ? null : doubleField(gap, "prior_mean_gap", where),
                    r.getOrDefault("prior_replication_status", ""), boolField(r, "prior_raw_attention_candidate", false, where),
                    boolField(r, "prior_random_comparison_candidate", false, where),
                    boolField(r, "include_in_main", true, where)));
        }
        return numbered(out);
    }

    private static List<Map<String, String>> jsonRows(String text, Path file) {
        JsonNode root;
        try {
            root = Json.MAPPER.readTree(text);
        } catch (IOException e) {
            throw new UserError("Candidate file " + file + " is not valid JSON: " + e.getMessage(), "Fix the JSON syntax.", e);
        }
        JsonNode list = root != null && root.isObject() ? root.path("candidates") : root;
        if (list == null || !list.isArray())
            throw new UserError("Candidate file " + file + " holds no list of candidates.",
                    "Write a JSON list of objects, or an object with a \"candidates\" list.");
        List<Map<String, String>> rows = new ArrayList<>();
        for (JsonNode n : list) {
            Map<String, String> row = new HashMap<>();
            n.fields().forEachRemaining(e -> row.put(e.getKey(), e.getValue().isNull() ? "" : e.getValue().asText()));
            rows.add(row);
        }
        return rows;
    }

    private static int intField(Map<String, String> r, String column, String where) {
        String v = r.get(column);
        if (v == null || v.isBlank()) throw new UserError(where + " has no " + column + ".", "Give every row a " + column + ".");
        try {
            return Integer.parseInt(v.strip());
        } catch (NumberFormatException e) {
            throw new UserError(where + ": " + column + " '" + v + "' is not an integer.", "Write " + column + " as a whole number.");
        }
    }

    private static double doubleField(String v, String column, String where) {
        try {
            return Double.parseDouble(v.strip());
        } catch (NumberFormatException e) {
            throw new UserError(where + ": " + column + " '" + v + "' is not a number.", "Write it as a decimal number or leave it empty.");
        }
    }

    private static boolean boolField(Map<String, String> r, String column, boolean absent, String where) {
        String v = r.get(column);
        if (v == null || v.isBlank()) return absent;
        return switch (v.strip().toLowerCase(Locale.ROOT)) {
            case "true", "1" -> true;
            case "false", "0" -> false;
            default -> throw new UserError(where + ": " + column + " '" + v + "' is not a boolean.", "Write True or False.");
        };
    }

    private static String firstNonBlank(String a, String b) {
        return a != null && !a.isBlank() ? a : b != null && !b.isBlank() ? b : null;
    }

    static void requireHeadExists(Head h, ModelConfig cfg, String modelId, String source) {
        if (h.layer() < 0 || h.layer() >= cfg.nLayer() || h.head() < 0 || h.head() >= cfg.nHead())
            throw new UserError("Held-out candidate " + h + " (" + source + ") does not exist in model " + modelId + " ("
                    + cfg.nLayer() + " layers x " + cfg.nHead() + " heads).",
                    "Use heads within the model, or give a candidate file written for this model.");
    }

    // ---------------------------------------------------------------- outputs

    /** One candidate as a row of heldout_candidate_set (the table's columns, in order). */
    record Row(String candidateId, int layer, int head, String candidateGroup, String sourceReason, Double priorMeanGap,
               String priorReplicationStatus, boolean priorRawAttentionCandidate, boolean priorRandomComparisonCandidate,
               boolean includeInMain) {
        static Row of(Candidate c) {
            return new Row(c.candidateId(), c.head().layer(), c.head().head(), c.group(), c.sourceReason(), c.priorMeanGap(),
                    c.priorReplicationStatus(), c.priorRawAttention(), c.priorRandomComparison(), c.includeInMain());
        }

        Candidate candidate() {
            return new Candidate(candidateId, new Head(layer, head), candidateGroup, sourceReason, priorMeanGap,
                    priorReplicationStatus, priorRawAttentionCandidate, priorRandomComparisonCandidate, includeInMain);
        }
    }

    public static TableBuilder table(List<Candidate> cs) {
        return RecordSchema.of(Row.class).builder(TABLE, cs.stream().map(Row::of).toList(), "candidate_id");
    }

    /** Candidates back from the registered table (S14, S15 read them this way). */
    public static List<Candidate> fromTable(Table t) {
        return RecordSchema.of(Row.class).read(t).stream().map(Row::candidate).toList();
    }

    /**
     * The registered set, checked against its recorded SHA-256: a set edited after registration fails here
     * instead of being scored.
     */
    public static List<Candidate> load(StageContext ctx) {
        List<Candidate> cs = fromTable(ctx.read(DIR, null, TABLE));
        Path shaFile = ctx.dir(DIR, null).resolve(SHA_FILE);
        String recorded;
        try {
            recorded = Files.readString(shaFile).strip().split("\\s+")[0];
        } catch (IOException e) {
            throw new UserError("The held-out candidate set has no recorded hash (" + shaFile + ").",
                    "Run the candidate-set stage (S13) before held-out scoring.", e);
        }
        String actual = Hashing.sha256(canonicalCsv(cs));
        if (!actual.equals(recorded))
            throw new UserError("The held-out candidate set no longer matches its registered SHA-256 (" + recorded
                    + ", now " + actual + ").", "Re-run S13 to register a new set; never edit a registered set.");
        return cs;
    }

    /**
     * The set as the reference's pandas {@code to_csv} writes it: header, one line per candidate, floats in
     * Python repr, booleans True/False, missing values empty, minimal quoting, '\n' line ends.
     */
    public static String canonicalCsv(List<Candidate> cs) {
        StringBuilder sb = new StringBuilder(String.join(",", COLUMNS)).append('\n');
        for (Candidate c : cs) {
            List<String> cells = List.of(c.candidateId(), String.valueOf(c.head().layer()), String.valueOf(c.head().head()),
                    c.group(), c.sourceReason(), c.priorMeanGap() == null ? "" : PyFormat.repr(c.priorMeanGap()),
                    c.priorReplicationStatus(), pyBool(c.priorRawAttention()), pyBool(c.priorRandomComparison()),
                    pyBool(c.includeInMain()));
            sb.append(String.join(",", cells.stream().map(HeldoutCandidateStage::csvCell).toList())).append('\n');
        }
        return sb.toString();
    }

    private static String pyBool(boolean b) {
        return b ? "True" : "False";
    }

    private static String csvCell(String s) {
        if (s.contains(",") || s.contains("\"") || s.contains("\n") || s.contains("\r"))
            return "\"" + s.replace("\"", "\"\"") + "\"";
        return s;
    }

    /** heldout_candidate_set.json: the registered set, its rows as the table's, and the hash of its CSV. */
    record Payload(String source, int nCandidates, Map<String, Integer> candidateGroups, List<Row> candidates,
                   String selectionNote, String sha256, String sha256Of) {}

    private static Payload payload(Selection sel, String sha) {
        Map<String, Integer> groups = new TreeMap<>();
        sel.candidates().forEach(c -> groups.merge(c.group(), 1, Integer::sum));
        return new Payload(sel.source(), sel.candidates().size(), groups, sel.candidates().stream().map(Row::of).toList(),
                "Candidate set is fixed from prior results before held-out scoring.", sha, TABLE + ".csv");
    }

    private static String markdown(Payload payload, Selection sel) {
        List<Candidate> cs = sel.candidates();
        StringBuilder sb = new StringBuilder("# Held-Out Robustness Candidate Set\n\n")
                .append("This candidate set was fixed before held-out scoring.\n\n")
                .append("- Source: `").append(payload.source()).append("`\n")
                .append("- Candidates: `").append(cs.size()).append("`\n")
                .append("- Groups: `").append(payload.candidateGroups()).append("`\n")
                .append("- SHA-256 of heldout_candidate_set.csv: `").append(payload.sha256()).append("`\n\n")
                .append("| candidate_id | head | group | prior status | prior gap | flags |\n| --- | --- | --- | --- | --- | --- |\n");
        for (Candidate c : cs) {
            List<String> flags = new ArrayList<>();
            if (c.priorRawAttention()) flags.add("raw-attention");
            if (c.priorRandomComparison()) flags.add("random-comparison");
            sb.append("| ").append(c.candidateId()).append(" | ").append(c.head()).append(" | ").append(c.group()).append(" | ")
                    .append(c.priorReplicationStatus()).append(" | ")
                    .append(c.priorMeanGap() == null ? "" : PyFormat.fixed(c.priorMeanGap(), 4))
                    .append(" | ").append(String.join(", ", flags)).append(" |\n");
        }
        if (sel.source().equals("derived_from_s12") && cs.stream().noneMatch(c -> c.group().contains("replicated")))
            sb.append("\nNo head met the replicated rule; the set holds comparison heads and negative controls only.\n");
        sb.append("\nA head flagged as a prior random-comparison candidate keeps that flag; the held-out run must not treat "
                + "that label as evidence.\n");
        return sb.toString();
    }

    /** A small RFC 4180 reader (quoted cells, doubled quotes, CRLF) for candidate files. */
    static final class Csv {
        private Csv() {}

        static List<Map<String, String>> parse(String text, String where) {
            List<List<String>> records = records(text);
            if (records.isEmpty()) return List.of();
            List<String> header = records.get(0).stream().map(String::strip).toList();
            List<Map<String, String>> out = new ArrayList<>();
            for (int i = 1; i < records.size(); i++) {
                List<String> rec = records.get(i);
                if (rec.size() == 1 && rec.get(0).isBlank()) continue;
                if (rec.size() != header.size())
                    throw new UserError(where + " line " + (i + 1) + " has " + rec.size() + " cells but the header has "
                            + header.size() + ".", "Give every row one value per header column.");
                Map<String, String> row = new HashMap<>();
                for (int j = 0; j < header.size(); j++) row.put(header.get(j), rec.get(j));
                out.add(row);
            }
            return out;
        }

        private static List<List<String>> records(String text) {
            List<List<String>> out = new ArrayList<>();
            List<String> rec = new ArrayList<>();
            StringBuilder cell = new StringBuilder();
            boolean quoted = false, any = false;
            for (int i = 0; i < text.length(); i++) {
                char ch = text.charAt(i);
                any = true;
                if (quoted) {
                    if (ch == '"' && i + 1 < text.length() && text.charAt(i + 1) == '"') {
                        cell.append('"');
                        i++;
                    } else if (ch == '"') quoted = false;
                    else cell.append(ch);
                } else if (ch == '"') quoted = true;
                else if (ch == ',') {
                    rec.add(cell.toString());
                    cell.setLength(0);
                } else if (ch == '\n' || ch == '\r') {
                    if (ch == '\r' && i + 1 < text.length() && text.charAt(i + 1) == '\n') i++;
                    rec.add(cell.toString());
                    cell.setLength(0);
                    out.add(rec);
                    rec = new ArrayList<>();
                    any = false;
                } else cell.append(ch);
            }
            if (any) {
                rec.add(cell.toString());
                out.add(rec);
            }
            return out;
        }
    }
}
