package org.milab.stage;

import org.milab.lab.ModelProvenance;
import org.milab.tables.Inline;
import org.milab.tables.RecordSchema;

import java.util.Map;

/**
 * What every table a run writes carries in its {@code milab.provenance} metadata: the run and stage (and seed)
 * that wrote it, the model's provenance (its fields inline, at this level), the code, JVM and machine, the
 * config's hash and the decision tolerance. The JSON keys are the components in snake_case, in this order.
 *
 * @param seed the stage's seed; null (written as null) for a stage without one
 * @param configSha256 sha256 of the run config without its run id (two runs of one config share it)
 */
public record TableProvenance(String runId, String stage, Integer seed, @Inline ModelProvenance model,
                              String codeGitCommit, String java, String machine, String configSha256,
                              double decisionTolerance, String createdUtc) {
    /** The JSON object written into the table's metadata. */
    public Map<String, Object> toMap() {
        return RecordSchema.treeMap(this);
    }
}
