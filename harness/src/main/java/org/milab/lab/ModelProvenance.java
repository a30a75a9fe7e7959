package org.milab.lab;

import org.milab.tables.OmitIfNull;
import org.milab.tables.RecordSchema;

import java.util.Map;

/**
 * The model part of every table's and run's provenance: which weights and graphs produced the numbers, on
 * which ONNX Runtime and device. Written as JSON by {@link #toMap} (keys are the components in snake_case, in
 * this order), so readers use the components, not key strings.
 *
 * @param graphSha256 graph variant id to the sha256 of its ONNX file, in the manifests' order
 * @param deviceFallbackReason why the requested device was not used; absent from the JSON when it was
 */
public record ModelProvenance(String modelId, String checkpointSha256, boolean checkpointPinned, String weightsFileSha256,
                              Map<String, String> graphSha256, String exporterGitCommit, String onnxruntimeVersion,
                              String onnxruntimeArtifact, String executionProvider, String deviceRequested,
                              @OmitIfNull String deviceFallbackReason) {
    public ModelProvenance {
        graphSha256 = java.util.Collections.unmodifiableMap(new java.util.LinkedHashMap<>(graphSha256));
    }

    /** The JSON object (an ordered map) written into table metadata and run_manifest.json. */
    public Map<String, Object> toMap() {
        return RecordSchema.treeMap(this);
    }

    /** The same provenance without the device fallback reason (which a resumed run may lose or gain). */
    public ModelProvenance withoutFallbackReason() {
        return new ModelProvenance(modelId, checkpointSha256, checkpointPinned, weightsFileSha256, graphSha256,
                exporterGitCommit, onnxruntimeVersion, onnxruntimeArtifact, executionProvider, deviceRequested, null);
    }
}
