package org.milab.report;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;

import java.util.Collection;
import java.util.List;
import java.util.Map;
import org.milab.util.Json;

/** Terse construction of Vega-Lite specs as Jackson trees: {@code obj("mark", "rect", "encoding", obj(...))}. */
final class Vl {
    static final ObjectMapper JSON = Json.MAPPER;
    static final String SCHEMA = "https://vega.github.io/schema/vega-lite/v6.json";

    private Vl() {}

    /** An object from alternating keys and values; null values are left out. */
    static ObjectNode obj(Object... kv) {
        ObjectNode o = JSON.createObjectNode();
        for (int i = 0; i < kv.length; i += 2) {
            if (kv[i + 1] == null) continue;
            o.set((String) kv[i], tree(kv[i + 1]));
        }
        return o;
    }

    /**
     * A data row from alternating keys and values, in that order (never {@code Map.of}: its order changes from
     * one JVM to the next, and report.html must come out byte-identical).
     */
    static java.util.Map<String, Object> row(Object... kv) {
        java.util.Map<String, Object> m = new java.util.LinkedHashMap<>();
        for (int i = 0; i < kv.length; i += 2) m.put((String) kv[i], kv[i + 1]);
        return m;
    }

    static ArrayNode arr(Object... items) {
        ArrayNode a = JSON.createArrayNode();
        for (Object it : items) a.add(tree(it));
        return a;
    }

    static ArrayNode arrOf(Collection<?> items) {
        return arr(items.toArray());
    }

    static JsonNode tree(Object v) {
        if (v instanceof JsonNode n) return n;
        if (v instanceof Collection<?> c) return arrOf(c);
        if (v instanceof Double d && (d.isNaN() || d.isInfinite())) return JSON.nullNode();
        return JSON.valueToTree(v);
    }

    /** Inline data rows. */
    static ObjectNode data(List<? extends Map<String, ?>> rows) {
        return obj("values", JSON.valueToTree(rows));
    }

    static ObjectNode field(String name, String type, Object... extra) {
        ObjectNode o = obj("field", name, "type", type);
        o.setAll(obj(extra));
        return o;
    }

    /** A tooltip entry: field, type, title, and a d3 format for numbers. */
    static ObjectNode tip(String name, String type, String title) {
        return obj("field", name, "type", type, "title", title, "format", type.equals("quantitative") ? ".4~g" : null);
    }

    /** A diverging scale centred at 0 with a symmetric domain (red negative, white 0, blue positive). */
    static ObjectNode diverging(double maxAbs) {
        double m = maxAbs > 0 && Double.isFinite(maxAbs) ? maxAbs : 1.0;
        return obj("scheme", "redblue", "domain", arr(-m, m), "domainMid", 0);
    }
}
