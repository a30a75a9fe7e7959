package org.milab.report;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import org.milab.graph.Head;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;

import static org.milab.report.Vl.arr;
import static org.milab.report.Vl.field;
import static org.milab.report.Vl.obj;
import static org.milab.report.Vl.tip;
import org.milab.stage.RunFolder;
import org.milab.stage.HeadVerdict;
import org.milab.stage.ProtocolVerdict;
import org.milab.protocol.v2.V2Verdicts;

/**
 * Protocol v2's confirmed circuit as a small graph: heads placed by layer (x) and head (y), an arrow-like
 * rule for each composition sender -> receiver (e.g. previous-token -> induction), its effect and CI on
 * hover. Reads {@code v2/circuit.json} tolerantly: heads under "heads" or "nodes", compositions under
 * "compositions" or "edges", endpoints as "L0H1" strings or {layer, head} objects.
 */
final class CircuitFigure {
    private CircuitFigure() {}

    static Optional<Figure> build(RunFolder run, ProtocolVerdict v2) {
        JsonNode c = run.json(V2Verdicts.CIRCUIT);
        Map<Head, String> roles = new TreeMap<>();
        for (JsonNode n : first(c, "heads", "nodes")) {
            Head h = head(n);
            if (h != null) roles.put(h, text(n, "role"));
        }
        if (roles.isEmpty()) v2.with(HeadVerdict.Outcome.KEPT).forEach(v -> roles.put(v.head(), v.role()));
        List<Map<String, Object>> edges = new ArrayList<>();
        for (JsonNode e : first(c, "compositions", "edges")) {
            Head from = head(firstNode(e, "sender", "from", "source")), to = head(firstNode(e, "receiver", "to", "target"));
            if (from == null || to == null) continue;
            roles.putIfAbsent(from, "");
            roles.putIfAbsent(to, "");
            Map<String, Object> m = new LinkedHashMap<>();
            m.put("from", from.label());
            m.put("to", to.label());
            m.put("x", from.layer());
            m.put("y", from.head());
            m.put("x2", to.layer());
            m.put("y2", to.head());
            m.put("kind", text(e, "kind", "composition", "type"));
            m.put("effect", num(e, "effect"));
            m.put("ci_low", num(e, "ci_low", "effect_ci_low"));
            m.put("ci_high", num(e, "ci_high", "effect_ci_high"));
            edges.add(m);
        }
        if (roles.isEmpty()) return Optional.empty();
        List<Map<String, Object>> nodes = new ArrayList<>();
        roles.forEach((h, role) -> nodes.add(Vl.row("label", h.label(), "layer", h.layer(), "head", h.head(),
                "role", role == null ? "" : role)));
        ObjectNode x = field("layer", "quantitative", "title", "layer", "axis", obj("tickMinStep", 1), "scale", obj("padding", 40));
        ObjectNode y = field("head", "quantitative", "title", "head", "axis", obj("tickMinStep", 1), "scale", obj("padding", 30, "reverse", true));
        List<Object> layers = new ArrayList<>();
        if (!edges.isEmpty())
            layers.add(obj("name", "circuit_edges", "data", Vl.data(edges), "mark", obj("type", "rule", "strokeWidth", 3, "color", "#888"),
                    "encoding", obj("x", field("x", "quantitative"), "y", field("y", "quantitative"), "x2", obj("field", "x2"), "y2", obj("field", "y2"),
                            "tooltip", arr(tip("from", "nominal", "sender"), tip("to", "nominal", "receiver"), tip("kind", "nominal", "composition"),
                                    tip("effect", "quantitative", "effect"), tip("ci_low", "quantitative", "95% CI low"), tip("ci_high", "quantitative", "95% CI high")))));
        layers.add(obj("name", "circuit_nodes", "data", Vl.data(nodes), "mark", obj("type", "point", "filled", true, "size", 600),
                "encoding", obj("x", x, "y", y, "color", field("role", "nominal", "title", "role"),
                        "tooltip", arr(tip("label", "nominal", "head"), tip("role", "nominal", "role")))));
        layers.add(obj("data", Vl.data(nodes), "mark", obj("type", "text", "dy", -20, "fontWeight", "bold"),
                "encoding", obj("x", x, "y", y, "text", obj("field", "label"))));
        ObjectNode spec = obj("$schema", Vl.SCHEMA, "width", 170, "height", 150, "layer", arr(layers.toArray()));
        List<String> marks = edges.isEmpty() ? List.of("circuit_nodes") : List.of("circuit_nodes", "circuit_edges");
        return Optional.of(new Figure("v2-circuit", "Protocol v2", "Protocol v2: the confirmed circuit",
                "Confirmed heads by layer and head; a line joins each composition sender -> receiver (the sender is in the earlier layer); "
                        + "hover for its effect and CI. Source: " + V2Verdicts.CIRCUIT + ".",
                spec, marks, nodes.size() + edges.size()));
    }

    private static Iterable<JsonNode> first(JsonNode c, String... keys) {
        for (String k : keys) if (c.path(k).isArray()) return c.path(k);
        return List.of();
    }

    private static JsonNode firstNode(JsonNode n, String... keys) {
        for (String k : keys) if (!n.path(k).isMissingNode()) return n.path(k);
        return n.path(keys[0]);
    }

    private static Head head(JsonNode n) {
        if (n == null || n.isMissingNode() || n.isNull()) return null;
        if (n.isTextual()) return parse(n.asText());
        if (n.has("layer") && n.has("head") && n.path("head").isNumber()) return new Head(n.path("layer").asInt(), n.path("head").asInt());
        for (String k : List.of("head_id", "head", "label", "name", "id"))
            if (n.path(k).isTextual()) return parse(n.path(k).asText());
        return null;
    }

    private static Head parse(String s) {
        return s.matches("L\\d+H\\d+") ? Head.parse(s) : null;
    }

    private static String text(JsonNode n, String... keys) {
        for (String k : keys) if (n.path(k).isTextual()) return n.path(k).asText();
        return "";
    }

    private static Double num(JsonNode n, String... keys) {
        for (String k : keys) if (n.path(k).isNumber()) return n.path(k).asDouble();
        if (keys[0].startsWith("ci_") && n.path("ci").isArray() && n.path("ci").size() == 2)
            return n.path("ci").get(keys[0].equals("ci_low") ? 0 : 1).asDouble();
        return null;
    }
}
