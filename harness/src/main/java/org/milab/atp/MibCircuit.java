package org.milab.atp;

import com.fasterxml.jackson.databind.JsonNode;
import org.milab.graph.EdgeNames;
import org.milab.model.ModelConfig;
import org.milab.util.Json;
import org.milab.util.UserError;

import java.io.IOException;
import java.util.Arrays;
import java.util.HashSet;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Set;

/**
 * A circuit as a set of edge indices of an {@link EdgeGraph}: MIB's pruning of dangling edges, and the circuit in
 * MIB's graph JSON ({@code cfg}, {@code nodes {name: {in_graph}}}, {@code edges {name: {score, in_graph}}}), written
 * and read. Shared by the circuit stage ({@code circuit.json}) and the Java API.
 */
public final class MibCircuit {
    private MibCircuit() {}

    /**
     * Prunes as MIB prunes: an edge into a node with no outgoing circuit edge, or out of a node (other than input) with
     * no incoming circuit edge, carries the same value inside and outside the circuit (a node without circuit inputs
     * computes its corrupt output), so removing it leaves every exact patched run unchanged. Repeated until stable.
     */
    public static Set<Integer> prune(Set<Integer> circuit, EdgeGraph all) {
        Set<Integer> out = new HashSet<>(circuit);
        boolean changed = true;
        while (changed) {
            Set<String> feeding = new HashSet<>(), fed = new HashSet<>();
            for (int e : out) {
                EdgeGraph.Edge edge = all.edges().get(e);
                feeding.add(edge.upstreamName());
                fed.add(node(edge));
            }
            changed = out.removeIf(e -> {
                EdgeGraph.Edge edge = all.edges().get(e);
                return !node(edge).equals(EdgeNames.LOGITS) && !feeding.contains(node(edge))
                        || !edge.upstreamName().equals(EdgeNames.INPUT) && !fed.contains(edge.upstreamName());
            });
        }
        return out;
    }

    /** The downstream node of an edge (head inputs without their q/k/v mark). */
    public static String node(EdgeGraph.Edge e) {
        return e.downstream().replaceAll("<[qkv]>$", "");
    }

    /**
     * MIB's graph JSON of {@code circuit}: every node and edge of the graph, in graph order, with {@code in_graph}.
     *
     * @param score one score per edge (written as each edge's {@code score}; a non-finite one as null), or null: none
     */
    public static String json(EdgeGraph graph, double[] score, Set<Integer> circuit) {
        ModelConfig c = graph.config();
        Map<String, Object> cfg = new LinkedHashMap<>();
        cfg.put("n_layers", c.nLayer());
        cfg.put("n_heads", c.nHead());
        cfg.put("parallel_attn_mlp", false);
        cfg.put("d_model", c.dModel());
        Set<String> used = new HashSet<>();
        for (int e : circuit) {
            EdgeGraph.Edge edge = graph.edges().get(e);
            used.add(edge.upstreamName());
            used.add(node(edge));
        }
        Map<String, Object> nodes = new LinkedHashMap<>();
        for (String n : graph.upstreamNames()) nodes.put(n, Map.of("in_graph", used.contains(n)));
        nodes.put(EdgeNames.LOGITS, Map.of("in_graph", true));
        Map<String, Object> edges = new LinkedHashMap<>();
        for (EdgeGraph.Edge e : graph.edges()) {
            Map<String, Object> v = new LinkedHashMap<>();
            v.put("score", score == null || !Double.isFinite(score[e.index()]) ? null : score[e.index()]);
            v.put("in_graph", circuit.contains(e.index()));
            edges.put(e.name(), v);
        }
        Map<String, Object> out = new LinkedHashMap<>();
        out.put("cfg", cfg);
        out.put("nodes", nodes);
        out.put("edges", edges);
        return Json.write(out);
    }

    /** A circuit read from MIB's JSON: its edges, and every edge's score (NaN where the file has none). */
    public record Read(Set<Integer> edges, double[] scores) {}

    /**
     * Reads MIB's graph JSON for {@code graph}'s model: {@code cfg.n_layers} and {@code cfg.n_heads} must match, every
     * edge named must be one of the graph's ({@code input->a0.h1<q>} ...), an edge absent from the file is outside the
     * circuit. Node entries are not needed (the edges define the circuit) and are not read.
     *
     * @param where names the source in messages
     * @throws UserError for invalid JSON, another model's graph, an unknown edge or a missing {@code in_graph}
     */
    public static Read read(String json, EdgeGraph graph, String where) {
        JsonNode root;
        try {
            root = Json.MAPPER.readTree(json);
        } catch (IOException e) {
            throw new UserError("Circuit " + where + " is not valid JSON (" + e.getMessage().lines().findFirst().orElse("") + ").",
                    "Pass a circuit file in MIB's graph JSON format (cfg, nodes, edges).", e);
        }
        String fix = "Pass a circuit of this model (" + graph.config().nLayer() + " layers, " + graph.config().nHead() + " heads) in MIB's "
                + "graph JSON: {\"cfg\": {\"n_layers\", \"n_heads\"}, \"edges\": {\"a0.h1->a1.h2<k>\": {\"score\": 0.5, \"in_graph\": true}}}.";
        if (root == null || !root.path("edges").isObject() || !root.path("cfg").isObject())
            throw new UserError("Circuit " + where + " has no 'cfg' and 'edges' objects.", fix);
        int layers = root.path("cfg").path("n_layers").asInt(-1), heads = root.path("cfg").path("n_heads").asInt(-1);
        if (layers != graph.config().nLayer() || heads != graph.config().nHead())
            throw new UserError("Circuit " + where + " is for a model of " + layers + " layers and " + heads + " heads, not this one's "
                    + graph.config().nLayer() + " and " + graph.config().nHead() + ".", fix);
        Map<String, Integer> index = new LinkedHashMap<>();
        for (EdgeGraph.Edge e : graph.edges()) index.put(e.name(), e.index());
        Set<Integer> in = new HashSet<>();
        double[] scores = new double[graph.size()];
        Arrays.fill(scores, Double.NaN);
        for (Iterator<Map.Entry<String, JsonNode>> it = root.get("edges").fields(); it.hasNext(); ) {
            Map.Entry<String, JsonNode> e = it.next();
            Integer i = index.get(e.getKey());
            if (i == null) throw new UserError("Circuit " + where + " names edge '" + e.getKey() + "', which this model's graph does not have.", fix);
            JsonNode inGraph = e.getValue().path("in_graph");
            if (!inGraph.isBoolean()) throw new UserError("Circuit " + where + ": edge '" + e.getKey() + "' has no boolean 'in_graph'.", fix);
            if (inGraph.asBoolean()) in.add(i);
            if (e.getValue().path("score").isNumber()) scores[i] = e.getValue().get("score").asDouble();
        }
        return new Read(in, scores);
    }
}
