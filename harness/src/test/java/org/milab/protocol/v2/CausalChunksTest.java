package org.milab.protocol.v2;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.milab.catalog.ModelExports;
import org.milab.cli.Main;
import org.milab.planted.PlantedSpec;
import org.milab.run.StepChunksKillTest;
import org.milab.stage.StepChunks;
import org.milab.tables.RunDiff;
import org.milab.testing.ChildJvm;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Issue 22: v2's causal step keeps its finished groups. A run-v2 in a child JVM is killed (SIGKILL) once the
 * causal step has written at least one chunk; the resumed run reads those chunks back, patches only the rest,
 * and its tables equal an uninterrupted run's; no chunk is left in the finished run.
 */
class CausalChunksTest {
    static final List<String> COUNTS = List.of("--v2-seeds=1,2", "--v2-prompts=4", "--v2-probes=4", "--v2-resamples=1000");

    static List<String> args(Path root, String id, String... more) {
        List<String> a = new ArrayList<>(List.of("run-v2", "--root=" + root, "--model=planted-induction", "--run-id=" + id));
        a.addAll(COUNTS);
        a.addAll(List.of(more));
        return a;
    }

    @Test
    void aKillMidStepResumesFromItsChunksToIdenticalTables(@TempDir Path root) throws Exception {
        ModelExports.exportPlanted(root, PlantedSpec.defaults());
        assertThat(Main.run(args(root, "whole").toArray(String[]::new))).isZero();

        Process child = ChildJvm.start(ChildJvm.command(Main.class.getName(), args(root, "killed")), root);
        Path work = root.resolve("results/killed.incomplete");
        long chunks = 0;
        for (int i = 0; i < 30_000 && child.isAlive() && (chunks = StepChunksKillTest.chunks(work, "v2-causal", ".patches.arrow")) == 0; i++) Thread.sleep(10);
        child.destroyForcibly().waitFor();
        assertThat(chunks).as("the child was killed after the causal step kept a chunk").isPositive();
        assertThat(work.resolve(".steps/v2-causal.json")).as("killed inside the causal step").doesNotExist();

        ByteArrayOutputStream err = new ByteArrayOutputStream();
        PrintStream saved = System.err;
        int code;
        System.setErr(new PrintStream(err, true));
        try {
            code = Main.run(args(root, "killed", "--resume").toArray(String[]::new));
        } finally {
            System.setErr(saved);
        }
        assertThat(code).as(err.toString()).isZero();
        assertThat(err.toString()).as("the resumed step read the kept groups back").containsPattern(
                "v2-causal: [1-9][0-9]* of 10 groups \\(seed x family\\) read back from an interrupted attempt");
        Path killed = root.resolve("results/killed");
        assertThat(killed.resolve(StepChunks.DIR)).as("no chunk is left in the finished run").doesNotExist();
        RunDiff.Result diff = RunDiff.diff(root.resolve("results/whole/v2"), killed.resolve("v2"));
        assertThat(diff.identical()).as(diff.render(20)).isTrue();
    }
}
