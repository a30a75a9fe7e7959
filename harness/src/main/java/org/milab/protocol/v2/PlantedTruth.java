package org.milab.protocol.v2;

import com.fasterxml.jackson.databind.JsonNode;
import org.milab.graph.Head;
import org.milab.graph.GraphVariant;
import org.milab.lab.LabModel;

import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;

/**
 * The ground truth a planted model's manifests carry, read ONLY to label outputs (truth_role columns,
 * precision/recall lines); no decision of v2 reads it.
 */
public record PlantedTruth(Map<Head, String> roles, Map<Head, Boolean> inCircuit) {

    public static Optional<PlantedTruth> of(LabModel m) {
        JsonNode heads = m.manifest(GraphVariant.CAPTURE).path("ground_truth").path("heads");
        if (!heads.isArray() || heads.isEmpty()) return Optional.empty();
        Map<Head, String> roles = new TreeMap<>();
        Map<Head, Boolean> in = new TreeMap<>();
        for (JsonNode h : heads) {
            Head head = new Head(h.path("layer").asInt(), h.path("head").asInt());
            roles.put(head, h.path("role").asText().toLowerCase(Locale.ROOT));
            JsonNode c = h.has("in_circuit") ? h.get("in_circuit") : h.path("inCircuit");
            in.put(head, c.asBoolean());
        }
        return Optional.of(new PlantedTruth(roles, in));
    }
}
