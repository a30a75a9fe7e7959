package org.milab.report;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import org.milab.graph.Head;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import static org.milab.report.Vl.arr;
import static org.milab.report.Vl.field;
import static org.milab.report.Vl.obj;
import static org.milab.report.Vl.tip;

/** The report's chart types as Vega-Lite specs; every figure's data is inline, so the page needs no fetch. */
final class Charts {
    static final int CELL = 34;

    private Charts() {}

    /**
     * A value per head.
     *
     * @param extra further tooltip fields (name -> value), shown in insertion order
     */
    record Cell(Head head, Double value, Double ciLow, Double ciHigh, Map<String, Object> extra) {
        Cell(Head head, Double value, Map<String, Object> extra) {
            this(head, value, null, null, extra);
        }
    }

    /**
     * A layer x head heatmap on a diverging scale centred at 0, its domain the largest |value| of these cells
     * (for a quantity with a known range, pass a fixed {@link Scale} instead so panels compare).
     */
    static Figure headHeatmap(String id, String section, String title, String caption, List<Cell> cells, List<Head> grid,
                              String valueTitle) {
        double maxAbs = 0;
        for (Cell c : cells) if (c.value() != null && Double.isFinite(c.value())) maxAbs = Math.max(maxAbs, Math.abs(c.value()));
        return headHeatmap(id, section, title, caption, cells, grid, valueTitle, Scale.diverging(maxAbs), null);
    }

    /**
     * The colour scale of one quantity, shared by every panel that shows it.
     *
     * @param vega the Vega-Lite scale (domain fixed, values outside it clamped)
     */
    record Scale(ObjectNode vega) {
        /** Symmetric around 0: +-maxAbs (1 when there is nothing to scale), red negative, blue positive. */
        static Scale diverging(double maxAbs) {
            ObjectNode s = Vl.diverging(maxAbs);
            s.put("clamp", true);
            return new Scale(s);
        }

        /** Low to high, from 0. */
        static Scale sequential(double max, String scheme) {
            return new Scale(obj("scheme", scheme, "domain", arr(0, max), "clamp", true));
        }
    }

    /**
     * A layer x head heatmap. Heads of {@code grid} without a value are drawn grey ("not tested"); where a cell
     * has a CI that contains 0 it is faded and marked with a dot; cells whose extra field {@code markField} is
     * true carry a star (e.g. significant after correction).
     */
    static Figure headHeatmap(String id, String section, String title, String caption, List<Cell> cells, List<Head> grid,
                              String valueTitle, Scale scale, String markField) {
        List<Map<String, Object>> rows = new ArrayList<>();
        boolean anyCi = false;
        List<String> extraNames = new ArrayList<>();
        for (Cell c : cells) {
            if (c.value() == null || !Double.isFinite(c.value())) continue;
            Map<String, Object> r = new LinkedHashMap<>();
            r.put("layer", c.head().layer());
            r.put("head", c.head().head());
            r.put("label", c.head().label());
            r.put("value", c.value());
            if (c.ciLow() != null && c.ciHigh() != null && Double.isFinite(c.ciLow()) && Double.isFinite(c.ciHigh())) {
                anyCi = true;
                r.put("ci_low", c.ciLow());
                r.put("ci_high", c.ciHigh());
                r.put("ci_contains_zero", c.ciLow() <= 0 && c.ciHigh() >= 0);
            }
            c.extra().forEach((k, v) -> {
                r.put(k, v);
                if (!extraNames.contains(k)) extraNames.add(k);
            });
            rows.add(r);
        }
        List<Map<String, Object>> background = new ArrayList<>();
        for (Head h : grid) background.add(Vl.row("layer", h.layer(), "head", h.head(), "label", h.label()));
        ObjectNode x = field("head", "ordinal", "title", "head", "axis", obj("labelAngle", 0));
        ObjectNode y = field("layer", "ordinal", "title", "layer");
        ArrayNode tooltip = arr(tip("label", "nominal", "head"), tip("value", "quantitative", valueTitle));
        if (anyCi) {
            tooltip.add(tip("ci_low", "quantitative", "95% CI low"));
            tooltip.add(tip("ci_high", "quantitative", "95% CI high"));
        }
        for (String e : extraNames) tooltip.add(tip(e, rows.stream().anyMatch(r -> r.get(e) instanceof Number) ? "quantitative" : "nominal", e.replace('_', ' ')));
        ObjectNode cellsLayer = obj("name", "cells", "data", Vl.data(rows), "mark", obj("type", "rect", "stroke", "#fff"),
                "encoding", obj("x", x, "y", y,
                        "color", field("value", "quantitative", "title", valueTitle, "scale", scale.vega()),
                        "opacity", anyCi ? obj("condition", obj("test", "datum.ci_contains_zero", "value", 0.3), "value", 1) : null,
                        "tooltip", tooltip));
        List<Object> layers = new ArrayList<>();
        layers.add(obj("data", Vl.data(background), "mark", obj("type", "rect", "fill", "#e8e8e8", "stroke", "#fff"),
                "encoding", obj("x", x, "y", y, "tooltip", arr(tip("label", "nominal", "not tested")))));
        layers.add(cellsLayer);
        if (anyCi)
            layers.add(obj("data", Vl.data(rows), "transform", arr(obj("filter", "datum.ci_contains_zero")),
                    "mark", obj("type", "text", "text", "\u00b7", "fontSize", 16, "color", "#555"), "encoding", obj("x", x, "y", y)));
        if (markField != null)
            layers.add(obj("data", Vl.data(rows), "transform", arr(obj("filter", "datum." + markField)),
                    "mark", obj("type", "text", "text", "*", "fontSize", 15, "fontWeight", "bold", "color", "#fff", "dy", 4),
                    "encoding", obj("x", x, "y", y)));
        long nHeads = grid.stream().map(Head::head).distinct().count(), nLayers = grid.stream().map(Head::layer).distinct().count();
        int cell = largeGrid(grid) ? CELL / 2 : CELL;
        ObjectNode spec = obj("$schema", Vl.SCHEMA, "width", Math.max(120, nHeads * cell),
                "height", Math.max(60, nLayers * cell), "layer", arr(layers.toArray()));
        return new Figure(id, section, title, caption, spec, java.util.List.of("cells"), rows.size());
    }

    /** Heatmap cells on the first screen, where four or five figures share a 1366 px wide row (GPT-2 small: 168 x 168 px). */
    static final int FIRST_SCREEN_CELL = 24, FIRST_SCREEN_CELL_LARGE = 14, FIRST_SCREEN_STEP = 12;

    /**
     * The same figure sized for the page's first screen: a layer x head heatmap gets smaller cells, and every
     * legend goes under the chart instead of beside it, so the figures that answer the run sit side by side.
     */
    static Figure firstScreen(Figure f, List<Head> grid) {
        if (isCompact(f)) return f;
        ObjectNode spec = f.spec().deepCopy();
        if (isHeatmap(f)) {
            long nHeads = grid.stream().map(Head::head).distinct().count(), nLayers = grid.stream().map(Head::layer).distinct().count();
            int cell = largeGrid(grid) ? FIRST_SCREEN_CELL_LARGE : FIRST_SCREEN_CELL;
            spec.put("width", Math.max(96, nHeads * cell));
            spec.put("height", Math.max(40, nLayers * cell));
        } else if (spec.path("height").has("step")) spec.set("height", obj("step", FIRST_SCREEN_STEP)); // one line per item
        spec.set("config", obj("legend", obj("orient", "bottom", "offset", 6, "gradientLength", 120, "gradientThickness", 10,
                "titleFontSize", 10, "labelFontSize", 9, "symbolSize", 60)));
        return new Figure(f.id(), f.section(), f.title(), f.caption(), spec, f.markNames(), f.expectedItems());
    }

    /** Sized by {@link #firstScreen} (its legend under the chart): the page gives it a narrow caption. */
    static boolean isCompact(Figure f) {
        return f.spec().path("config").path("legend").path("orient").asText().equals("bottom");
    }

    /** A layer x head heatmap of {@link #headHeatmap}. */
    static boolean isHeatmap(Figure f) {
        return f.markNames().equals(List.of("cells"));
    }

    /** More than 8 layers or heads: heatmap cells are halved. */
    static boolean largeGrid(List<Head> grid) {
        return grid.stream().map(Head::head).distinct().count() > 8 || grid.stream().map(Head::layer).distinct().count() > 8;
    }

    /** A query x key attention grid with token labels, one per prompt, side by side. */
    static ObjectNode attentionGrid(String name, String title, List<Map<String, Object>> rows) {
        ObjectNode x = field("key", "ordinal", "title", "key token", "sort", obj("field", "key_pos"),
                "axis", obj("labelAngle", -45));
        ObjectNode y = field("query", "ordinal", "title", "query token", "sort", obj("field", "query_pos"));
        return obj("name", name, "title", title, "data", Vl.data(rows), "width", obj("step", 16), "height", obj("step", 16),
                "mark", obj("type", "rect"),
                "encoding", obj("x", x, "y", y,
                        "color", field("value", "quantitative", "title", "attention", "scale", obj("scheme", "blues", "domain", arr(0, 1))),
                        "tooltip", arr(tip("query", "nominal", "query"), tip("key", "nominal", "key"), tip("value", "quantitative", "attention"))));
    }
}
