package org.milab.stage;

import org.milab.lab.ModelProvenance;
import org.milab.tables.OmitIfNull;
import org.milab.tables.RecordSchema;

import java.util.List;
import java.util.Map;

/**
 * {@code run_manifest.json}: how a finished run was made. The JSON keys are the components in snake_case, in
 * this order ({@link RecordSchema#tree}); the run config is its own map ({@link RunConfig#toMap}), whose bytes the
 * config hash and resumes depend on.
 *
 * @param schema the manifest format, {@link #SCHEMA}
 * @param hashes the sha256 of registered artefacts (e.g. {@code heldout_candidate_set}) by name
 * @param engine the engine's self-description
 * @param engineCounters the engine's work over the whole run, also steps a resume skipped
 * @param stepSeconds seconds each ledger step took when it last ran
 * @param rowCounts rows of every table written, by path relative to the run folder
 * @param untrackedFiles files a resumed run found and no step wrote; absent when there are none
 */
public record RunManifest(String schema, String command, String runId, String startedUtc, String finishedUtc,
                          double wallSeconds, Map<String, Object> config, ModelProvenance model,
                          Map<String, String> modelManifestSha256, String codeGitCommit, String java, String machine,
                          double decisionTolerance, Map<String, Object> hashes, Map<String, Object> engine,
                          Map<String, Long> engineCounters, Map<String, Double> timingsSeconds,
                          Map<String, Double> stepSeconds, Map<String, Long> rowCounts,
                          @OmitIfNull List<String> untrackedFiles) {
    public static final String SCHEMA = "milab.run_manifest/1";
    public static final String FILE = "run_manifest.json";

    /** The JSON object written to {@link #FILE}. */
    public Map<String, Object> toMap() {
        return RecordSchema.treeMap(this);
    }
}
