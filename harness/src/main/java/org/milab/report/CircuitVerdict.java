package org.milab.report;

import com.fasterxml.jackson.databind.JsonNode;
import org.milab.circuit.CircuitStage;
import org.milab.stage.RunFolder;
import org.milab.stats.Num;

import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/**
 * What a circuit run ({@code make circuit}) concluded, read from {@code circuit/circuit_summary.json}: per edge
 * ranking (EAP, EAP-IG) the area measures CPR and CMD and the smallest circuit keeping the threshold, each with
 * its bootstrap CI. The verdict lines and the report's circuit figures say the same numbers.
 */
public record CircuitVerdict(JsonNode summary) {
    static final String SUMMARY = CircuitStage.DIR + "/circuit_summary.json";
    static final String FAITHFULNESS = CircuitStage.DIR + "/faithfulness";
    static final String EDGES = CircuitStage.DIR + "/edges";
    static final String CIRCUIT_JSON = CircuitStage.DIR + "/circuit.json";
    /** The ranking the reported circuit is cut from (CircuitStage.RANKING). */
    static final String RANKING = "eap_ig";
    static final List<String> METHODS = List.of("eap", "eap_ig");

    static Optional<CircuitVerdict> read(RunFolder run) {
        JsonNode s = run.json(SUMMARY);
        return s.isObject() ? Optional.of(new CircuitVerdict(s)) : Optional.empty();
    }

    double threshold() {
        return summary.path("threshold").asDouble(Double.NaN);
    }

    /** The verdict lines (Markdown, as VerdictMarkdown's): the reported circuit first, then each ranking's areas. */
    List<String> lines() {
        List<String> out = new ArrayList<>();
        JsonNode ig = summary.path(RANKING);
        String smallest = ig.path("smallest_size_meeting_threshold").isNumber()
                ? ig.path("smallest_size_meeting_threshold").asInt() + " edges (faithfulness " + interval(ig.path("smallest_faithfulness")) + ")"
                : "none of the measured sizes";
        out.add("- **circuit** (task `" + summary.path("task").asText("?") + "`, metric " + summary.path("metric").asText("?") + ", "
                + summary.path("examples").asInt() + " examples, " + summary.path("edges").asInt() + " edges): the smallest EAP-IG circuit "
                + "keeping faithfulness >= " + Num.sig(threshold()) + " has " + smallest + " ([faithfulness](" + RunFolder.link(FAITHFULNESS)
                + "), [edges](" + RunFolder.link(EDGES) + "), [circuit.json](" + CIRCUIT_JSON + ")).");
        StringBuilder areas = new StringBuilder("  - ");
        for (String m : METHODS) {
            JsonNode x = summary.path(m);
            if (!x.isObject()) continue;
            if (areas.length() > 4) areas.append("; ");
            areas.append(m).append(": CPR ").append(interval(x.path("cpr"))).append(", CMD ").append(interval(x.path("cmd")))
                    .append(", Spearman with exact single-edge effects ").append(interval(x.path("spearman_with_exact")));
        }
        out.add(areas.append(" (95% bootstrap CIs over examples).").toString());
        return out;
    }

    /** "0.9704 [0.95, 0.99]" from {estimate, low, high}; "n/a" for a missing one. */
    static String interval(JsonNode i) {
        if (!i.isObject()) return "n/a";
        return Num.sig(num(i.path("estimate"))) + " [" + Num.sig(num(i.path("low"))) + ", " + Num.sig(num(i.path("high"))) + "]";
    }

    private static Double num(JsonNode n) {
        return n.isNumber() ? n.asDouble() : null;
    }
}
