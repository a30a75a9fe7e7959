package org.milab.spark;

import org.apache.spark.SparkEnv;
import org.milab.model.ModelConfig;
import org.milab.runtime.Device;
import org.milab.runtime.ModelSessions;
import org.milab.util.Hashing;
import org.milab.util.UserError;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Iterator;
import java.util.Map;

/**
 * The ONNX Runtime sessions of an executor JVM: opened once per model (graph folder and content) and
 * reused by every task that JVM runs, after checking each file against the sha256 the run's manifests give.
 */
final class ExecutorModels {
    record Opened(ModelSessions sessions, ModelConfig config) {}

    private static final Map<String, Opened> OPEN = new HashMap<>();

    private ExecutorModels() {}

    static synchronized Opened get(GraphSpec spec) {
        Opened o = OPEN.get(spec.key());
        if (o != null) return o;
        Path dir = Path.of(spec.graphDir());
        verify(spec, dir);
        ModelConfig cfg = ModelConfig.read(dir.resolve("config.json"));
        if (!cfg.toString().equals(spec.config()))
            throw new UserError(where() + dir.resolve("config.json") + " describes another model (" + cfg
                    + ") than the driver's (" + spec.config() + ").", fix(spec));
        // a re-export into the same folder replaces the old sessions
        for (Iterator<Map.Entry<String, Opened>> it = OPEN.entrySet().iterator(); it.hasNext(); ) {
            Map.Entry<String, Opened> e = it.next();
            if (e.getKey().startsWith(spec.graphDir() + '|')) {
                e.getValue().sessions().close();
                it.remove();
            }
        }
        o = new Opened(ModelSessions.open(dir, Device.parse(spec.device()), spec.threads()), cfg);
        OPEN.put(spec.key(), o);
        return o;
    }

    /** Every file a patched pass reads exists and has the manifest's sha256, or the task fails saying which does not. */
    private static void verify(GraphSpec spec, Path dir) {
        for (Map.Entry<String, String> e : spec.sha256().entrySet()) {
            Path f = dir.resolve(e.getKey());
            if (!Files.isRegularFile(f))
                throw new UserError(where() + "graph file " + f + " of model '" + spec.modelId() + "' is missing.", fix(spec));
            String actual = Hashing.sha256(f);
            if (!actual.equals(e.getValue()))
                throw new UserError(where() + "graph file " + f + " has sha256 " + actual + ", but the run's manifest "
                        + "for model '" + spec.modelId() + "' says " + e.getValue() + ".", fix(spec));
        }
    }

    private static String where() {
        SparkEnv env = SparkEnv.get();
        return "Spark executor " + (env == null ? "?" : env.executorId()) + ": ";
    }

    private static String fix(GraphSpec spec) {
        return "Every executor must read the exported graphs the run's manifests describe, at the same path: put "
                + spec.graphDir() + " on storage all executors share (or copy it there unchanged), or re-run "
                + "'make export MODEL=" + spec.modelId() + "' and start the run again.";
    }

    /** Closes every cached session (a local master's executors live in the driver JVM). */
    static synchronized void closeAll() {
        OPEN.values().forEach(o -> o.sessions().close());
        OPEN.clear();
    }
}
