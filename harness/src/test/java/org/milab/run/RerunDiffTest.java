package org.milab.run;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.milab.lab.LabFixtures;
import org.milab.lab.LabModel;
import org.milab.tables.RunDiff;

import java.nio.file.Path;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;
import org.milab.stage.RunConfig;

/** `make diff` of two runs of one config: identical, with each run's identity reported beside the verdict. */
class RerunDiffTest {
    @Test
    void twoRunsOfTheSameConfigCompareAsIdentical(@TempDir Path root) {
        Path a, b;
        try (LabModel model = LabFixtures.randomWordModel(root, "words", 5)) {
            a = sweep(root, model, "first");
            b = sweep(root, model, "second");
        }
        RunDiff.Result r = RunDiff.diff(a, b);

        assertThat(r.tables()).hasSizeGreaterThan(20);
        assertThat(r.identical()).as(r.render(5)).isTrue();
        assertThat(r.identityA()).containsEntry("run_id", "first").containsKeys("started_utc", "code_git_commit");
        assertThat(r.identityB()).containsEntry("run_id", "second");
        String text = r.render(5);
        assertThat(text).contains("run A: run_id first").contains("run B: run_id second")
                .doesNotContain("provenance").endsWith("Runs are identical. (run identity above is not compared)\n");
    }

    private static Path sweep(Path root, LabModel model, String runId) {
        RunConfig config = new RunConfig("words", runId, List.of(0, 1), 8, List.of(0, 1), 2, 12, 2, List.of(10, 11), 8, 4,
                20, null, RunConfig.FRAME_TL);
        RunContext ctx = new RunContext(root, config, model);
        Pipeline p = new Pipeline(ctx);
        p.sweep();
        p.finish("test " + runId);
        return ctx.finalDir();
    }
}
