package org.milab.circuit;

import org.milab.atp.TaskMetric;

/**
 * A circuit task's metric, by the task file's name: the computation is {@link TaskMetric} (in {@code org.milab.atp},
 * below the Java API, whose faithfulness calls use the same one); this binds it to a {@link TokenPair}.
 */
public enum CircuitMetric {
    LOGIT_DIFF(TaskMetric.LOGIT_DIFF), LOG_PROB(TaskMetric.LOG_PROB), KL(TaskMetric.KL);

    private final TaskMetric core;

    CircuitMetric(TaskMetric core) {
        this.core = core;
    }

    public String id() {
        return core.id();
    }

    /** The computation itself. */
    public TaskMetric core() {
        return core;
    }

    public static CircuitMetric parse(String s) {
        return valueOf(TaskMetric.parse(s).name());
    }

    /** The metric of a run with final logits {@code logits}; {@code clean} is the clean run's (used by KL only). */
    public double of(float[] logits, float[] clean, TokenPair p) {
        return core.of(logits, clean, p.answer(), p.contrast());
    }
}
