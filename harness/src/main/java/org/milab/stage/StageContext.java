package org.milab.stage;

import org.milab.engine.TokenIds;
import org.milab.lab.LabModel;
import org.milab.tables.ArrowTables;
import org.milab.tables.Table;
import org.milab.tables.TableBuilder;

import java.nio.file.Files;
import java.nio.file.Path;

/**
 * What a stage of a protocol may ask of the run it is part of: the model, the config, its input tables and
 * a place for its outputs. The run ({@code run.RunContext}) implements it; protocols see only this, so they
 * sit below the run that wires them.
 */
public interface StageContext {
    /** The folder the run is written in (relative paths in tables and summaries start here). */
    Path runDir();

    RunConfig config();

    /** The git commit of the code that runs (part of the keys of partial progress). */
    String codeCommit();

    LabModel model();

    /**
     * The step ledger's fingerprint of the step now running (run config, model and graphs, code, the outputs of
     * every earlier step, the step's settings): part of the key of its partial progress ({@link StepChunks});
     * empty outside a step.
     */
    String stepFingerprint();

    /** {@code <run>/<stage>/} or {@code <run>/<stage>/seed<N>/}. */
    Path dir(String stage, Integer seed);

    /** Writes {@code builder}'s table into the stage's folder, with the run's provenance in its metadata. */
    Table write(String stage, Integer seed, TableBuilder builder);

    /** An earlier stage's table; a missing one is a UserError naming the stage to run first. */
    Table read(String stage, Integer seed, String table);

    /** Whether an earlier stage wrote {@code table} (for tables a run may lack: optional stages, older runs). */
    default boolean has(String stage, Integer seed, String table) {
        return Files.isRegularFile(dir(stage, seed).resolve(table + ArrowTables.EXTENSION));
    }

    void writeJson(String stage, Integer seed, String fileName, Object value);

    void writeText(String stage, Integer seed, String fileName, String text);

    /** Records a hash in the run manifest. */
    void recordHash(String key, String sha256);

    /** Records a stage's wall time in the run manifest. */
    void recordTiming(String key, double seconds);

    /** A line (Markdown) for the run's summary.md. */
    void summarize(String markdown);

    /** BOS + tokens of a prompt; a prompt the model cannot read stops the run. */
    TokenIds tokens(String prompt);

    /** The id of a token that must be exactly one token; {@code where} names the record for the error message. */
    int singleToken(String token, String where);
}
