package org.milab.spark;

import com.fasterxml.jackson.databind.JsonNode;
import org.milab.graph.GraphVariant;
import org.milab.graph.WeightsLayout;
import org.milab.lab.LabModel;
import org.milab.util.UserError;

import java.io.Serializable;
import java.util.Map;
import java.util.TreeMap;

/**
 * What an executor needs to open the run's model: where the exported graphs are (shared storage), the
 * sha256 the run's manifests give for every file a patched pass reads, and the engine's batch limits.
 *
 * @param sha256  file name in {@code graphDir} -> expected sha256 (patch graphs and weights.bin)
 * @param config  the driver's model config (its record text): the executor's config.json must say the same
 * @param threads ONNX Runtime intra-op threads per executor session (Spark's task cpus)
 */
record GraphSpec(String modelId, String graphDir, Map<String, String> sha256, String config, int maxRows,
                 int maxTokens, String device, int threads) implements Serializable {

    static GraphSpec of(LabModel model, int threads) {
        Map<String, String> sha = new TreeMap<>();
        for (GraphVariant v : GraphVariant.values()) {
            if (v.patchSite().isEmpty()) continue;
            sha.put(WeightsLayout.FILE_NAME, required(model, v, "weights_file_sha256"));
            if (!v.perStartLayer()) {
                sha.put(v.fileName(), required(model, v, "sha256"));
                continue;
            }
            // one file per start layer, each with its own sha256 in the variant's manifest
            for (JsonNode f : model.manifest(v).path("start_layer_graphs"))
                sha.put(f.path("file").asText(), check(model, v, f.path("sha256").asText(""), "start_layer_graphs.sha256"));
            if (sha.keySet().stream().noneMatch(f -> f.startsWith(v.id())))
                throw new UserError("The " + v.id() + " manifest of model '" + model.id() + "' lists no start_layer_graphs.",
                        "Re-run 'make export MODEL=" + model.id() + "'.");
        }
        return new GraphSpec(model.id(), model.layout().graphDir().toString(), sha, model.config().toString(),
                model.maxRows(), model.maxTokens(), model.sessions().execution().requested().id(), threads);
    }

    private static String required(LabModel model, GraphVariant v, String field) {
        return check(model, v, model.manifest(v).path("graph").path(field).asText(""), "graph." + field);
    }

    private static String check(LabModel model, GraphVariant v, String s, String field) {
        if (!s.matches("[0-9a-f]{64}"))
            throw new UserError("The " + v.id() + " manifest of model '" + model.id() + "' has no " + field
                    + ", which Spark executors check their graphs against.",
                    "Re-run 'make export MODEL=" + model.id() + "'.");
        return s;
    }

    /** One cache entry per graph folder and content. */
    String key() {
        return graphDir + '|' + sha256 + '|' + device + '|' + threads;
    }
}
