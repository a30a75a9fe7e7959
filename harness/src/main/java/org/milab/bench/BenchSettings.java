package org.milab.bench;

import org.milab.lab.EngineFactory;
import org.milab.lab.LabModel;
import org.milab.run.RunContext;
import org.milab.runtime.Device;
import org.milab.runtime.ModelSessions;
import org.milab.stage.RunConfig;

import java.nio.file.Path;

/**
 * What every workload opens: the exported model under {@code root}, ONNX Runtime's intra-op threads (0: one per
 * processor, {@link ModelSessions#intraOpThreads(int)}) and the engine's rows per call. Each workload opens its own model, so one workload's sessions,
 * caches and counters never leak into another's numbers.
 */
public record BenchSettings(Path root, String model, int threads, int batchRows) {
    /** The model with {@code rows} rows per engine call (16 tokens per row of headroom). */
    public LabModel open(int rows) {
        return open(rows, EngineFactory.LOCAL, ModelSessions.Tuning.DEFAULT);
    }

    public LabModel open(int rows, EngineFactory engines, ModelSessions.Tuning tuning) {
        return LabModel.open(root, model, Device.CPU, threads, rows, Math.max(rows, 1) * 16, engines, tuning);
    }

    /** The intra-op threads every session of the bench runs with, and the peer and library ceilings are given. */
    public int resolvedThreads() {
        return ModelSessions.intraOpThreads(threads);
    }

    /** A run context over {@code m} whose run folder is a fresh temporary directory (stages may write there). */
    public RunContext context(LabModel m) {
        return new RunContext(Machine.tempDir("milab-bench"), RunConfig.reference(model, "bench"), m);
    }
}
