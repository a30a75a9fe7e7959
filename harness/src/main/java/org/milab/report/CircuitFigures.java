package org.milab.report;

import com.fasterxml.jackson.databind.node.ObjectNode;
import org.milab.stage.RunFolder;
import org.milab.stats.Num;
import org.milab.tables.Table;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.milab.report.Vl.arr;
import static org.milab.report.Vl.field;
import static org.milab.report.Vl.obj;
import static org.milab.report.Vl.tip;

/**
 * An edge-level circuit run's two answers ({@code make circuit}, or any run holding {@code circuit/}): the
 * faithfulness curve (faithfulness of the top-k edges by exact patching against circuit size, per ranking, with
 * bootstrap CIs, the threshold line, CPR and CMD in the caption) and the graph of the reported circuit (the
 * smallest EAP-IG circuit keeping the threshold: its nodes by layer, its edges coloured by the input they enter).
 */
final class CircuitFigures {
    private CircuitFigures() {}

    static List<Figure> build(RunFolder run, String section) {
        List<Figure> out = new ArrayList<>();
        Optional<CircuitVerdict> v = CircuitVerdict.read(run);
        if (v.isEmpty()) return out;
        run.table(CircuitVerdict.FAITHFULNESS).ifPresent(t -> out.add(curve(t, v.get(), section)));
        run.table(CircuitVerdict.EDGES).flatMap(t -> graph(t, run, v.get(), section)).ifPresent(out::add);
        return out;
    }

    static Figure curve(Table faith, CircuitVerdict v, String section) {
        List<Map<String, Object>> rows = new ArrayList<>(), ci = new ArrayList<>();
        for (Table.Row r : faith.rows()) {
            Double f = RunFolder.dbl(r, "faithfulness"), lo = RunFolder.dbl(r, "faithfulness_low"), hi = RunFolder.dbl(r, "faithfulness_high");
            if (f == null || !Double.isFinite(f)) continue;
            Map<String, Object> m = Vl.row("method", r.getString("method"), "size", r.getLong("size"), "faithfulness", f,
                    "ci_low", lo, "ci_high", hi, "fraction", RunFolder.dbl(r, "fraction"),
                    "grid", RunFolder.bool(r, "on_grid") ? "declared grid" : "refined near the threshold");
            rows.add(m);
            if (lo != null && hi != null && Double.isFinite(lo) && Double.isFinite(hi)) ci.add(m);
        }
        ObjectNode x = field("size", "quantitative", "title", "circuit size (edges, log scale)", "scale", obj("type", "log", "nice", false));
        ObjectNode y = field("faithfulness", "quantitative", "title", "faithfulness (exact patching)");
        ObjectNode color = field("method", "nominal", "title", "edge ranking");
        List<Object> layers = new ArrayList<>();
        layers.add(obj("data", Vl.data(rows), "transform", arr(obj("filter", "datum.grid == 'declared grid'")),
                "mark", obj("type", "line", "opacity", 0.6), "encoding", obj("x", x, "y", y, "color", color)));
        layers.add(obj("name", "faith_ci", "data", Vl.data(ci), "mark", obj("type", "rule", "opacity", 0.5),
                "encoding", obj("x", x, "y", field("ci_low", "quantitative"), "y2", obj("field", "ci_high"), "color", color)));
        layers.add(obj("name", "faith_points", "data", Vl.data(rows), "mark", obj("type", "point", "filled", true, "size", 40),
                "encoding", obj("x", x, "y", y, "color", color, "shape", field("grid", "nominal", "title", "size"),
                        "tooltip", arr(tip("method", "nominal", "ranking"), tip("size", "quantitative", "edges"),
                                tip("fraction", "quantitative", "fraction of all edges"), tip("faithfulness", "quantitative", "faithfulness"),
                                tip("ci_low", "quantitative", "95% CI low"), tip("ci_high", "quantitative", "95% CI high")))));
        double threshold = v.threshold();
        layers.add(obj("name", "faith_threshold", "data", obj("values", arr(obj("threshold", threshold))),
                "mark", obj("type", "rule", "strokeDash", arr(6, 4), "color", "#333"),
                "encoding", obj("y", field("threshold", "quantitative"), "tooltip", arr(tip("threshold", "quantitative", "threshold")))));
        ObjectNode spec = obj("$schema", Vl.SCHEMA, "width", 300, "height", 190, "layer", arr(layers.toArray()));
        StringBuilder areas = new StringBuilder();
        for (String m : CircuitVerdict.METHODS) {
            if (!v.summary().path(m).isObject()) continue;
            areas.append(m).append(": CPR ").append(CircuitVerdict.interval(v.summary().path(m).path("cpr")))
                    .append(", CMD ").append(CircuitVerdict.interval(v.summary().path(m).path("cmd"))).append(". ");
        }
        return new Figure("circuit-faithfulness", section, "Circuit: faithfulness by size",
                "Faithfulness (m(circuit) - m(corrupt)) / (m(clean) - m(corrupt)) of the top-k edges of each ranking, every edge "
                        + "outside the circuit patched to its corrupt value (exact), with 95% bootstrap CIs over examples; dashed: the threshold "
                        + Num.sig(threshold) + ". " + areas + "Source: " + RunFolder.link(CircuitVerdict.FAITHFULNESS) + ".",
                spec, List.of("faith_points", "faith_ci", "faith_threshold"), rows.size() + ci.size() + 1);
    }

    private static final Pattern HEAD = Pattern.compile("a(\\d+)\\.h(\\d+)"), MLP = Pattern.compile("m(\\d+)");

    /**
     * The reported circuit: nodes in reading order (input, then per layer its heads and its MLP, then logits) on
     * x, heads by index on y; an edge joins its upstream node to the downstream one, coloured by the input it
     * enters (q, k, v of a head, an MLP, the logits), EAP-IG score and exact effect on hover.
     */
    static Optional<Figure> graph(Table edges, RunFolder run, CircuitVerdict v, String section) {
        var cfg = run.json(CircuitVerdict.CIRCUIT_JSON).path("cfg");
        int nLayer = cfg.path("n_layers").asInt(-1), nHead = cfg.path("n_heads").asInt(-1);
        if (nLayer < 0 || nHead < 0) return Optional.empty();
        Map<String, Map<String, Object>> nodes = new LinkedHashMap<>();
        List<Map<String, Object>> lines = new ArrayList<>();
        for (Table.Row r : edges.rows()) {
            if (!RunFolder.bool(r, "in_circuit")) continue;
            String up = r.getString("upstream"), down = r.getString("downstream");
            String downNode = down.replaceAll("<[qkv]>$", "");
            Map<String, Object> a = node(nodes, up, nLayer, nHead), b = node(nodes, downNode, nLayer, nHead);
            String input = down.endsWith(">") ? down.substring(down.length() - 2, down.length() - 1) : downNode.startsWith("m") ? "mlp" : "logits";
            lines.add(Vl.row("edge", r.getString("edge"), "x", a.get("x"), "y", a.get("y"), "x2", b.get("x"), "y2", b.get("y"),
                    "input", input, "eap_ig", RunFolder.dbl(r, "eap_ig_mean"), "eap_ig_low", RunFolder.dbl(r, "eap_ig_low"),
                    "eap_ig_high", RunFolder.dbl(r, "eap_ig_high"), "exact", RunFolder.dbl(r, "exact_effect_mean")));
        }
        if (lines.isEmpty()) return Optional.empty();
        List<Map<String, Object>> nodeRows = new ArrayList<>(nodes.values());
        ObjectNode x = field("x", "quantitative", "axis", Vl.JSON.nullNode(), "title", "input -> layer 0 (heads, MLP) -> ... -> logits",
                "scale", obj("domain", arr(-0.5, 2 * nLayer + 1.5)));
        ObjectNode y = field("y", "quantitative", "title", "head (MLP, input and logits in the middle)",
                "scale", obj("domain", arr(-0.5, nHead - 0.5), "reverse", true), "axis", obj("tickMinStep", 1));
        List<Object> layers = new ArrayList<>();
        layers.add(obj("name", "graph_edges", "data", Vl.data(lines), "mark", obj("type", "rule", "strokeWidth", 2.5, "opacity", 0.75),
                "encoding", obj("x", x, "y", y, "x2", obj("field", "x2"), "y2", obj("field", "y2"),
                        "color", field("input", "nominal", "title", "edge enters", "scale", obj("domain", arr("q", "k", "v", "mlp", "logits"),
                                "range", arr("#1f77b4", "#ff7f0e", "#9467bd", "#17becf", "#2ca02c"))),
                        "tooltip", arr(tip("edge", "nominal", "edge"), tip("eap_ig", "quantitative", "EAP-IG (mean)"),
                                tip("eap_ig_low", "quantitative", "95% CI low"), tip("eap_ig_high", "quantitative", "95% CI high"),
                                tip("exact", "quantitative", "exact single-edge effect")))));
        layers.add(obj("name", "graph_nodes", "data", Vl.data(nodeRows), "mark", obj("type", "point", "filled", true, "size", 260, "color", "#444"),
                "encoding", obj("x", x, "y", y, "tooltip", arr(tip("node", "nominal", "node")))));
        layers.add(obj("data", Vl.data(nodeRows), "mark", obj("type", "text", "dy", -13, "fontSize", 10),
                "encoding", obj("x", x, "y", y, "text", obj("field", "node"))));
        int width = Math.max(220, Math.min(560, (2 * nLayer + 2) * 40)), height = Math.max(150, Math.min(320, nHead * 22));
        ObjectNode spec = obj("$schema", Vl.SCHEMA, "width", width, "height", height, "layer", arr(layers.toArray()));
        var smallest = v.summary().path(CircuitVerdict.RANKING).path("smallest_size_meeting_threshold");
        String size = smallest.isNumber() ? smallest.asInt() + " top-ranked edges" : "no size kept the threshold: every edge";
        return Optional.of(new Figure("circuit-graph", section, "Circuit: the reported edges",
                "The smallest EAP-IG circuit keeping faithfulness >= " + Num.sig(v.threshold()) + " (" + size + "; after pruning edges "
                        + "that cannot change any patched run: " + lines.size() + " edges, " + nodeRows.size() + " nodes). MIB names: a{l}.h{h} heads, "
                        + "m{l} MLPs; colour: the input an edge enters. Sources: " + RunFolder.link(CircuitVerdict.EDGES) + " (in_circuit), "
                        + CircuitVerdict.CIRCUIT_JSON + ".",
                spec, List.of("graph_edges", "graph_nodes"), lines.size() + nodeRows.size()));
    }

    /** A node's place: input at x 0, layer l's heads at 1 + 2l (y = head), its MLP at 2 + 2l, logits last. */
    private static Map<String, Object> node(Map<String, Map<String, Object>> nodes, String name, int nLayer, int nHead) {
        return nodes.computeIfAbsent(name, n -> {
            double mid = (nHead - 1) / 2.0;
            Matcher h = HEAD.matcher(n), m = MLP.matcher(n);
            if (h.matches()) return Vl.row("node", n, "x", 1 + 2 * Integer.parseInt(h.group(1)), "y", Integer.parseInt(h.group(2)));
            if (m.matches()) return Vl.row("node", n, "x", 2 + 2 * Integer.parseInt(m.group(1)), "y", mid);
            return Vl.row("node", n, "x", n.equals("input") ? 0 : 2 * nLayer + 1, "y", mid);
        });
    }
}
