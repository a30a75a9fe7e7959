package org.milab.report;

import com.fasterxml.jackson.databind.node.ObjectNode;
import org.milab.graph.Head;
import org.milab.report.Charts.Cell;
import org.milab.tables.Table;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;
import java.util.TreeSet;

import static org.milab.stage.RunFolder.dbl;
import static org.milab.stage.RunFolder.str;
import static org.milab.report.Vl.arr;
import static org.milab.report.Vl.field;
import static org.milab.report.Vl.obj;
import static org.milab.report.Vl.tip;
import org.milab.stage.RunFolder;
import org.milab.stage.HeadVerdict;
import org.milab.stage.ProtocolVerdict;
import org.milab.stats.DenominatorFloor;
import org.milab.stats.Num;
import org.milab.stats.Stats;
import org.milab.protocol.reference.HeldoutRobustnessStage;
import org.milab.protocol.reference.ReferenceVerdicts;
import org.milab.protocol.reference.Counterexamples;

/** Patching-effect figures: the sweep's positives-vs-control view, layer x head heatmaps, per-family distributions. */
final class EffectFigures {
    static final String SECTION = "Patching effects";
    static final String HELDOUT_DIR = HeldoutRobustnessStage.DIR;
    static final String HELDOUT_BY_CANDIDATE = HeldoutRobustnessStage.BY_CANDIDATE;
    static final String HELDOUT_RESULTS = HeldoutRobustnessStage.RESULTS;
    static final String NO_CI = " The reference protocol computes no confidence intervals, so no cell carries a CI mark.";

    /** Every normalized effect (0 = corrupt, 1 = clean) on one scale, so float noise near 0 stays white in every panel. */
    static final Charts.Scale NORMALIZED = Charts.Scale.diverging(1.0);
    static final String SHARED_SCALE = "one colour scale for every normalized effect on this page: -1 to 1, centred at 0, clamped";

    private EffectFigures() {}

    /** Every head any table of the run names, as the heatmaps' grid (layers seen x heads 0..max). */
    static List<Head> grid(RunFolder run, RunVerdict v) {
        TreeSet<Integer> layers = new TreeSet<>();
        int maxHead = 0;
        for (ProtocolVerdict p : v.protocols())
            for (HeadVerdict h : p.heads()) {
                layers.add(h.head().layer());
                maxHead = Math.max(maxHead, h.head().head());
            }
        List<Head> out = new ArrayList<>();
        for (int l : layers) for (int h = 0; h <= maxHead; h++) out.add(new Head(l, h));
        return out;
    }

    /** The positives-vs-control view draws at most this many heads (one line each). */
    static final int MAX_DOT_ROWS = 24;

    private static double abs(Double v) {
        return v == null || v.isNaN() ? 0 : Math.abs(v);
    }

    /**
     * S11/S12: each swept head's mean effect on positive families beside its hardest control family; on a model
     * with more than {@link #MAX_DOT_ROWS} swept heads, those with the largest |effect| (the caption says so).
     */
    static Optional<Figure> sweepPositivesVsControl(RunFolder run) {
        Optional<Table> t = run.table(ReferenceVerdicts.SWEEP);
        if (t.isEmpty()) return Optional.empty();
        List<Map<String, Object>> rows = new ArrayList<>();
        // one line per head: on a large model only the heads with the largest effects (every head is in the heatmaps)
        List<Table.Row> heads = new ArrayList<>(t.get().rows());
        int swept = heads.size();
        java.util.function.ToDoubleFunction<Table.Row> size = r -> Math.max(abs(dbl(r, "mean_positive_effect")), abs(dbl(r, "mean_max_control_effect")));
        heads.sort(java.util.Comparator.comparingDouble(size).reversed());
        if (heads.size() > MAX_DOT_ROWS) heads = heads.subList(0, MAX_DOT_ROWS);
        for (Table.Row r : heads) {
            Head h = ReferenceVerdicts.head(r);
            for (String[] m : new String[][] {{"positive families", "mean_positive_effect"}, {"hardest control family", "mean_max_control_effect"}}) {
                Double v = dbl(r, m[1]);
                if (v == null || v.isNaN()) continue;
                Map<String, Object> row = new LinkedHashMap<>();
                row.put("label", h.label());
                row.put("layer", h.layer());
                row.put("head", h.head());
                row.put("measure", m[0]);
                row.put("effect", v);
                row.put("status", str(r, "replication_status"));
                rows.add(row);
            }
        }
        ObjectNode y = field("label", "nominal", "title", "head", "sort", obj("field", "effect", "op", "max", "order", "descending"));
        ObjectNode spec = obj("$schema", Vl.SCHEMA, "data", Vl.data(rows), "width", 420,
                "height", obj("step", 16),
                "layer", arr(
                        obj("mark", obj("type", "line", "color", "#999"), "encoding", obj("y", y,
                                "x", field("effect", "quantitative"), "detail", field("label", "nominal"))),
                        obj("name", "points", "mark", obj("type", "point", "filled", true, "size", 70),
                                "encoding", obj("y", y, "x", field("effect", "quantitative", "title", "mean normalized effect (0 = corrupt, 1 = clean)"),
                                        "color", field("measure", "nominal", "title", null, "scale", obj("domain", arr("positive families", "hardest control family"),
                                                "range", arr("#2166ac", "#b2182b"))),
                                        "tooltip", arr(tip("label", "nominal", "head"), tip("measure", "nominal", "measure"),
                                                tip("effect", "quantitative", "mean effect"), tip("status", "nominal", "S12 status")))),
                        obj("mark", obj("type", "rule", "strokeDash", arr(4, 4), "color", "#555"), "encoding", obj("x", obj("datum", 0)))));
        return Optional.of(new Figure("sweep-positives-vs-control", SECTION,
                "Head sweep (S11/S12): positives vs the hardest control, per head",
                (swept > MAX_DOT_ROWS ? "The " + MAX_DOT_ROWS + " of " + swept + " swept heads with the largest |effect| (every head: "
                        + "the sweep heatmaps). " : "")
                        + "Clean-to-corrupt patch of each head's hook_z at the final position, mean normalized effect over the sweep seeds. "
                        + "A head that carries the answer moves positives towards 1; if it moves a control family as much, the "
                        + "reference calls it nonspecific. Source: " + RunFolder.link(ReferenceVerdicts.SWEEP) + "." + NO_CI,
                spec, List.of("points"), rows.size()));
    }

    /** S11/S12 heatmaps: positives and hardest control, per swept head. */
    static List<Figure> sweepHeatmaps(RunFolder run, List<Head> grid) {
        Optional<Table> t = run.table(ReferenceVerdicts.SWEEP);
        if (t.isEmpty()) return List.of();
        List<Figure> out = new ArrayList<>();
        for (String[] m : new String[][] {{"positive", "mean_positive_effect", "positive families"},
                {"control", "mean_max_control_effect", "the hardest control family"}}) {
            List<Cell> cells = new ArrayList<>();
            for (Table.Row r : t.get().rows())
                cells.add(new Cell(ReferenceVerdicts.head(r), dbl(r, m[1]), extra("S12 status", str(r, "replication_status"))));
            out.add(Charts.headHeatmap("sweep-heatmap-" + m[0], SECTION,
                    "Head sweep: head_clean_to_corrupt_patch at final, " + m[2],
                    "Mean normalized effect over the sweep seeds on " + m[2] + " (" + SHARED_SCALE + "; grey: not swept). Source: "
                            + RunFolder.link(ReferenceVerdicts.SWEEP) + "." + NO_CI, cells, grid, "mean effect", NORMALIZED, null));
        }
        return out;
    }

    /** S14: one heatmap per intervention and position, positive-family mean effect averaged over the held-out seeds. */
    static List<Figure> heldoutHeatmaps(RunFolder run, List<Head> grid) {
        Map<List<String>, Map<Head, List<Table.Row>>> bySlice = new TreeMap<>(java.util.Comparator.comparing(Object::toString));
        List<String> sources = new ArrayList<>();
        for (int seed : run.seeds(HELDOUT_DIR)) {
            String rel = HELDOUT_DIR + "/seed" + seed + "/" + HELDOUT_BY_CANDIDATE;
            Optional<Table> t = run.table(rel);
            if (t.isEmpty()) continue;
            sources.add(RunFolder.link(rel));
            for (Table.Row r : t.get().rows())
                bySlice.computeIfAbsent(List.of(str(r, "intervention"), str(r, "position_label")), k -> new TreeMap<>())
                        .computeIfAbsent(ReferenceVerdicts.head(r), k -> new ArrayList<>()).add(r);
        }
        List<Figure> out = new ArrayList<>();
        bySlice.forEach((slice, heads) -> {
            List<Cell> cells = new ArrayList<>();
            heads.forEach((h, rows) -> {
                Map<String, Object> extra = new LinkedHashMap<>();
                extra.put("hardest_control_mean", mean(rows, "max_control_family_mean_effect"));
                extra.put("seeds", rows.size());
                extra.put("statuses", String.join(", ", rows.stream().map(r -> str(r, "survival_status")).distinct().toList()));
                cells.add(new Cell(h, mean(rows, "positive_family_mean_effect"), extra));
            });
            out.add(Charts.headHeatmap("heldout-heatmap-" + slice.get(0) + "-" + slice.get(1), SECTION,
                    "Held-out (S14): " + slice.get(0) + " at " + slice.get(1),
                    "Positive-family mean normalized effect, averaged over " + sources.size() + " held-out seeds, for the registered "
                            + "candidates (" + SHARED_SCALE + "; grey: not registered). Sources: " + String.join(", ", sources) + "." + NO_CI,
                    cells, grid, "positive mean effect", NORMALIZED, null));
        });
        return out;
    }

    /**
     * Per-family effect distributions of the named heads over the held-out seeds, the normalized effect beside
     * the raw delta (patched - corrupt), for one intervention and position at a time (a menu picks them).
     * Rows with |clean - corrupt| below the floor are drawn as crosses: their normalized effect is unstable.
     */
    static Optional<Figure> heldoutDistributions(RunFolder run, List<Head> named) {
        List<Map<String, Object>> rows = new ArrayList<>();
        TreeSet<String> interventions = new TreeSet<>(), positions = new TreeSet<>();
        List<String> sources = new ArrayList<>();
        for (int seed : run.seeds(HELDOUT_DIR)) {
            String rel = HELDOUT_DIR + "/seed" + seed + "/" + HELDOUT_RESULTS;
            Optional<Table> t = run.table(rel);
            if (t.isEmpty()) continue;
            sources.add(RunFolder.link(rel));
            for (Table.Row r : t.get().rows()) {
                Head h = ReferenceVerdicts.head(r);
                if (!named.contains(h)) continue;
                Double e = dbl(r, "effect_size"), clean = dbl(r, "clean_score"), corrupt = dbl(r, "corrupt_score"), patched = dbl(r, "patched_score");
                if (clean == null || corrupt == null || patched == null) continue;
                String iv = str(r, "intervention"), pos = str(r, "position_label");
                interventions.add(iv);
                positions.add(pos);
                boolean unstable = Math.abs(clean - corrupt) < DenominatorFloor.VALUE;
                for (Object[] m : new Object[][] {{"normalized effect", e}, {"raw delta (patched - corrupt)", patched - corrupt}}) {
                    if (m[1] == null || ((Double) m[1]).isNaN()) continue;
                    Map<String, Object> row = new LinkedHashMap<>();
                    row.put("head", h.label());
                    row.put("family", str(r, "family"));
                    row.put("type", str(r, "heldout_family_type"));
                    row.put("intervention", iv);
                    row.put("position", pos);
                    row.put("measure", m[0]);
                    row.put("value", m[1]);
                    row.put("clean_minus_corrupt", clean - corrupt);
                    row.put("stability", unstable ? "unstable (|clean - corrupt| < " + Num.sig(DenominatorFloor.VALUE) + ")" : "stable");
                    row.put("seed", RunFolder.lng(r, "seed"));
                    row.put("example", str(r, "example_id"));
                    rows.add(row);
                }
            }
        }
        if (rows.isEmpty()) return Optional.empty();
        String iv0 = interventions.contains("head_clean_to_corrupt_patch") ? "head_clean_to_corrupt_patch" : interventions.first();
        String pos0 = positions.contains("final") ? "final" : positions.first();
        int shown = (int) rows.stream().filter(r -> iv0.equals(r.get("intervention")) && pos0.equals(r.get("position"))).count();
        ObjectNode unit = obj("name", "strips", "width", 300, "height", obj("step", 14),
                "mark", obj("type", "point", "filled", true, "size", 28, "opacity", 0.6),
                "encoding", obj("x", field("value", "quantitative", "title", null),
                        "y", field("family", "nominal", "title", null),
                        "color", field("type", "nominal", "title", "family type", "scale", obj("domain", arr("positive", "control"), "range", arr("#2166ac", "#b2182b"))),
                        "shape", field("stability", "nominal", "title", "denominator", "scale", obj("range", arr("circle", "cross"))),
                        "tooltip", arr(tip("head", "nominal", "head"), tip("family", "nominal", "family"), tip("example", "nominal", "example"),
                                tip("seed", "quantitative", "seed"), tip("measure", "nominal", "measure"), tip("value", "quantitative", "value"),
                                tip("clean_minus_corrupt", "quantitative", "clean - corrupt"))));
        ObjectNode spec = obj("$schema", Vl.SCHEMA, "data", Vl.data(rows),
                "params", arr(obj("name", "intervention", "value", iv0, "bind", obj("input", "select", "options", Vl.arrOf(interventions), "name", "intervention ")),
                        obj("name", "position", "value", pos0, "bind", obj("input", "select", "options", Vl.arrOf(positions), "name", "position "))),
                "transform", arr(obj("filter", "datum.intervention == intervention && datum.position == position")),
                "facet", obj("row", field("head", "nominal", "title", null), "column", field("measure", "nominal", "title", null,
                        "sort", arr("normalized effect", "raw delta (patched - corrupt)"))),
                "spec", unit, "resolve", obj("scale", obj("x", "independent")));
        return Optional.of(new Figure("heldout-distributions", SECTION, "Held-out effects per family: normalized effect and raw delta",
                "Every held-out prompt row of the heads the verdicts name, all seeds; pick the intervention and position in the menus. "
                        + "Normalized effect = (patched - corrupt) / (clean - corrupt); crosses mark rows whose |clean - corrupt| is below "
                        + Num.sig(DenominatorFloor.VALUE) + " (logit units), where the ratio is unstable. Sources: " + String.join(", ", sources) + ".",
                spec, List.of("strips"), shown));
    }

    static Map<String, Object> extra(Object... kv) {
        Map<String, Object> m = new LinkedHashMap<>();
        for (int i = 0; i < kv.length; i += 2) if (kv[i + 1] != null) m.put((String) kv[i], kv[i + 1]);
        return m;
    }

    static Double mean(List<Table.Row> rows, String column) {
        return Stats.orNull(Stats.mean(rows.stream().map(r -> dbl(r, column)).toList()));
    }
}
