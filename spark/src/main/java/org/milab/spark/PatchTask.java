package org.milab.spark;

import org.apache.spark.TaskContext;
import org.apache.spark.api.java.function.Function;
import org.apache.spark.broadcast.Broadcast;
import org.milab.engine.Capture;
import org.milab.engine.InterventionEngine;
import org.milab.engine.RecomputePath;
import org.milab.engine.PatchRow;
import org.milab.engine.TokenIds;

import java.util.List;
import java.util.Map;

/**
 * Runs one partition on an executor through the local engine's batched code path, on the JVM's cached
 * sessions, and returns its rows as Arrow bytes.
 *
 * @param job           the job's prompts and cached activations (one copy per executor)
 * @param path          the recompute path the driver chose for this request
 *
 * @param failPartition test hook: this partition's first attempt computes half its rows, then fails
 *                      (Spark must retry it; -1 = never)
 */
record PatchTask(GraphSpec graphs, Broadcast<WorkUnit.JobData> job, RecomputePath path, int failPartition)
        implements Function<WorkUnit, byte[]> {
    @Override
    public byte[] call(WorkUnit unit) {
        ExecutorModels.Opened model = ExecutorModels.get(graphs);
        InterventionEngine engine = new InterventionEngine(model.sessions(), model.config(), graphs.maxRows(), graphs.maxTokens());
        WorkUnit.JobData data = job.value();
        List<PatchRow> rows = unit.patchRows(data);
        Map<TokenIds, Capture> kv = data.captures(unit.prompts());
        String label = unit.label() + " [partition " + (unit.id() + 1) + "/" + unit.of() + "]";
        TaskContext task = TaskContext.get();
        if (unit.id() == failPartition && task != null && task.attemptNumber() == 0) {
            engine.patch(unit.site(), rows.subList(0, Math.max(1, rows.size() / 2)), label, kv, path);
            throw new IllegalStateException("test hook: partition " + unit.id() + " of '" + unit.label()
                    + "' failed mid-partition on attempt 0 (task " + task.taskAttemptId() + ")");
        }
        float[][] logits = engine.patch(unit.site(), rows, label, kv, path);
        int[] index = unit.indices();
        int real = (int) java.util.Arrays.stream(index).filter(i -> i >= 0).count(); // pad rows last, dropped
        return ArrowRows.write(java.util.Arrays.copyOf(index, real), java.util.Arrays.copyOf(logits, real), engine.counters());
    }
}
