package org.milab.planted;

import org.milab.planted.GroundTruth.HeadTruth;
import org.milab.planted.GroundTruth.Role;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The planted circuit's edges in MIB's naming (node {@code input}, {@code a{l}.h{h}}, {@code logits}; head inputs
 * {@code <q>}, {@code <k>}, {@code <v>}), derived from the head roles and the construction of
 * {@link PlantedInductionModel}: the previous-token head reads positions (q, k) and tokens (v) from the
 * embedding; an induction head (main or backup) reads the current token (q) and the token to copy (v) from the
 * embedding and the previous-token subspace (k) from the previous-token head, and writes the answer to the
 * logits. For grading only: discovery code must never read it.
 *
 * <p>A circuit is relative to a contrast. {@link #edges} are the edges that carry the difference between a clean
 * induction prompt {@code r + r[:-1]} and its corrupt twin {@code s + r[:-1]} (the first copy's tokens change;
 * positions and the final token do not). {@link #structuralOnly} are the mechanism's other edges: the previous-token
 * head's position-reading q and k and the induction head's current-token q carry the same values in both prompts
 * at every position that matters, so no clean/corrupt method can (or should) find them.
 */
public final class EdgeTruth {
    private EdgeTruth() {}

    public static List<String> edges(GroundTruth t) {
        String prev = name(t.head(Role.PREVIOUS_TOKEN));
        List<String> out = new ArrayList<>(List.of("input->" + prev + "<v>"));
        for (HeadTruth h : copiers(t)) {
            String ind = name(h);
            out.addAll(List.of(prev + "->" + ind + "<k>", "input->" + ind + "<v>", ind + "->logits"));
        }
        return out;
    }

    /** The mechanism's edges that carry no clean/corrupt difference in the induction task (see above). */
    public static List<String> structuralOnly(GroundTruth t) {
        String prev = name(t.head(Role.PREVIOUS_TOKEN));
        List<String> out = new ArrayList<>(List.of("input->" + prev + "<q>", "input->" + prev + "<k>"));
        for (HeadTruth h : copiers(t)) out.add("input->" + name(h) + "<q>");
        return out;
    }

    /** The heads that copy the attended token: the main induction head and any backup (package use: the successor model). */
    static List<HeadTruth> copiers(GroundTruth t) {
        List<HeadTruth> out = new ArrayList<>(t.heads(Role.INDUCTION));
        out.addAll(t.heads(Role.BACKUP_INDUCTION));
        return out;
    }

    /** The circuit's nodes (MIB names). */
    public static List<String> nodes(GroundTruth t) {
        List<String> out = new ArrayList<>(List.of("input"));
        for (HeadTruth h : t.heads()) if (h.inCircuit()) out.add(name(h));
        out.add("logits");
        return out;
    }

    /** The manifest entry: nodes and edges. */
    public static Map<String, Object> toMap(GroundTruth t) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("behaviour", "induction (answer = the token after the earlier occurrence of the final token)");
        m.put("nodes", nodes(t));
        m.put("edges", edges(t));
        m.put("edges_note", "edges carrying the clean/corrupt difference of the built-in induction task (clean r + r[:-1], "
                + "corrupt s + r[:-1]); structural_only_edges belong to the mechanism but carry identical values in both prompts");
        m.put("structural_only_edges", structuralOnly(t));
        return m;
    }

    static String name(HeadTruth h) {
        return "a" + h.layer() + ".h" + h.head();
    }
}
