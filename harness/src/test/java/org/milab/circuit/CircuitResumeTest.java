package org.milab.circuit;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.milab.catalog.ModelExports;
import org.milab.cli.Main;
import org.milab.planted.PlantedSpec;
import org.milab.tables.RunDiff;
import org.milab.testing.ChildJvm;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * Issues 18 and 22: a circuit run is resumable like every run. One killed (SIGKILL, in a child JVM) as soon as its
 * run folder exists, before its circuit step finished, resumes with --resume to tables identical to an
 * uninterrupted run's; a finished run is verified and left alone; without --resume it is never overwritten.
 */
class CircuitResumeTest {
    static List<String> args(Path root, String id, String... more) {
        List<String> a = new ArrayList<>(List.of("circuit", "--root=" + root, "--model=planted-induction", "--task=induction",
                "--examples=8", "--run-id=" + id));
        a.addAll(List.of(more));
        return a;
    }

    static int run(List<String> args, StringWriter err) {
        return Main.run(new PrintWriter(err, true), args.toArray(String[]::new));
    }

    @Test
    void aKilledCircuitRunResumesToIdenticalTables(@TempDir Path root) throws Exception {
        ModelExports.exportPlanted(root, PlantedSpec.defaults());
        StringWriter err = new StringWriter();
        assertThat(run(args(root, "whole"), err)).as(err.toString()).isZero();

        Process child = ChildJvm.start(ChildJvm.command(Main.class.getName(), args(root, "killed")), root);
        Path work = root.resolve("results/killed.incomplete");
        for (int i = 0; i < 30_000 && child.isAlive() && !Files.isDirectory(work); i++) Thread.sleep(10);
        child.destroyForcibly().waitFor();
        assertThat(work).as("the child was killed before it finished").isDirectory();
        assertThat(work.resolve(".steps/circuit.json")).as("killed before its circuit step finished").doesNotExist();

        err = new StringWriter();
        assertThat(run(args(root, "killed", "--resume"), err)).as(err.toString()).isZero();
        RunDiff.Result diff = RunDiff.diff(root.resolve("results/whole/circuit"), root.resolve("results/killed/circuit"));
        assertThat(diff.identical()).as(diff.render(20)).isTrue();

        err = new StringWriter();
        assertThat(run(args(root, "killed", "--resume"), err)).as("a finished run is verified, nothing recomputed: " + err).isZero();
        err = new StringWriter();
        assertThat(run(args(root, "killed"), err)).isEqualTo(Main.USER_ERROR);
        assertThat(err.toString()).contains("a run never overwrites another run's outputs");
    }
}
