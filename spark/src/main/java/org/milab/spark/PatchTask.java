package org.milab.spark;

import org.apache.spark.TaskContext;
import org.apache.spark.api.java.function.Function;
import org.apache.spark.broadcast.Broadcast;
import org.milab.engine.Capture;
import org.milab.engine.InterventionEngine;
import org.milab.engine.RecomputePath;
import org.milab.engine.PatchRow;
import org.milab.engine.ResumePlan;
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
            run(engine, unit, rows, kv, label, true);
            throw new IllegalStateException("test hook: partition " + unit.id() + " of '" + unit.label()
                    + "' failed mid-partition on attempt 0 (task " + task.taskAttemptId() + ")");
        }
        float[][] logits = run(engine, unit, rows, kv, label, false);
        return ArrowRows.write(unit.indices(), logits, engine.counters());
    }

    /**
     * The partition's rows through the engine: on the resuming paths as exactly the job's calls over caches of the
     * job's widths (the unit's plan), else as the engine batches them (the partition's rows make the job's calls).
     * {@code half}: only about the first half of the rows (whole calls on the resuming paths).
     */
    private float[][] run(InterventionEngine engine, WorkUnit unit, List<PatchRow> rows, Map<TokenIds, Capture> kv,
                          String label, boolean half) {
        ResumePlan plan = unit.plan();
        if (plan == null)
            return engine.patch(unit.site(), half ? rows.subList(0, Math.max(1, rows.size() / 2)) : rows, label, kv, path);
        if (half) { // the unit's rows are its calls' rows in call order: the first calls cover a prefix of them
            List<ResumePlan.Call> calls = plan.calls().subList(0, Math.max(1, plan.calls().size() / 2));
            int n = calls.stream().mapToInt(c -> c.rows().length).sum();
            plan = new ResumePlan(calls, plan.cacheWidth(), plan.pastWidth());
            rows = rows.subList(0, n);
        }
        return engine.patchPlanned(rows, plan, label, kv, path);
    }
}
