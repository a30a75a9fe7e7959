package org.milab.report;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import org.milab.tables.Column;
import org.milab.tables.ColumnType;
import org.milab.tables.Table;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

import static org.milab.stage.RunFolder.bool;
import static org.milab.stage.RunFolder.dbl;
import static org.milab.stage.RunFolder.lng;
import static org.milab.stage.RunFolder.str;
import static org.milab.report.Vl.arr;
import static org.milab.report.Vl.field;
import static org.milab.report.Vl.obj;
import static org.milab.report.Vl.tip;
import org.milab.stage.RunFolder;
import org.milab.stats.Num;
import org.milab.protocol.reference.FailureTaxonomyStage;
import org.milab.protocol.reference.MetricCalibrationStage;

/** The descriptive and closing stages as charts: logit-lens curves (S5), failure taxonomy (S18), metric calibration (S19). */
final class StageFigures {
    static final String TAXONOMY = FailureTaxonomyStage.DIR + "/" + FailureTaxonomyStage.BY_HEAD;
    static final String CALIBRATION = MetricCalibrationStage.DIR + "/" + MetricCalibrationStage.BY_EXAMPLE;
    static final String CALIBRATION_SUMMARY = MetricCalibrationStage.DIR + "/" + MetricCalibrationStage.SUMMARY_JSON;

    private StageFigures() {}

    /** Mean p(expected token) per layer and family, on the first seed of each prompt set. */
    static Optional<Figure> logitLens(RunFolder run) {
        List<Map<String, Object>> rows = new ArrayList<>();
        List<String> sources = new ArrayList<>();
        for (String stage : List.of("controls", "heldout")) {
            List<Integer> seeds = run.seeds(stage);
            if (seeds.isEmpty()) continue;
            String rel = stage + "/seed" + seeds.get(0) + "/logit_lens_by_family";
            Optional<Table> t = run.table(rel);
            if (t.isEmpty()) continue;
            sources.add(RunFolder.link(rel));
            for (Table.Row r : t.get().rows()) {
                Map<String, Object> m = new LinkedHashMap<>();
                m.put("prompt_set", stage + " seed " + seeds.get(0));
                m.put("family", str(r, "family"));
                m.put("kind", bool(r, "should_show_induction_behavior") ? "positive" : "control");
                m.put("layer", lng(r, "layer"));
                m.put("p", dbl(r, "mean_expected_probability"));
                m.put("logit", dbl(r, "mean_expected_logit"));
                m.put("n", lng(r, "n_examples"));
                rows.add(m);
            }
        }
        if (rows.isEmpty()) return Optional.empty();
        ObjectNode enc = obj("x", field("layer", "ordinal", "title", "layer (resid_post, through ln_final and the unembedding)", "axis", obj("labelAngle", 0)),
                "y", field("p", "quantitative", "title", "mean p(expected token)", "scale", obj("domain", arr(0, 1))),
                "color", field("family", "nominal"), "strokeDash", field("kind", "nominal", "title", "family kind"));
        ObjectNode unit = obj("width", 320, "height", 220, "layer", arr(
                obj("mark", "line", "encoding", enc),
                obj("name", "lens_points", "mark", obj("type", "point", "filled", true), "encoding", enc.deepCopy().setAll(obj("tooltip", arr(
                        tip("family", "nominal", "family"), tip("layer", "ordinal", "layer"), tip("p", "quantitative", "mean p(expected)"),
                        tip("logit", "quantitative", "mean logit(expected)"), tip("n", "quantitative", "examples")))))));
        ObjectNode spec = obj("$schema", Vl.SCHEMA, "data", Vl.data(rows), "facet", obj("column", field("prompt_set", "nominal", "title", null)),
                "spec", unit);
        return Optional.of(new Figure("logit-lens", "Logit lens", "Logit lens (S5): p(expected token) by layer",
                "Each family's mean probability of the expected next token when the residual stream after each layer is "
                        + "read out directly. Sources: " + String.join(", ", sources) + ".", spec, List.of("lens_points"), rows.size()));
    }

    /** S18: how many row and head labels each failure mode got, per head. */
    static Optional<Figure> taxonomy(RunFolder run) {
        Optional<Table> t = run.table(TAXONOMY);
        if (t.isEmpty()) return Optional.empty();
        List<String> modes = new ArrayList<>();
        boolean after = false;
        for (Column c : t.get().columns()) { // the mode counts: INT64 columns between the status columns and the summary
            if (c.name().equals("mean_attention_effect_corr")) after = true;
            else if (after && c.type() == ColumnType.INT64 && !c.name().startsWith("n_")) modes.add(c.name());
        }
        List<Map<String, Object>> rows = new ArrayList<>();
        for (Table.Row r : t.get().rows())
            for (String m : modes) {
                Long n = lng(r, m);
                if (n == null || n == 0) continue;
                rows.add(Vl.row("head", str(r, "head_label"), "mode", m, "count", n,
                        "final_status", String.valueOf(str(r, "final_status"))));
            }
        if (rows.isEmpty()) return Optional.empty();
        ObjectNode spec = obj("$schema", Vl.SCHEMA, "data", Vl.data(rows), "width", 420, "height", obj("step", 18),
                "name", "taxonomy_bars", "mark", "bar",
                "encoding", obj("y", field("head", "nominal", "title", "head"), "x", field("count", "quantitative", "title", "labels", "stack", "zero"),
                        "color", field("mode", "nominal", "title", "failure mode", "sort", Vl.arrOf(modes)),
                        "tooltip", arr(tip("head", "nominal", "head"), tip("mode", "nominal", "mode"), tip("count", "quantitative", "labels"),
                                tip("final_status", "nominal", "S16 status"))));
        return Optional.of(new Figure("taxonomy", "Failure taxonomy", "Failure taxonomy (S18): labels per head and mode",
                "Counts are labels on the S17 counterexample rows (a row can carry several) plus head-level labels, as the "
                        + "reference counts them; they are not independent failures. Source: " + RunFolder.link(TAXONOMY) + ".",
                spec, List.of("taxonomy_bars"), rows.size()));
    }

    /** S19: every calibration prompt's true-vs-control logit difference, per family, with the status it led to. */
    static Optional<Figure> calibration(RunFolder run) {
        Optional<Table> t = run.table(CALIBRATION);
        if (t.isEmpty()) return Optional.empty();
        List<Map<String, Object>> rows = new ArrayList<>();
        for (Table.Row r : t.get().rows()) {
            Double d = dbl(r, "true_vs_control_logit_diff");
            if (d == null || d.isNaN()) continue;
            Map<String, Object> m = new LinkedHashMap<>();
            m.put("family", str(r, "family"));
            m.put("kind", bool(r, "should_show_induction_behavior") ? "positive" : "control");
            m.put("diff", d);
            m.put("example", str(r, "example_id"));
            m.put("prompt", str(r, "prompt"));
            rows.add(m);
        }
        if (rows.isEmpty()) return Optional.empty();
        JsonNode s = run.json(CALIBRATION_SUMMARY);
        ObjectNode y = field("family", "nominal", "title", null, "sort", obj("field", "diff", "op", "mean", "order", "descending"));
        ObjectNode color = field("kind", "nominal", "title", "family kind", "scale", obj("domain", arr("positive", "control"), "range", arr("#2166ac", "#b2182b")));
        ObjectNode spec = obj("$schema", Vl.SCHEMA, "data", Vl.data(rows), "width", 420, "height", obj("step", 20), "layer", arr(
                obj("mark", obj("type", "tick", "thickness", 3, "color", "#333"), "encoding", obj("y", y,
                        "x", obj("aggregate", "mean", "field", "diff", "type", "quantitative"))),
                obj("name", "calibration_points", "mark", obj("type", "point", "filled", true, "opacity", 0.7),
                        "encoding", obj("y", y, "x", field("diff", "quantitative", "title", "true-vs-control logit difference"), "color", color,
                                "tooltip", arr(tip("example", "nominal", "example"), tip("prompt", "nominal", "prompt"), tip("diff", "quantitative", "logit diff"))))));
        String status = s.path("status").asText("?");
        return Optional.of(new Figure("calibration", "Metric calibration", "Metric calibration (S19): status `" + status + "`, search allowed: "
                        + s.path("search_allowed").asText("?"),
                "Each dot is one calibration prompt, the black tick its family mean. The metric is calibrated only if positives beat the "
                        + "hardest control family by at least " + Num.sig(s.path("thresholds").path("min_positive_minus_max_control_gap").asDouble(Double.NaN))
                        + "; here positives " + Num.sig(s.path("positive_mean_true_vs_control_logit_diff").asDouble(Double.NaN)) + " vs hardest control "
                        + Num.sig(s.path("max_control_mean_true_vs_control_logit_diff").asDouble(Double.NaN)) + ". Sources: " + RunFolder.link(CALIBRATION)
                        + ", " + CALIBRATION_SUMMARY + ".", spec, List.of("calibration_points"), rows.size()));
    }
}
